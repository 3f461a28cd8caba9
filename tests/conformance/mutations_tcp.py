"""Misbehaviours for the relay (fault_relay.py) in TCP (the tcp_* groups;
test_conformance_tcp.py runs them): each turns the correct target into one with a single
TCP defect and names the checks that must then fail.

A mutation is fn(direction, raw) -> [(direction, raw)]; see fault_relay.py.
"""

import socket
import struct
import time as _time

from scapy.layers.inet import IP
from scapy.layers.l2 import Ether

from ethox_uk.conformance import wire
from mutations_ip import (TARGET_IP, TARGET_MAC, drop, fix_ip, fragmented, ihl, ip_of,
                          is_ip, l4, mutate_in, total)

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


def _blank_option(opts, kind):
    """opts with every option of `kind` overwritten by NOPs (the length stays)."""
    out, i = bytearray(opts), 0
    while i < len(out):
        k = out[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        n = out[i + 1] if i + 1 < len(out) else 0
        if n < 2:
            break
        if k == kind:
            out[i:i + n] = b"\x01" * n
        i += n
    return bytes(out)


def _strip_ts_after_syn_out():
    """Timestamps negotiated in the SYN-ACK, then left out of every later segment."""
    return tcp_change("out", lambda t: not t.flags & _SYN and 8 in (tcp_options_ok(t.options)
                                                                       or ()),
                      lambda t: t.build(options=_blank_option(t.options, 8)))


def _strip_sack_blocks_out():
    """SACK-permitted offered, then no SACK block in any ACK."""
    return tcp_change("out", lambda t: 5 in (tcp_options_ok(t.options) or ()),
                      lambda t: t.build(options=_blank_option(t.options, 5)))


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


def _reset_crossing_syn():
    """A stack that cannot do a simultaneous open: its SYN-ACK to a SYN crossing its own
    (from a port that is none of the services) goes out as a RST."""
    return tcp_change("out", lambda t: t.flags & _SYN and t.flags & _ACK
                      and t.sport not in (7, 9, 19, 80),
                      lambda t: t.build(flags=_RST | _ACK, options=b""))


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
    seen = {}

    def fn(direction, raw):
        if direction == "out" and is_tcp(raw):
            t = Tcp(raw)
            if t.seglen and not t.flags & _RST:
                k = (t.conn("out"), t.seq, t.flags & (_SYN | _FIN), len(t.data))
                n = seen.get(k, 0)
                seen[k] = n + 1
                if n and (not first_only or n == 1):
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
    """The second half of chargen's first flight (data segments 6-10) never arrives, nor
    anything resent into that range within 0.7 s (a tail loss probe): the check sees half
    the flight and should find the window grown by more than one MSS after its ACK."""
    state = {}

    def fn(direction, raw):
        if direction == "out" and is_tcp(raw):
            t = Tcp(raw)
            if t.sport == 19 and t.data:
                c = t.conn("out")
                st = state.setdefault(c, {"n": 0, "t0": _time.monotonic(), "lo": None,
                                          "hi": None})
                st["n"] += 1
                end = (t.seq + len(t.data)) & 0xFFFFFFFF
                if 6 <= st["n"] <= 10:
                    if st["lo"] is None:
                        st["lo"] = t.seq
                    st["hi"] = end
                    return []
                lo, hi = st["lo"], st["hi"]
                if (lo is not None and _time.monotonic() - st["t0"] < 0.7
                        and (t.seq - lo) & 0xFFFFFFFF < (hi - lo) & 0xFFFFFFFF):
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
    "add_ts_sack_out": (_add_ts_sack_out, ["tcp_options.no_unsolicited_ts_sack"]),
    "strip_ts_after_syn_out": (_strip_ts_after_syn_out, ["tcp_options.timestamps_echoed"]),
    "strip_sack_blocks_out": (_strip_sack_blocks_out, ["tcp_options.sack_blocks_reported"]),
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
    "reset_crossing_syn": (_reset_crossing_syn, ["tcp_handshake.simultaneous_open"]),
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
