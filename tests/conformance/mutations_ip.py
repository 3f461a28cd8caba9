"""Misbehaviours for the relay (fault_relay.py) at the lower layers (ARP, IPv4, ICMP, UDP): each
turns the correct target into one with a single defect, and names the checks that must then
fail. Together they cover every lower-layer check (test_conformance_negative_relay.py
asserts that). The frame helpers here serve mutations_tcp.py too.

A mutation is fn(direction, raw) -> [(direction, raw)]; see fault_relay.py.
"""

import socket
import struct

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
