"""Misbehaviours for the relay (fault_relay.py) at IPv6, ICMPv6 and neighbour discovery: each turns
the correct target into one with a single defect, and names the checks that must then fail.
Together they cover every check of the ipv6, icmpv6 and ndp groups
(test_conformance_negative_ipv6.py asserts that).

A mutation is fn(direction, raw) -> [(direction, raw)]; see fault_relay.py. Frames are judged and
rebuilt from the bytes with the suite's own helpers (wire6, build6), as the checks do.
"""

import socket
import struct

from ethox_uk.conformance import build6 as b6
from ethox_uk.conformance import wire6
from ethox_uk.conformance.wire import inet_checksum, inet_sum

from mutations_ip import drop, inject, mutate_in, mutate_out

TARGET_MAC = "52:54:00:12:34:56"
TARGET_LL = "fe80::5054:ff:fe12:3456"  # EUI-64 of TARGET_MAC: the host target's address


# -- raw helpers ------------------------------------------------------------------------

def is_ip6(raw):
    return len(raw) >= 54 and raw[12:14] == b"\x86\xdd"


def upper(raw):
    """(offset, next header, end) of the upper layer, or None (wire6.ipv6)."""
    return wire6.ipv6(raw) if is_ip6(raw) else None


def icmp6_type(raw):
    """The ICMPv6 type of an unfragmented ICMPv6 frame, else None."""
    u = upper(raw)
    if u is None or u[1] != 58 or u[0] >= u[2]:
        return None
    return raw[u[0]]


def is_frag(raw):
    """A fragment (the Fragment header right after the fixed header)."""
    return is_ip6(raw) and raw[20] == 44 and len(raw) >= 62


def a6(raw, off):
    return socket.inet_ntop(socket.AF_INET6, bytes(raw[off:off + 16]))


def fix_upper(b):
    """Recompute the ICMPv6/UDP checksum of an unfragmented frame in place."""
    u = upper(b)
    if u is None or u[1] not in (58, 17):
        return
    off, nh, end = u
    at = off + (2 if nh == 58 else 6)
    b[at:at + 2] = b"\0\0"
    ps = inet_sum(bytes(b[22:54]) + struct.pack("!IxxxB", end - off, nh))
    c = inet_checksum(bytes(b[off:end]), ps)
    struct.pack_into("!H", b, at, c or (0xFFFF if nh == 17 else 0))


def fix_plen(b):
    struct.pack_into("!H", b, 18, len(b) - 54)


def error_about(raw, t=1, code=4):
    """An ICMPv6 error from the target about the packet in frame raw (as much as fits)."""
    src = a6(raw, 22)
    dst = src if src != "::" else "ff02::1"
    quote = bytes(raw[14:14 + 1232])
    msg = b6.icmp6(TARGET_LL, dst, t, code, bytes(4) + quote)
    return b6.frame(":".join("%02x" % x for x in raw[6:12]), TARGET_MAC,
                    b6.packet(TARGET_LL, dst, 58, msg))


# -- the misbehaviours ----------------------------------------------------------------

def _fix_icmp6_checksum():
    return mutate_in(lambda r: icmp6_type(r) == 128, fix_upper)


def _corrupt_echo6_data():
    def ch(b):
        b[-1] ^= 0x55
        fix_upper(b)
    return mutate_out(lambda r: (icmp6_type(r) == 129 and len(r) > upper(r)[0] + 8)
                      or is_frag(r), ch)


def _odd_reply_checksum():
    def ch(b):
        b[upper(b)[0] + 3] ^= 1
    return mutate_out(lambda r: icmp6_type(r) == 129 and (upper(r)[2] - upper(r)[0]) % 2, ch)


def _reply_hop_limit_1():
    def ch(b):
        b[21] = 1
    return mutate_out(lambda r: icmp6_type(r) == 129, ch)


def _drop_hop_limit_1():
    return drop("in", lambda r: icmp6_type(r) == 128 and r[21] == 1)


