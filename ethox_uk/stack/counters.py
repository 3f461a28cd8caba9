# Every counter the stack keeps, named in one place so that the HTTP page,
# `exec` and the tests all see the same names. Drops are counted under the
# reason that caused them; `internal_error` is the catch-all for an exception
# escaping a layer and must stay 0 (every test asserts it).
#
# Increments are `counters.c[NAME] += 1` on a dict with interned string keys:
# no allocation, and an unknown name fails loudly in tests (KeyError).

NAMES = (
    # traffic
    "rx_frames", "tx_frames", "tx_no_buffer", "internal_error",
    # ethernet
    "eth_truncated", "eth_not_for_us", "eth_unknown_type", "eth_bad_source",
    # arp
    "arp_truncated", "arp_bad_format", "arp_not_for_us", "arp_requests_sent",
    "arp_replies_sent", "arp_queue_full", "arp_unresolved", "arp_rate_limited",
    "arp_bad_source", "arp_pending_limit", "arp_table_full",
    # ipv4
    "ipv4_truncated", "ipv4_bad_version", "ipv4_bad_header_len", "ipv4_bad_total_len",
    "ipv4_bad_checksum", "ipv4_bad_options", "ipv4_bad_source", "ipv4_not_for_us",
    "ipv4_unknown_protocol", "ipv4_frag_overlap", "ipv4_frag_timeout", "ipv4_frag_no_memory",
    "ipv4_frag_too_big", "ipv4_frag_bad", "ipv4_reassembled", "ipv4_no_route",
    "ipv4_frag_duplicate", "ipv4_fragments_sent", "ipv4_frag_source_limit",
    # icmp
    "icmp_truncated", "icmp_bad_checksum", "icmp_unhandled_type", "icmp_echo_replies",
    "icmp_errors_sent", "icmp_error_suppressed", "icmp_errors_received",
    "icmp_rate_limited", "icmp_broadcast_echo_ignored", "icmp_echo_requests_sent",
    "icmp_echo_replies_rx",
    # udp
    "udp_truncated", "udp_bad_length", "udp_bad_checksum", "udp_no_listener",
    "udp_socket_full", "udp_rx", "udp_tx", "udp_echo_refused",
    # ipv6, icmpv6, neighbour discovery, mld
    "ipv6_truncated", "ipv6_bad_version", "ipv6_bad_length", "ipv6_bad_source",
    "ipv6_not_for_us", "ipv6_bad_header", "ipv6_bad_option", "ipv6_routing_header",
    "ipv6_unknown_next_header", "ipv6_no_next_header", "ipv6_no_route", "ipv6_no_source",
    "ipv6_no_address_slot", "ipv6_no_prefix_slot", "ipv6_frag_overlap", "ipv6_frag_timeout",
    "ipv6_frag_no_memory", "ipv6_frag_too_big", "ipv6_frag_bad", "ipv6_frag_duplicate",
    "ipv6_frag_source_limit", "ipv6_reassembled", "ipv6_fragments_sent",
    "icmp6_truncated", "icmp6_bad_checksum", "icmp6_unhandled_type", "icmp6_ignored",
    "icmp6_echo_replies", "icmp6_errors_sent", "icmp6_error_suppressed",
    "icmp6_errors_received", "icmp6_rate_limited", "icmp6_echo_replies_rx",
    "icmp6_echo_requests_sent", "icmp6_too_big_rx",
    "nd_bad_message", "nd_not_for_us", "nd_ns_rx", "nd_na_rx", "nd_ra_rx", "nd_ns_sent",
    "nd_na_sent", "nd_rs_sent", "nd_queue_full", "nd_unresolved", "nd_pending_full",
    "nd_table_full", "nd_dad_failed", "nd_address_conflict", "nd_prefix_ignored",
    "mld_reports_sent", "mld_queries_rx", "mld_bad_query",
    "udp_no_checksum",
    # tcp (the TCP layer adds its reasons here)
    "tcp_truncated", "tcp_bad_offset", "tcp_bad_checksum", "tcp_bad_options",
    "tcp_no_listener", "tcp_rx", "tcp_tx",
    "tcp_bad_flags", "tcp_bad_address", "tcp_no_connection", "tcp_stray_rst",
    "tcp_out_of_window", "tcp_duplicate", "tcp_rst_ignored", "tcp_no_ack", "tcp_bad_ack",
    "tcp_data_after_fin", "tcp_unread", "tcp_syn_queue_full", "tcp_backlog_full",
    "tcp_no_slot", "tcp_no_buffer", "tcp_challenge_suppressed", "tcp_timeouts",
    "tcp_aborted", "tcp_rst_rx", "tcp_rst_sent", "tcp_aborts_sent",
    "tcp_challenge_acks_sent", "tcp_retrans_sent", "tcp_fast_retrans_sent",
    "tcp_probes_sent", "tcp_keepalives_sent", "tcp_paws_dropped", "tcp_tail_probes_sent",
    "tcp_syncookies_sent", "tcp_syncookies_rx", "tcp_syncookies_failed", "tcp_source_limit",
    "tcp_fin_wait2_timeouts", "tcp_no_memory", "tcp_persist_timeouts",
    "tcp_time_wait_rst_ignored", "tcp_data_after_close", "tcp_mss_raised",
    # services (services.py, http.py): connections closed for idleness, reset
    # when that close did not finish, request heads too slow (408)
    "svc_idle_closed", "svc_idle_reset", "http_head_timeout",
    # dhcp client (stack/dhcp.py): drops of server messages, then traffic
    "dhcp_truncated", "dhcp_bad_format", "dhcp_not_ours", "dhcp_bad_option",
    "dhcp_bad_reply", "dhcp_unexpected", "dhcp_conflicts", "dhcp_tx", "dhcp_rx",
    # dns resolver (stack/resolver.py): answers dropped by reason, timeouts, traffic
    "dns_truncated", "dns_bad_format", "dns_not_ours", "dns_timeouts", "dns_queries_sent",
    "dns_tcp_queries_sent", "dns_rx",
)


_TRAFFIC_SUFFIXES = ("_rx", "_tx", "_sent", "_replies", "_frames", "_reassembled")


def _is_traffic(name):
    for s in _TRAFFIC_SUFFIXES:
        if name.endswith(s):
            return True
    return False


class Counters:
    def __init__(self):
        c = {}
        for n in NAMES:
            c[n] = 0
        self.c = c

    def __getitem__(self, name):
        return self.c[name]

    def as_dict(self):
        return dict(self.c)

    def drops(self):
        """Non-zero drop/error counters, for reports and failing tests."""
        out = {}
        for n in NAMES:
            v = self.c[n]
            if v and not _is_traffic(n):
                out[n] = v
        return out
