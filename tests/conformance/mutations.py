"""Misbehaviours for the relay (relay.py): each turns the correct target into one with a
single defect, and names the checks that must then fail. Together they cover every
lower-layer check (test_conformance_negative_relay.py asserts that).

A mutation is fn(direction, raw) -> [(direction, raw)]; see relay.py.
"""

import socket
import struct
import time

from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether

from ethox_uk.conformance import wire

TARGET_IP = "10.0.2.15"
TARGET_MAC = "52:54:00:12:34:56"
PEER_IP = "10.0.2.2"
ECHO = 7


# -- raw helpers ------------------------------------------------------------------------

def is_ip(raw):
    return len(raw) >= 34 and raw[12:14] == b"\x08\x00"


def is_arp(raw):
    return raw[12:14] == b"\x08\x06"


def ihl(raw):
    return (raw[14] & 15) * 4


def l4(raw):
    return 14 + ihl(raw)


def fragmented(raw):
    return bool((raw[20] << 8 | raw[21]) & 0x3FFF)


def total(raw):
    return raw[16] << 8 | raw[17]


def fix_ip(b):
    b[24:26] = b"\0\0"
    struct.pack_into("!H", b, 24, wire.inet_checksum(bytes(b[14:14 + max(ihl(b), 20)])))


def fix_icmp(b):
    o, end = l4(b), 14 + total(b)
    b[o + 2:o + 4] = b"\0\0"
    struct.pack_into("!H", b, o + 2, wire.inet_checksum(bytes(b[o:end])))


def fix_udp(b, force=False):
    o, end = l4(b), 14 + total(b)
    if b[o + 6:o + 8] == b"\0\0" and not force:
        return
    ulen = min(b[o + 4] << 8 | b[o + 5], end - o)
    b[o + 6:o + 8] = b"\0\0"
    ps = wire.inet_sum(bytes(b[26:34]) + struct.pack("!BBH", 0, 17, ulen))
    struct.pack_into("!H", b, o + 6, wire.inet_checksum(bytes(b[o:o + ulen]), ps) or 0xFFFF)


def ip_of(raw, off):
    return socket.inet_ntoa(bytes(raw[off:off + 4]))


def icmp_error_about(raw, icmp_type, code):
    """An ICMP error from the target about the datagram in frame `raw`."""
    src_mac = ":".join("%02x" % x for x in raw[6:12])
    quote = bytes(raw[14:l4(raw) + 8])
    return bytes(Ether(dst=src_mac, src=TARGET_MAC)
                 / IP(src=TARGET_IP, dst=ip_of(raw, 26)) / ICMP(type=icmp_type, code=code)
                 / quote)


def mutate_in(pred, change):
    """Frames towards the target for which pred(raw) holds are changed by change(buf)."""
    def fn(direction, raw):
        if direction == "in" and pred(raw):
            b = bytearray(raw)
            change(b)
            return [(direction, bytes(b))]
        return [(direction, raw)]
    return fn


def mutate_out(pred, change):
    def fn(direction, raw):
        if direction == "out" and pred(raw):
            b = bytearray(raw)
            change(b)
            return [(direction, bytes(b))]
        return [(direction, raw)]
    return fn


def drop(direction_wanted, pred):
    def fn(direction, raw):
        if direction == direction_wanted and pred(raw):
            return []
        return [(direction, raw)]
    return fn


def inject(pred, make):
    """For frames towards the target with pred(raw): pass them on AND send make(raw) back."""
    def fn(direction, raw):
        out = [(direction, raw)]
        if direction == "in" and pred(raw):
            extra = make(raw)
            if extra is not None:
                out.append(("out", extra))
        return out
    return fn


def is_echo_reply(raw):
    return is_ip(raw) and raw[23] == 1 and not fragmented(raw) and raw[l4(raw)] == 0


def is_udp_from_echo(raw):
    return (is_ip(raw) and raw[23] == 17 and not fragmented(raw)
            and raw[l4(raw):l4(raw) + 2] == b"\x00\x07")


# -- the mutations ----------------------------------------------------------------------

def _fix_ip_checksum():
    return mutate_in(lambda r: is_ip(r) and r[14] >> 4 == 4 and ihl(r) >= 20, fix_ip)


def _fix_icmp_checksum():
    return mutate_in(lambda r: is_ip(r) and r[23] == 1 and not fragmented(r)
                     and total(r) <= len(r) - 14, fix_icmp)


def _fix_udp_checksum():
    return mutate_in(lambda r: is_ip(r) and r[23] == 17 and not fragmented(r), fix_udp)


def _version_to_4():
    def ch(b):
        b[14] = 0x40 | (b[14] & 15)
        fix_ip(b)
    return mutate_in(lambda r: is_ip(r) and r[14] >> 4 != 4, ch)


def _ihl_to_5():
    def ch(b):
        b[14] = 0x45
        fix_ip(b)
    return mutate_in(lambda r: is_ip(r) and (r[14] & 15) < 5, ch)


def _fix_total_length():
    def ch(b):
        struct.pack_into("!H", b, 16, len(b) - 14)
        fix_ip(b)
    return mutate_in(lambda r: is_ip(r) and total(r) != len(r) - 14, ch)


def _drop_options():
    return drop("in", lambda r: is_ip(r) and ihl(r) > 20)