def _version_to_6():
    def ch(b):
        b[14] = 0x60 | (b[14] & 15)
    return mutate_in(lambda r: is_ip6(r) and r[14] >> 4 != 6, ch)


def _fix_payload_length():
    return mutate_in(lambda r: is_ip6(r) and 54 + (r[18] << 8 | r[19]) > len(r), fix_plen)


def _accept_any_link_local():
    """Packets to another link-local unicast address, sent to the target's MAC, readdressed
    to the target (and checksummed again): a target that answers for any address."""
    def ch(b):
        b[38:54] = b6.a6(TARGET_LL)
        fix_upper(b)
    return mutate_in(lambda r: is_ip6(r) and r[38] == 0xFE and (r[39] & 0xC0) == 0x80
                     and a6(r, 38) != TARGET_LL, ch)


def _drop_unicast_hop_by_hop():
    return drop("in", lambda r: is_ip6(r) and r[20] == 0 and r[38] != 0xFF)


def _drop_parameter_problems():
    return drop("out", lambda r: icmp6_type(r) == 4)


def _drop_later_fragments():
    return drop("in", lambda r: is_frag(r) and (r[56] << 8 | r[57]) & 0xFFF8)


def _split_reply_ident():
    """The target's fragments: every non-first one gets another identification, so its
    large replies never reassemble."""
    def ch(b):
        b[61] ^= 0xFF
    return mutate_out(lambda r: is_frag(r) and (r[56] << 8 | r[57]) & 0xFFF8, ch)


def _drop_overlapping_fragment():
    """Pass a fragment on only when it overlaps none seen before with the same source and
    identification: the target reassembles what is left of an overlapping datagram."""
    seen = {}

    def fn(direction, raw):
        if direction == "in" and is_frag(raw):
            key = (bytes(raw[22:38]), bytes(raw[58:62]))
            off = (raw[56] << 8 | raw[57]) & 0xFFF8
            end = off + (raw[18] << 8 | raw[19]) - 8
            ranges = seen.setdefault(key, [])
            if any(off < e and s < end for s, e in ranges):
                return []
            ranges.append((off, end))
        return [(direction, raw)]
    return fn


def _drop_group_echo():
    return drop("in", lambda r: icmp6_type(r) == 128 and r[38] == 0xFF)


def _drop_unreachables():
    return drop("out", lambda r: icmp6_type(r) == 1)


def _shorter_error_quote():
    def ch(b):
        del b[-8:]
        fix_plen(b)
        fix_upper(b)
    return mutate_out(lambda r: icmp6_type(r) == 1 and len(r) > 1000, ch)


def _errors_about_everything():
    """An error for every packet the rules of RFC 4443 §2.4 (e) keep silent about: ICMPv6
    errors, packets to a group or in a link-layer multicast frame, packets from ::."""
    def silent_kind(r):
        u = upper(r)
        if u is None or u[0] >= u[2]:
            return False
        group_or_unspecified = r[38] == 0xFF or r[0] & 1 or bytes(r[22:38]) == bytes(16)
        if u[1] == 58:
            # an error; or an informational message behind options (ND, MLD and echo
            # without options are answered by design)
            return r[u[0]] < 128 or (r[20] == 60 and group_or_unspecified)
        return u[1] == 17 and group_or_unspecified
    return inject(silent_kind, error_about)


def _error_for_every_datagram():
    """A Destination Unreachable for every UDP datagram to the target's address outside
    the echo/discard/chargen ports, however many: no rate limit (the target's own errors
    pass on too)."""
    def closed_udp(r):
        u = upper(r)
        return (u is not None and u[1] == 17 and a6(r, 38) == TARGET_LL
                and (r[u[0] + 2] << 8 | r[u[0] + 3]) not in (7, 9, 19))
    return inject(closed_udp, error_about)


