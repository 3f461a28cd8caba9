"""Negative controls: the host stack's test-only fault switches, and the checks each one must
make fail: a suite that cannot fail proves nothing.

Mechanism (proposed to the stack and host-runner owners; nothing here reaches into them):

    ETHOX_UK_FAULTS=ignore_ip_checksum,fixed_isn  ethox-uk host images/echo --net ...

  * ethox_uk/stack/faults.py: NAMES (a tuple of the switch names) and parse(text) ->
    frozenset, ValueError naming an unknown switch and listing the known ones.
  * Stack(nic, config, ..., faults=()) keeps `stack.faults` (a frozenset); each layer reads
    the switches it honours ONCE in __init__ into plain booleans (no per-packet cost when
    off; the image never sets any).
  * The host runner reads ETHOX_UK_FAULTS in setup(), passes parse(...) to Stack, refuses
    an unknown name (status 2), and prints "ethox-uk: TEST-ONLY faults active: ..." on
    stderr (the ready line on stdout is unchanged).

HostTarget(recipe, faults=(...)) sets the variable for the child it starts (and clears an
inherited one otherwise); tests/conformance/test_conformance_negative_faults.py runs, for
every switch the stack lists in NAMES, the checks below against `--host images/echo` with
that switch on and asserts that each of them fails.
"""

# name -> (what the stack does wrong, the checks that must then fail)
FAULTS = {
    "ignore_ip_checksum": ("accept IPv4 headers with a bad checksum",
                           ["ipv4.bad_header_checksum_dropped"]),
    "ignore_icmp_checksum": ("accept ICMP messages with a bad checksum",
                             ["icmp.bad_checksum_dropped"]),
    "ignore_udp_checksum": ("accept UDP datagrams with a bad non-zero checksum",
                            ["udp.bad_checksum_dropped"]),
    "udp_no_checksum": ("send UDP with checksum 0 (none)",
                        ["udp.reply_checksum_on", "udp.checksum_zero_sent_as_ffff",
                         "udp.echo_identity"]),
    "arp_answer_any": ("answer ARP requests for any address (proxy ARP)",
                       ["arp.ignore_request_for_other_ip"]),
    "arp_no_learn": ("never create or update ARP entries from received ARP",
                     ["arp.cache_update_from_request", "arp.gratuitous_updates_entry"]),
    "frag_accept_overlap": ("reassemble overlapping fragments (the data already held wins)",
                            ["ipv4.fragments_overlapping_dropped"]),
    "icmp_errors_unrestricted": ("send ICMP errors about ICMP errors, broadcasts, link "
                                 "broadcasts, non-first fragments and 0.0.0.0",
                                 ["icmp.no_error_about_icmp_error",
                                  "icmp.no_error_to_broadcast_destination",
                                  "icmp.no_error_for_link_broadcast",
                                  "icmp.no_error_about_non_first_fragment",
                                  "icmp.no_error_to_unspecified_source",
                                  "udp.no_unreachable_for_broadcast",
                                  "udp.no_unreachable_for_link_broadcast"]),
    "ttl_zero": ("send every datagram with TTL 0",
                 ["ipv4.reply_ttl_sane", "ipv4.ttl_one_accepted", "ipv4.reply_header_valid"]),
    # TCP (ethox_uk/stack/layer/tcp honours these; checks in checks/tcp_*.py)
    "ignore_tcp_checksum": ("accept TCP segments with a bad checksum",
                            ["tcp_handshake.syn_bad_checksum_dropped",
                             "tcp_data.bad_checksum_dropped"]),
    "no_challenge_ack": ("never send RFC 5961 challenge ACKs (the in-window RST, the SYN "
                         "in a synchronized state and the bad ACK are dropped silently)",
                         ["tcp_rst.rst_in_window_challenge_ack",
                          "tcp_rst.syn_in_established_challenge_ack"]),
    "fixed_isn": ("use the same initial sequence number for every connection",
                  ["tcp_handshake.isn_unpredictable"]),
    "no_rto_backoff": ("keep the RTO unchanged on a retransmission timeout (no doubling)",
                       ["tcp_timers.rto_doubles"]),
    "answer_rst": ("answer a RST for no connection with a RST/ACK, and an unacceptable RST "
                   "on a connection with an ACK",
                   ["tcp_rst.rst_never_answered", "tcp_rst.rst_out_of_window_ignored"]),
    "no_mss_option": ("send no MSS option in a SYN or SYN-ACK, and send 1460-byte segments "
                      "whatever the peer's SYN said (or did not say)",
                      ["tcp_options.mss_in_synack", "tcp_options.mss_default_536",
                       "tcp_options.mss_option_honoured", "tcp_options.nop_eol_parsed"]),
    "accept_out_of_window": ("skip the segment acceptability test: every segment is "
                             "processed as if in the window and none draws the ACK of an "
                             "unacceptable segment",
                             ["tcp_data.out_of_window_acked",
                              "tcp_rst.rst_out_of_window_ignored"]),
    "no_fast_retransmit": ("retransmit only on the RTO: duplicate ACKs never trigger fast "
                           "retransmit (nor early retransmit)",
                           ["tcp_congestion.fast_retransmit"]),
    # the DHCP client (ethox_uk/stack/dhcp.py; checks/dhcp.py, fresh clients inherit these)
    "dhcp_no_probe": ("skip the RFC 5227 address check: the address is used at the ACK",
                      ["dhcp.probes_before_use", "dhcp.declines_address_in_use"]),
    "dhcp_any_xid": ("accept server messages whatever their xid and chaddr",
                     ["dhcp.ignores_foreign_replies"]),
    "dhcp_no_renew": ("never renew nor rebind, and keep the address past the lease",
                      ["dhcp.renews_by_unicast", "dhcp.rebinds_by_broadcast",
                       "dhcp.stops_using_expired_address"]),
    "dhcp_fast_retry": ("retransmit DISCOVER and REQUEST every second",
                        ["dhcp.discover_retransmitted"]),
    "dhcp_ignore_nak": ("ignore DHCPNAK", ["dhcp.nak_restarts"]),
    "dhcp_no_server_id": ("answer an OFFER with a REQUEST lacking options 50 and 54",
                          ["dhcp.request_after_offer"]),
    "dhcp_zero_chaddr": ("send chaddr as zeros", ["dhcp.discover_format"]),
    # the resolver (ethox_uk/stack/resolver.py; checks/dns.py)
    "dns_no_rd": ("send queries without RD", ["dns.query_format"]),
    "dns_predictable": ("query ID 0x1234 every time, source ports counting up",
                        ["dns.id_and_port_unpredictable"]),
    "dns_accept_any": ("take any datagram to a query's port as its answer",
                       ["dns.ignores_mismatched_answers"]),
    "dns_no_tcp": ("take a truncated answer as it is", ["dns.tcp_on_truncation"]),
    "dns_no_retry": ("send each query once", ["dns.retransmits_unanswered"]),
    "dns_cache_forever": ("keep cached answers past their TTL", ["dns.cache_honours_ttl"]),
}


def stack_fault_names():
    """The switches the stack offers (empty when it has none yet)."""
    try:
        from ..stack import faults
    except ImportError:
        return ()
    return tuple(getattr(faults, "NAMES", ()))


# the TCP review's checks keep their negative controls beside them (checks/tcp_review.py)
from .checks.tcp_review import NEGATIVE_CONTROLS as _TCP_REVIEW  # noqa: E402

FAULTS.update(_TCP_REVIEW)