def _repair_options():
    def ch(b):
        b[34:l4(b)] = b"\x01" * (l4(b) - 34)
        fix_ip(b)
    return mutate_in(lambda r: is_ip(r) and ihl(r) > 20, ch)


def _reply_ttl_1():
    def ch(b):
        b[22] = 1
        fix_ip(b)
    return mutate_out(is_ip, ch)


def _drop_ttl_1():
    return drop("in", lambda r: is_ip(r) and r[22] <= 1)


def _bad_reply_ip_checksum():
    def ch(b):
        b[24] ^= 0x55
    return mutate_out(is_echo_reply, ch)


def _constant_reply_id():
    def ch(b):
        b[18:20] = b"\x42\x42"
        b[20] &= 0xBF  # DF clear
        fix_ip(b)
    return mutate_out(is_echo_reply, ch)


def _drop_df():
    return drop("in", lambda r: is_ip(r) and r[20] & 0x40)


def _drop_fragments():
    return drop("in", lambda r: is_ip(r) and fragmented(r))


def _naive_reassembly():
    """Reassemble on the target's behalf: later data wins over overlaps, holes become zeros
    once the first and the last fragment are there, the ICMP checksum is then refreshed (a
    stack that neither checks overlaps nor waits for every piece)."""
    held = {}

    def fn(direction, raw):
        if direction != "in" or not is_ip(raw) or not fragmented(raw):
            return [(direction, raw)]
        key = (raw[26:34], raw[18:20], raw[23])
        e = held.setdefault(key, {"data": bytearray(), "first": None, "end": None})
        fo = raw[20] << 8 | raw[21]
        off, more = (fo & 0x1FFF) * 8, fo & 0x2000
        chunk = raw[l4(raw):14 + total(raw)]
        if len(e["data"]) < off + len(chunk):
            e["data"].extend(bytes(off + len(chunk) - len(e["data"])))
        e["data"][off:off + len(chunk)] = chunk
        if off == 0:
            e["first"] = bytearray(raw[:l4(raw)])
        if not more:
            e["end"] = off + len(chunk)
        if e["first"] is None or e["end"] is None or e["end"] + len(e["first"]) > 1514:
            return []
        del held[key]
        b = e["first"] + e["data"][:e["end"]]
        struct.pack_into("!H", b, 16, len(b) - 14)
        b[20:22] = b"\0\0"
        fix_ip(b)
        if b[23] == 1:
            fix_icmp(b)
        return [("in", bytes(b))]
    return fn


def _accept_any_source():
    def bad(r):
        if not is_ip(r):
            return False
        s = r[26:30]
        return s[0] >= 224 or s[0] == 127 or s == b"\x0a\x00\x02\xff"

    def ch(b):
        b[26:30] = socket.inet_aton(PEER_IP)
        fix_ip(b)
    return mutate_in(bad, ch)


def _accept_any_destination():
    def other(r):
        if not is_ip(r):
            return False
        d = ip_of(r, 30)
        return d.startswith("10.0.2.") and d not in (TARGET_IP, "10.0.2.255")

    def ch(b):
        b[30:34] = socket.inet_aton(TARGET_IP)
        fix_ip(b)
    return mutate_in(other, ch)


def _bad_quote():
    def ch(b):
        b[l4(b) + 8 + 8] ^= 0x01  # the quoted TTL
        fix_icmp(b)
    return mutate_out(lambda r: is_ip(r) and r[23] == 1 and r[l4(r)] == 3, ch)


def _corrupt_echo_data():
    def ch(b):
        end = 14 + total(b)
        if end > l4(b) + 8:
            b[end - 1] ^= 0x20
            fix_icmp(b)
    return mutate_out(is_echo_reply, ch)


def _bad_odd_checksum():
    def ch(b):
        o = l4(b)
        b[o + 3] ^= 0x01
    return mutate_out(lambda r: is_echo_reply(r) and (total(r) - ihl(r)) % 2 == 1, ch)


def _drop_echo_reply_seq_7():
    return drop("out", lambda r: is_echo_reply(r) and r[l4(r) + 6:l4(r) + 8] == b"\x00\x07")


def _errors_about_everything():
    def make(r):
        if not is_ip(r):
            return None
        p = r[23]
        if p == 1 and r[l4(r)] != 8:
            return icmp_error_about(r, 12, 0)
        if p not in (1, 6, 17):
            return icmp_error_about(r, 3, 2)
        if p == 17 and (fragmented(r) or r[l4(r) + 2:l4(r) + 4] != b"\x00\x07"):
            return icmp_error_about(r, 3, 3)
        return None
    return inject(lambda r: True, make)


def _broadcast_reply_source():
    def make(r):
        if not is_ip(r) or r[30:34] != b"\x0a\x00\x02\xff" or fragmented(r):
            return None
        p = Ether(r)
        if ICMP in p and p[ICMP].type == 8:
            rep = IP(src="10.0.2.255", dst=p[IP].src) / ICMP(type=0, id=p[ICMP].id,
                                                            seq=p[ICMP].seq) / bytes(
                p[ICMP].payload)
        elif UDP in p and p[UDP].dport == ECHO:
            rep = IP(src="10.0.2.255", dst=p[IP].src) / UDP(sport=ECHO, dport=p[UDP].sport) / \
                bytes(p[UDP].payload)
        else:
            return None
        return bytes(Ether(dst=p.src, src=TARGET_MAC) / rep)
    return inject(lambda r: True, make)