def _answer_unknown_informational():
    def make(r):
        b = bytearray(r)
        b[0:6], b[6:12] = r[6:12], r[0:6]
        b[22:38], b[38:54] = r[38:54], r[22:38]
        b[upper(b)[0]] = 201
        fix_upper(b)
        return bytes(b)
    return inject(lambda r: icmp6_type(r) == 200, make)


def _drop_packet_too_big():
    return drop("in", lambda r: icmp6_type(r) == 2)


def _clear_solicited_flag():
    def ch(b):
        b[upper(b)[0] + 4] &= ~0x40 & 0xFF
        fix_upper(b)
    return mutate_out(lambda r: icmp6_type(r) == 136, ch)


def _ns_hop_limit_255():
    def ch(b):
        b[21] = 255
    return mutate_in(lambda r: icmp6_type(r) == 135 and r[21] != 255, ch)


def _proxy_nd():
    """Answer solicitations for any address with the target's MAC."""
    def make(r):
        tgt = a6(r, 62)
        if tgt == TARGET_LL or bytes(r[22:38]) == bytes(16):
            return None
        body = struct.pack("!I", 0x60000000) + bytes(r[62:78]) + bytes((2, 1)) \
            + b6.mac_bytes(TARGET_MAC)
        src = a6(r, 22)
        return b6.frame(":".join("%02x" % x for x in r[6:12]), TARGET_MAC,
                        b6.packet(tgt, src, 58, b6.icmp6(tgt, src, 136, 0, body), 255))
    return inject(lambda r: icmp6_type(r) == 135, make)


def _drop_na_to_all_nodes():
    return drop("out", lambda r: icmp6_type(r) == 136 and a6(r, 38) == "ff02::1")


def _probe_to_solicited_node():
    """A probe from :: to a unicast address is readdressed to the target's solicited-node
    group (a target that skips the destination test)."""
    def ch(b):
        group = wire6.solicited_node(TARGET_LL)
        b[38:54] = b6.a6(group)
        b[0:6] = b6.mac_bytes(wire6.mcast_mac(group))
        fix_upper(b)
    return mutate_in(lambda r: icmp6_type(r) == 135 and bytes(r[22:38]) == bytes(16)
                     and r[38] != 0xFF, ch)


def _drop_own_solicitations():
    return drop("out", lambda r: icmp6_type(r) == 135 and bytes(r[22:38]) != bytes(16))


def _answer_router_solicitations():
    def make(r):
        body = struct.pack("!BBHII", 64, 0, 0, 0, 0)
        return b6.frame(":".join("%02x" % x for x in r[6:12]), TARGET_MAC,
                        b6.packet(TARGET_LL, "ff02::1", 58,
                                  b6.icmp6(TARGET_LL, "ff02::1", 134, 0, body), 255))
    return inject(lambda r: icmp6_type(r) == 133, make)


def _drop_mld_reports():
    return drop("out", lambda r: icmp6_type(r) == 143)


def _drop_router_advertisements():
    return drop("in", lambda r: icmp6_type(r) == 134)


def _ra_hop_limit_255():
    def ch(b):
        b[21] = 255
    return mutate_in(lambda r: icmp6_type(r) == 134 and r[21] != 255, ch)


def _ra_source_link_local():
    def ch(b):
        b[22:24] = b"\xfe\x80"
        b[24:30] = bytes(6)
        fix_upper(b)
    return mutate_in(lambda r: icmp6_type(r) == 134 and r[22] != 0xFE, ch)