def _corrupt_udp_echo():
    def ch(b):
        end = 14 + total(b)
        if end > l4(b) + 8:
            b[end - 1] ^= 0x20
            fix_udp(b)
    return mutate_out(is_udp_from_echo, ch)


def _drop_zero_udp_checksum():
    return drop("in", lambda r: is_ip(r) and r[23] == 17 and not fragmented(r)
                and r[l4(r) + 6:l4(r) + 8] == b"\0\0")


def _zero_udp_checksum_out():
    def ch(b):
        b[l4(b) + 6:l4(b) + 8] = b"\0\0"
    return mutate_out(is_udp_from_echo, ch)


def _ffff_to_zero():
    def ch(b):
        if b[l4(b) + 6:l4(b) + 8] == b"\xff\xff":
            b[l4(b) + 6:l4(b) + 8] = b"\0\0"
    return mutate_out(is_udp_from_echo, ch)


def _drop_icmp_errors():
    return drop("out", lambda r: is_ip(r) and r[23] == 1 and r[l4(r)] == 3)


def _fix_udp_length():
    def ch(b):
        o = l4(b)
        struct.pack_into("!H", b, o + 4, 14 + total(b) - o)
        fix_udp(b)
    return mutate_in(lambda r: is_ip(r) and r[23] == 17 and not fragmented(r)
                     and (r[l4(r) + 4] << 8 | r[l4(r) + 5]) != total(r) - ihl(r), ch)


def _arp_bad_tha():
    def ch(b):
        b[32:38] = bytes(6)
    return mutate_out(lambda r: is_arp(r) and r[20:22] == b"\x00\x02", ch)


def _drop_unicast_arp():
    return drop("in", lambda r: is_arp(r) and not r[0] & 1)


def _drop_arp_probe():
    return drop("in", lambda r: is_arp(r) and r[28:32] == bytes(4))


def _arp_reply_for(r, claimed_ip):
    return bytes(Ether(dst=":".join("%02x" % x for x in r[6:12]), src=TARGET_MAC)
                 / ARP(op=2, hwsrc=TARGET_MAC, psrc=claimed_ip,
                       hwdst=":".join("%02x" % x for x in r[22:28]), pdst=ip_of(r, 28)))


def _proxy_arp():
    return inject(lambda r: is_arp(r) and len(r) >= 42 and r[20:22] == b"\x00\x01"
                  and ip_of(r, 38) != TARGET_IP and ip_of(r, 38) != ip_of(r, 28),
                  lambda r: _arp_reply_for(r, ip_of(r, 38)))


def _answer_arp_replies():
    return inject(lambda r: is_arp(r) and len(r) >= 42 and r[20:22] == b"\x00\x02",
                  lambda r: _arp_reply_for(r, TARGET_IP))


def _arp_first_mac_sticks():
    seen = {}

    def fn(direction, raw):
        if direction == "in" and is_arp(raw) and len(raw) >= 42:
            spa, sha = bytes(raw[28:32]), bytes(raw[22:28])
            if spa == raw[38:42]:
                return []  # gratuitous: ignored
            if spa != bytes(4) and seen.setdefault(spa, sha) != sha:
                return []  # a new MAC for a known address: ignored
        return [(direction, raw)]
    return fn


def _answer_malformed_arp():
    def malformed(r):
        if not is_arp(r):
            return False
        if len(r) < 42:
            return True
        htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", r[14:22])
        return (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4) or op not in (1, 2)
    return inject(malformed, lambda r: _arp_reply_for(r + bytes(42), TARGET_IP))