# name -> (factory, the checks that must fail under it)
MUTATIONS6 = {
    "fix_icmp6_checksum": (_fix_icmp6_checksum, ["icmpv6.bad_checksum_dropped"]),
    "corrupt_echo6_data": (_corrupt_echo6_data, [
        "ipv6.echo_link_local", "icmpv6.echo_identity", "ipv6.hop_limit_one_accepted",
        "ipv6.extension_headers_processed", "icmpv6.echo_to_all_nodes",
        "ipv6.fragments_reassembled"]),
    "odd_reply_checksum": (_odd_reply_checksum, ["icmpv6.echo_reply_checksum"]),
    "reply_hop_limit_1": (_reply_hop_limit_1, ["ipv6.reply_header_valid"]),
    "drop_hop_limit_1": (_drop_hop_limit_1, ["ipv6.hop_limit_one_accepted"]),
    "version_to_6": (_version_to_6, ["ipv6.bad_version_dropped"]),
    "fix_payload_length": (_fix_payload_length, ["ipv6.payload_length_past_frame_dropped"]),
    "accept_any_link_local": (_accept_any_link_local, ["ipv6.not_for_us_dropped"]),
    "drop_unicast_hop_by_hop": (_drop_unicast_hop_by_hop,
                                ["ipv6.extension_headers_processed"]),
    "drop_parameter_problems": (_drop_parameter_problems, [
        "ipv6.unknown_next_header", "ipv6.hop_by_hop_only_first",
        "ipv6.unknown_option_actions", "ipv6.option_to_group_actions",
        "ipv6.routing_header_segments_left", "ipv6.fragment_length_not_multiple_of_8"]),
    "drop_later_fragments": (_drop_later_fragments, ["ipv6.fragments_reassembled",
                                                     "ipv6.large_reply_fragmented"]),
    "split_reply_ident": (_split_reply_ident, ["ipv6.large_reply_fragmented",
                                               "icmpv6.packet_too_big_honoured"]),
    "drop_overlapping_fragment": (_drop_overlapping_fragment,
                                  ["ipv6.fragments_overlapping_dropped"]),
    "drop_group_echo": (_drop_group_echo, ["icmpv6.echo_to_all_nodes"]),
    "drop_unreachables": (_drop_unreachables, ["icmpv6.port_unreachable",
                                               "icmpv6.error_fits_minimum_mtu",
                                               "ndp.resolves_unknown_neighbour"]),
    "shorter_error_quote": (_shorter_error_quote, ["icmpv6.error_fits_minimum_mtu"]),
    "errors_about_everything": (_errors_about_everything, [
        "icmpv6.no_error_about_error", "icmpv6.no_error_to_group_destination",
        "icmpv6.no_error_for_link_multicast", "icmpv6.no_error_to_unspecified_source",
        "ipv6.option_to_group_actions"]),
    "error_for_every_datagram": (_error_for_every_datagram, ["icmpv6.errors_rate_limited"]),
    "answer_unknown_informational": (_answer_unknown_informational,
                                     ["icmpv6.unknown_informational_dropped"]),
    "drop_packet_too_big": (_drop_packet_too_big, ["icmpv6.packet_too_big_honoured"]),
    "clear_solicited_flag": (_clear_solicited_flag, ["ndp.ns_answered"]),
    "ns_hop_limit_255": (_ns_hop_limit_255, ["ndp.ns_bad_hop_limit_ignored"]),
    "proxy_nd": (_proxy_nd, ["ndp.ns_other_target_ignored"]),
    "drop_na_to_all_nodes": (_drop_na_to_all_nodes, ["ndp.dad_probe_answered_to_all_nodes"]),
    "probe_to_solicited_node": (_probe_to_solicited_node,
                                ["ndp.ns_unspecified_to_unicast_ignored"]),
    "drop_own_solicitations": (_drop_own_solicitations, ["ndp.resolves_unknown_neighbour"]),
    "answer_router_solicitations": (_answer_router_solicitations, ["ndp.rs_not_answered"]),
    "drop_mld_reports": (_drop_mld_reports, ["ndp.mld_query_answered"]),
    "drop_router_advertisements": (_drop_router_advertisements,
                                   ["ndp.ra_prefix_gives_address"]),
    "ra_hop_limit_255": (_ra_hop_limit_255, ["ndp.ra_bad_hop_limit_ignored"]),
    "ra_source_link_local": (_ra_source_link_local, ["ndp.ra_from_global_source_ignored"]),
}