# name -> (factory, checks that must fail under it)
MUTATIONS = {
    "fix_ip_checksum": (_fix_ip_checksum, ["ipv4.bad_header_checksum_dropped"]),
    "fix_icmp_checksum": (_fix_icmp_checksum, ["icmp.bad_checksum_dropped"]),
    "fix_udp_checksum": (_fix_udp_checksum, ["udp.bad_checksum_dropped"]),
    "version_to_4": (_version_to_4, ["ipv4.bad_version_dropped"]),
    "ihl_to_5": (_ihl_to_5, ["ipv4.ihl_below_5_dropped"]),
    "fix_total_length": (_fix_total_length, ["ipv4.total_length_past_frame_dropped",
                                             "ipv4.total_length_below_header_dropped",
                                             "ipv4.link_padding_ignored"]),
    "drop_options": (_drop_options, ["ipv4.options_nop_eol_accepted",
                                     "ipv4.options_record_route_echo",
                                     "ipv4.options_unknown_ignored"]),
    "repair_options": (_repair_options, ["ipv4.options_malformed_not_answered"]),
    "reply_ttl_1": (_reply_ttl_1, ["ipv4.ttl_one_accepted", "ipv4.reply_ttl_sane"]),
    "drop_ttl_1": (_drop_ttl_1, ["ipv4.ttl_one_accepted"]),
    "bad_reply_ip_checksum": (_bad_reply_ip_checksum, ["ipv4.reply_header_valid",
                                                       "icmp.echo_reply_identity"]),
    "constant_reply_id": (_constant_reply_id, ["ipv4.id_unique_when_fragmentable"]),
    "drop_df": (_drop_df, ["ipv4.df_request_answered"]),
    "drop_fragments": (_drop_fragments, ["ipv4.fragments_in_order",
                                         "ipv4.fragments_out_of_order",
                                         "ipv4.fragment_duplicate_tolerated",
                                         "ipv4.fragments_udp_echo",
                                         "icmp.echo_large_fragmented"]),
    "naive_reassembly": (_naive_reassembly, ["ipv4.fragments_overlapping_dropped",
                                             "ipv4.fragments_incomplete_not_answered"]),
    "accept_any_source": (_accept_any_source, ["ipv4.source_broadcast_dropped",
                                               "ipv4.source_multicast_dropped",
                                               "ipv4.source_loopback_dropped"]),
    "accept_any_destination": (_accept_any_destination, ["ipv4.not_for_us_not_answered"]),
    "bad_quote": (_bad_quote, ["ipv4.unknown_protocol", "udp.port_unreachable"]),
    "corrupt_echo_data": (_corrupt_echo_data, ["icmp.echo_reply_identity",
                                               "icmp.echo_reply_1472", "icmp.echo_burst"]),
    "bad_odd_checksum": (_bad_odd_checksum, ["icmp.echo_reply_checksum"]),
    "drop_echo_reply_seq_7": (_drop_echo_reply_seq_7, ["icmp.echo_burst"]),
    "errors_about_everything": (_errors_about_everything, [
        "icmp.no_error_about_icmp_error", "icmp.unknown_type_discarded",
        "icmp.echo_reply_not_answered", "icmp.no_error_to_broadcast_destination",
        "icmp.no_error_for_link_broadcast", "icmp.no_error_about_non_first_fragment",
        "icmp.no_error_to_unspecified_source", "udp.no_unreachable_for_broadcast",
        "udp.no_unreachable_for_link_broadcast"]),
    "broadcast_reply_source": (_broadcast_reply_source, ["icmp.echo_to_broadcast",
                                                         "udp.broadcast_reply_from_unicast"]),
    "corrupt_udp_echo": (_corrupt_udp_echo, ["udp.echo_identity"]),
    "drop_zero_udp_checksum": (_drop_zero_udp_checksum, ["udp.zero_checksum_accepted",
                                                         "udp.reply_checksum_on"]),
    "zero_udp_checksum_out": (_zero_udp_checksum_out, ["udp.reply_checksum_on",
                                                       "udp.checksum_zero_sent_as_ffff",
                                                       "udp.echo_identity"]),
    "ffff_to_zero": (_ffff_to_zero, ["udp.checksum_zero_sent_as_ffff"]),
    "drop_icmp_errors": (_drop_icmp_errors, ["udp.port_unreachable"]),
    "fix_udp_length": (_fix_udp_length, ["udp.length_larger_than_datagram_dropped",
                                         "udp.length_below_header_dropped",
                                         "udp.length_smaller_than_datagram"]),
    "arp_bad_tha": (_arp_bad_tha, ["arp.reply_to_request", "arp.reply_to_unicast_request"]),
    "drop_unicast_arp": (_drop_unicast_arp, ["arp.reply_to_unicast_request"]),
    "drop_arp_probe": (_drop_arp_probe, ["arp.probe_answered"]),
    "proxy_arp": (_proxy_arp, ["arp.ignore_request_for_other_ip"]),
    "answer_arp_replies": (_answer_arp_replies, ["arp.no_reply_to_reply"]),
    "arp_first_mac_sticks": (_arp_first_mac_sticks, ["arp.cache_update_from_request",
                                                     "arp.gratuitous_updates_entry"]),
    "answer_malformed_arp": (_answer_malformed_arp, ["arp.malformed_truncated_ignored",
                                                     "arp.malformed_hlen_ignored",
                                                     "arp.unknown_hardware_type_ignored",
                                                     "arp.unknown_protocol_type_ignored",
                                                     "arp.unknown_opcode_ignored"]),
}


# == TCP (the tcp_* groups; tests/conformance/test_conformance_tcp.py runs these) ==========
# Each mutation below turns the correct target into one with a single TCP defect. They live
# in TCP_MUTATIONS (not MUTATIONS: the lower-layer test covers only the lower groups).

import time as _time  # noqa: E402

_FIN, _SYN, _RST, _PSH, _ACK = 0x01, 0x02, 0x04, 0x08, 0x10
_KNOWN_OPTIONS = (0, 1, 2, 3, 4, 5, 8)


def is_tcp(raw):
    return (is_ip(raw) and raw[23] == 6 and not fragmented(raw) and ihl(raw) >= 20
            and total(raw) >= ihl(raw) + 20 and len(raw) >= 14 + total(raw))


def fix_tcp(b):
    o, end = l4(b), 14 + total(b)
    b[o + 16:o + 18] = b"\0\0"
    ps = wire.inet_sum(bytes(b[26:34]) + struct.pack("!BBH", 0, 6, end - o))
    struct.pack_into("!H", b, o + 16, wire.inet_checksum(bytes(b[o:end]), ps))


def tcp_options_ok(opts):
    """The option kinds in opts, or None when the list is malformed."""
    kinds, i = [], 0
    while i < len(opts):
        k = opts[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2 or i + opts[i + 1] > len(opts):
            return None
        kinds.append(k)
        i += opts[i + 1]
    return kinds


class Tcp:
    """The TCP segment of a frame, and a way to rebuild the frame with changes."""

    def __init__(self, raw):
        self.raw = bytes(raw)
        o, end = l4(raw), 14 + total(raw)
        self.sport, self.dport, self.seq, self.ack = struct.unpack("!HHII", raw[o:o + 12])
        self.doff = (raw[o + 12] >> 4) * 4
        self.reserved = raw[o + 12] & 15
        self.flags = raw[o + 13]
        self.window, _, self.urg = struct.unpack("!HHH", raw[o + 14:o + 20])
        h = max(self.doff, 20)
        self.options = bytes(raw[o + 20:o + h])
        self.data = bytes(raw[o + h:end])

    def conn(self, direction):
        """(peer port, target port) of the connection, whichever way the frame goes."""
        return (self.sport, self.dport) if direction == "in" else (self.dport, self.sport)

    @property
    def seglen(self):
        return len(self.data) + (1 if self.flags & _SYN else 0) + (1 if self.flags & _FIN else 0)

    def build(self, **kw):
        f = dict(sport=self.sport, dport=self.dport, seq=self.seq, ack=self.ack,
                 reserved=self.reserved, flags=self.flags, window=self.window,
                 options=self.options, data=self.data)
        f.update(kw)
        opts = f["options"]
        opts = b"\x01" * (-len(opts) % 4) + opts
        hdr = struct.pack("!HHIIBBHHH", f["sport"], f["dport"], f["seq"] & 0xFFFFFFFF,
                          f["ack"] & 0xFFFFFFFF, ((20 + len(opts)) // 4) << 4 | f["reserved"],
                          f["flags"], f["window"] & 0xFFFF, 0, self.urg)
        b = bytearray(self.raw[:l4(self.raw)]) + hdr + opts + f["data"]
        struct.pack_into("!H", b, 16, len(b) - 14)
        fix_ip(b)
        fix_tcp(b)
        return bytes(b)


def tcp_from_target(raw, port, peer_ip, peer_mac, seq, ack, flags=_ACK, data=b""):
    """A segment the target never sent: from its port `port` to the peer."""
    from scapy.layers.inet import TCP
    return bytes(Ether(dst=peer_mac, src=TARGET_MAC) / IP(src=TARGET_IP, dst=peer_ip)
                 / TCP(sport=port[1], dport=port[0], seq=seq & 0xFFFFFFFF,
                       ack=ack & 0xFFFFFFFF, flags=flags, window=65535) / data)


class _Track:
    """What the target last sent on each connection: the sequence number after its latest
    segment and its latest acknowledgment (for segments made up on its behalf)."""

    def __init__(self):
        self.nxt = {}
        self.ack = {}

    def see(self, direction, raw):
        if direction == "out" and is_tcp(raw):
            t = Tcp(raw)
            c = t.conn("out")
            end = (t.seq + t.seglen) & 0xFFFFFFFF
            if c not in self.nxt or ((end - self.nxt[c]) & 0xFFFFFFFF) < 0x80000000:
                self.nxt[c] = end
            if t.flags & _ACK:
                self.ack[c] = t.ack


def tcp_change(direction_wanted, pred, change):
    """Rebuild the TCP frames going `direction_wanted` for which pred(Tcp) holds with
    change(Tcp) -> bytes (or None: drop it)."""
    def fn(direction, raw):
        if direction == direction_wanted and is_tcp(raw):
            t = Tcp(raw)
            if pred(t):
                out = change(t)
                return [] if out is None else [(direction, out)]
        return [(direction, raw)]
    return fn


def _drop_rst_out():
    return tcp_change("out", lambda t: t.flags & _RST, lambda t: None)


def _fix_tcp_checksum():
    return mutate_in(is_tcp, fix_tcp)


def _answer_rst():
    tr = _Track()

    def fn(direction, raw):
        tr.see(direction, raw)
        out = [(direction, raw)]
        if direction == "in" and is_tcp(raw) and Tcp(raw).flags & _RST:
            t = Tcp(raw)
            c = t.conn("in")
            out.append(("out", tcp_from_target(raw, c, ip_of(raw, 26), ":".join(
                "%02x" % x for x in raw[6:12]), tr.nxt.get(c, 0), tr.ack.get(c, 0))))
        return out
    return fn


def _strip_mss_out():
    def ch(t):
        o = bytearray(t.options)
        i = 0
        while i < len(o):
            if o[i] in (0, 1):
                i += 1
                continue
            n = o[i + 1] if i + 1 < len(o) else 1
            if o[i] == 2:
                o[i:i + n] = b"\x01" * n
            i += max(n, 1)
        return t.build(options=bytes(o))
    return tcp_change("out", lambda t: t.flags & _SYN, ch)


def _pad_chargen():
    return tcp_change("out", lambda t: t.sport == 19 and t.data,
                      lambda t: t.build(data=t.data + b"X" * 1000))


def _add_ws_out():
    return tcp_change("out", lambda t: t.flags & _SYN and 3 not in (tcp_options_ok(
        t.options) or ()), lambda t: t.build(options=t.options + b"\x01\x03\x03\x07"))


def _ws_shift_15():
    def ch(t):
        o = bytearray(t.options)
        i = o.find(b"\x03\x03")
        o[i + 2] = 15
        return t.build(options=bytes(o))
    return tcp_change("out", lambda t: t.flags & _SYN and b"\x03\x03" in t.options, ch)


def _ws_in_data():
    return tcp_change("out", lambda t: not t.flags & _SYN,
                      lambda t: t.build(options=t.options + b"\x01\x03\x03\x02"))


def _unscale_in():
    shifts = {}

    def fn(direction, raw):
        if direction == "in" and is_tcp(raw):
            t = Tcp(raw)
            if t.flags & _SYN:
                i = t.options.find(b"\x03\x03")
                if i >= 0 and i + 2 < len(t.options):
                    shifts[t.conn("in")] = min(t.options[i + 2], 14)
            elif shifts.get(t.conn("in")):
                w = t.window >> shifts[t.conn("in")]
                return [(direction, t.build(window=w or (1 if t.window else 0)))]
        return [(direction, raw)]
    return fn


def _apply_ws_in_ack():
    scaled = {}

    def fn(direction, raw):
        if direction == "in" and is_tcp(raw):
            t = Tcp(raw)
            c = t.conn("in")
            i = t.options.find(b"\x03\x03")
            if not t.flags & _SYN and i >= 0 and i + 2 < len(t.options):
                scaled[c] = t.options[i + 2]
            if c in scaled:
                return [(direction, t.build(window=min(65535, t.window << scaled[c])))]
        return [(direction, raw)]
    return fn


def _add_ts_sack_out():
    extra = b"\x01\x01\x04\x02\x01\x01\x08\x0a" + struct.pack("!II", 1, 0)
    return tcp_change("out", lambda t: t.flags & _SYN,
                      lambda t: t.build(options=t.options + extra))


def _drop_unknown_options_in():
    def odd(t):
        kinds = tcp_options_ok(t.options)
        return kinds is not None and any(k not in _KNOWN_OPTIONS for k in kinds)
    return tcp_change("in", odd, lambda t: None)


def _hang_after_malformed_options():
    until = [0.0]

    def fn(direction, raw):
        now = _time.monotonic()
        if direction == "in" and is_tcp(raw) and tcp_options_ok(Tcp(raw).options) is None:
            until[0] = now + 1.5
            return []
        if now < until[0]:
            return []
        return [(direction, raw)]
    return fn


def _set_reserved_out():
    return tcp_change("out", lambda t: True, lambda t: t.build(reserved=0x0E))


def _drop_reserved_in():
    return tcp_change("in", lambda t: t.reserved, lambda t: None)


def _accept_syn_fin():
    return tcp_change("in", lambda t: t.flags & _SYN and t.flags & _FIN,
                      lambda t: t.build(flags=t.flags & ~_FIN))


def _answer_broadcast_syn():
    def ch(b):
        b[0:6] = bytes(int(x, 16) for x in TARGET_MAC.split(":"))
        b[30:34] = socket.inet_aton(TARGET_IP)
        fix_ip(b)
        fix_tcp(b)
    return mutate_in(lambda r: is_tcp(r) and ip_of(r, 30) != TARGET_IP, ch)


def _fixed_isn():
    delta = {}

    def fn(direction, raw):
        if not is_tcp(raw):
            return [(direction, raw)]
        t = Tcp(raw)
        c = t.conn(direction)
        if direction == "out":
            if t.flags & _SYN:
                delta[c] = (0x1000 - t.seq) & 0xFFFFFFFF
            if c in delta:
                return [(direction, t.build(seq=t.seq + delta[c]))]
        elif c in delta and t.flags & _ACK:
            return [(direction, t.build(ack=t.ack - delta[c]))]
        return [(direction, raw)]
    return fn


def _synack_isn_changes():
    seen = set()

    def ch(t):
        c = t.conn("out")
        if c in seen:
            return t.build(seq=t.seq + 12345)
        seen.add(c)
        return t.raw
    return tcp_change("out", lambda t: t.flags & _SYN, ch)


def _corrupt_echo_out():
    return tcp_change("out", lambda t: t.sport == 7 and t.data,
                      lambda t: t.build(data=t.data[:-1] + bytes([t.data[-1] ^ 0x20])))


def _bad_checksum_out():
    def ch(t):
        b = bytearray(t.raw)
        b[l4(b) + 17] ^= 0x01
        return bytes(b)
    return tcp_change("out", lambda t: t.sport == 7 and t.data, ch)


def _echo_every_segment():
    tr = _Track()

    def fn(direction, raw):
        tr.see(direction, raw)
        out = [(direction, raw)]
        if direction == "in" and is_tcp(raw):
            t = Tcp(raw)
            c = t.conn("in")
            if t.dport in (7, 9) and t.data and not t.flags & (_SYN | _RST) and c in tr.nxt:
                out.append(("out", tcp_from_target(
                    raw, c, ip_of(raw, 26), ":".join("%02x" % x for x in raw[6:12]),
                    tr.nxt[c], t.seq + len(t.data), flags=_ACK | _PSH, data=t.data)))
                tr.nxt[c] = (tr.nxt[c] + len(t.data)) & 0xFFFFFFFF
        return out
    return fn


def _no_holes():
    tr = _Track()

    def fn(direction, raw):
        tr.see(direction, raw)
        if direction == "in" and is_tcp(raw):
            t = Tcp(raw)
            c = t.conn("in")
            a = tr.ack.get(c)
            if (t.dport == 7 and a is not None and (t.data or t.flags & _FIN)
                    and not t.flags & (_SYN | _RST)
                    and 0 < ((t.seq - a) & 0xFFFFFFFF) < 65536):
                return [(direction, t.build(seq=a))]
        return [(direction, raw)]
    return fn


def _drop_duplicate_acks():
    last = {}

    def fn(direction, raw):
        if direction == "out" and is_tcp(raw):
            t = Tcp(raw)
            c = t.conn("out")
            pure = not t.data and not t.flags & (_SYN | _FIN | _RST) and t.flags & _ACK
            dup = pure and last.get(c) == t.ack
            if t.flags & _ACK:
                last[c] = t.ack
            if dup:
                return []
        return [(direction, raw)]
    return fn


def _drop_probes_19():
    return tcp_change("out", lambda t: t.sport == 19 and len(t.data) <= 1
                      and not t.flags & (_SYN | _FIN | _RST), lambda t: None)


def _open_window_in():
    return tcp_change("in", lambda t: t.dport == 19 and not t.flags & _SYN,
                      lambda t: t.build(window=65535))


def _stop_after_fin_80():
    done = set()

    def fn(direction, raw):
        if is_tcp(raw):
            t = Tcp(raw)
            c = t.conn(direction)
            if direction == "in" and t.dport == 80 and t.flags & _FIN:
                done.add(c)
            if direction == "out" and c in done and t.data:
                return []
        return [(direction, raw)]
    return fn


def _drop_fin_out():
    return tcp_change("out", lambda t: t.sport in (7, 80) and t.flags & _FIN, lambda t: None)


def _drop_retransmissions(first_only=False):
    """Drop every retransmission, or (first_only) the first one the RTO sends: a resend
    within 0.9 s of the previous copy is an RFC 8985 tail loss probe and goes through."""
    seen = {}
    dropped = set()

    def fn(direction, raw):
        if direction == "out" and is_tcp(raw):
            t = Tcp(raw)
            if t.seglen and not t.flags & _RST:
                k = (t.conn("out"), t.seq, t.flags & (_SYN | _FIN), len(t.data))
                now = time.monotonic()
                n, last = seen.get(k, (0, now))
                seen[k] = (n + 1, now)
                if n and not first_only:
                    return []
                if n and k not in dropped and now - last >= 0.9:
                    dropped.add(k)
                    return []
        return [(direction, raw)]
    return fn


def _drop_pure_acks_9():
    return tcp_change("out", lambda t: t.sport == 9 and not t.data
                      and not t.flags & (_SYN | _FIN | _RST), lambda t: None)


def _duplicate_out_9():
    def fn(direction, raw):
        if direction == "out" and is_tcp(raw) and Tcp(raw).sport == 9:
            return [(direction, raw), (direction, raw)]
        return [(direction, raw)]
    return fn


def _drop_half_first_flight_19():
    count = {}

    def fn(direction, raw):
        if direction == "out" and is_tcp(raw):
            t = Tcp(raw)
            if t.sport == 19 and t.data:
                c = t.conn("out")
                count[c] = count.get(c, 0) + 1
                if count[c] in (3, 4):
                    return []
        return [(direction, raw)]
    return fn


def _oversend_19():
    """Chargen seems to send 4000 bytes more than it did: a copy of each data segment
    4000 bytes further on."""
    def fn(direction, raw):
        if direction == "out" and is_tcp(raw):
            t = Tcp(raw)
            if t.sport == 19 and t.data:
                return [(direction, raw), (direction, t.build(seq=t.seq + 4000))]
        return [(direction, raw)]
    return fn


_CLOSED_PORT_RSTS = ["tcp_handshake.syn_to_closed_port_rst",
                     "tcp_handshake.syn_with_data_to_closed_port",
                     "tcp_handshake.ack_to_closed_port_rst", "tcp_handshake.ack_to_listener_rst",
                     "tcp_handshake.synack_to_listener_rst"]

# name -> (factory, checks that must fail under it)
TCP_MUTATIONS = {
    "drop_rst_out": (_drop_rst_out, _CLOSED_PORT_RSTS + [
        "tcp_rst.rst_exact_closes", "tcp_rst.rst_in_syn_received", "tcp_close.passive_close"]),
    "fix_tcp_checksum": (_fix_tcp_checksum, ["tcp_handshake.syn_bad_checksum_dropped",
                                             "tcp_data.bad_checksum_dropped"]),
    "answer_rst": (_answer_rst, ["tcp_rst.rst_never_answered", "tcp_rst.rst_exact_closes",
                                 "tcp_rst.rst_out_of_window_ignored",
                                 "tcp_rst.challenge_ack_rate_limited"]),
    "strip_mss_out": (_strip_mss_out, ["tcp_options.mss_in_synack"]),
    "pad_chargen": (_pad_chargen, ["tcp_options.mss_default_536",
                                   "tcp_options.mss_option_honoured",
                                   "tcp_options.segments_fit_mtu",
                                   "tcp_options.nop_eol_parsed"]),
    "oversend_19": (_oversend_19, ["tcp_congestion.initial_window_bound"]),
    "add_ws_out": (_add_ws_out, ["tcp_options.wscale_absent_unless_offered"]),
    "ws_shift_15": (_ws_shift_15, ["tcp_options.wscale_shift_at_most_14"]),
    "ws_in_data": (_ws_in_data, ["tcp_options.wscale_not_in_non_syn"]),
    "unscale_in": (_unscale_in, ["tcp_options.wscale_applied_to_window"]),
    "apply_ws_in_ack": (_apply_ws_in_ack, ["tcp_options.wscale_ignored_in_non_syn"]),
    "add_ts_sack_out": (_add_ts_sack_out, ["tcp_options.no_unsolicited_ts_sack",
                                           "tcp_options.timestamps_echoed",
                                           "tcp_options.sack_blocks_reported"]),
    "drop_unknown_options_in": (_drop_unknown_options_in, [
        "tcp_options.unknown_option_in_syn_ignored",
        "tcp_options.unknown_option_in_data_ignored"]),
    "hang_after_malformed_options": (_hang_after_malformed_options, [
        "tcp_options.option_length_zero_handled", "tcp_options.option_length_one_handled",
        "tcp_options.option_past_header_handled"]),
    "set_reserved_out": (_set_reserved_out, ["tcp_options.reserved_bits_ignored",
                                             "tcp_handshake.syn_gets_synack"]),
    "drop_reserved_in": (_drop_reserved_in, ["tcp_options.reserved_bits_ignored"]),
    "accept_syn_fin": (_accept_syn_fin, ["tcp_handshake.syn_fin_dropped"]),
    "answer_broadcast_syn": (_answer_broadcast_syn, ["tcp_handshake.syn_to_broadcast_dropped"]),
    "fixed_isn": (_fixed_isn, ["tcp_handshake.isn_unpredictable"]),
    "synack_isn_changes": (_synack_isn_changes, ["tcp_handshake.duplicate_syn_answered",
                                                 "tcp_timers.initial_rto"]),
    "corrupt_echo_out": (_corrupt_echo_out, [
        "tcp_data.echo_integrity", "tcp_data.urgent_data_delivered",
        "tcp_data.reassembly_out_of_order", "tcp_data.overlapping_retransmission",
        "tcp_close.echo_finishes_then_fin", "tcp_options.unknown_option_in_data_ignored",
        "tcp_options.reserved_bits_ignored"]),
    "bad_checksum_out": (_bad_checksum_out, ["tcp_data.echo_integrity"]),
    "echo_every_segment": (_echo_every_segment, [
        "tcp_close.data_after_fin_ignored", "tcp_data.bad_data_offset_dropped",
        "tcp_data.bad_checksum_dropped", "tcp_rst.ack_of_unsent_data",
        "tcp_rst.ack_too_old_dropped", "tcp_data.out_of_window_acked",
        "tcp_data.old_duplicate_acked", "tcp_data.discard_acknowledged"]),
    "no_holes": (_no_holes, ["tcp_data.reassembly_out_of_order",
                             "tcp_close.fin_out_of_order_waits",
                             "tcp_congestion.dup_ack_on_out_of_order"]),
    "drop_duplicate_acks": (_drop_duplicate_acks, [
        "tcp_rst.rst_in_window_challenge_ack", "tcp_rst.syn_in_established_challenge_ack",
        "tcp_congestion.dup_ack_on_out_of_order", "tcp_data.out_of_window_acked",
        "tcp_data.old_duplicate_acked"]),
    "drop_probes_19": (_drop_probes_19, ["tcp_data.zero_window_probe"]),
    "open_window_in": (_open_window_in, ["tcp_data.send_window_respected",
                                         "tcp_data.zero_window_probe",
                                         "tcp_options.wscale_ignored_in_non_syn",
                                         "tcp_options.wscale_applied_to_window"]),
    "stop_after_fin_80": (_stop_after_fin_80, ["tcp_close.half_close_keeps_sending"]),
    "drop_fin_out": (_drop_fin_out, ["tcp_close.echo_finishes_then_fin",
                                     "tcp_close.passive_close",
                                     "tcp_close.fin_retransmitted_in_last_ack",
                                     "tcp_close.time_wait_reacks_fin",
                                     "tcp_close.simultaneous_close",
                                     "tcp_close.half_close_keeps_sending"]),
    "drop_retransmissions": (_drop_retransmissions, [
        "tcp_timers.initial_rto", "tcp_timers.rto_doubles",
        "tcp_close.fin_retransmitted_in_last_ack", "tcp_congestion.fast_retransmit",
        "tcp_congestion.rto_loss_window"]),
    "drop_first_retransmission": (lambda: _drop_retransmissions(first_only=True),
                                  ["tcp_timers.rto_doubles"]),
    "drop_pure_acks_9": (_drop_pure_acks_9, ["tcp_timers.delayed_ack_bound",
                                             "tcp_data.discard_acknowledged"]),
    "duplicate_out_9": (_duplicate_out_9, ["tcp_timers.keepalive_off_by_default"]),
    "drop_half_first_flight_19": (_drop_half_first_flight_19,
                                  ["tcp_congestion.slow_start_growth"]),
}
