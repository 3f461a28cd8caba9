# Test-only fault switches ("negative controls"): each one makes the stack
# misbehave in one named way, so the conformance suite can show that the checks
# aimed at that behaviour fail (ethox_uk/conformance/negative.py lists them with
# those checks). The host runner takes them from ETHOX_UK_FAULTS; the image
# never sets any.
#
# Stack(nic, config, faults=parse(text)) keeps them in `stack.faults`; each
# layer reads the switches it honours ONCE in __init__ into plain booleans
# (no per-packet cost when off):
#   ignore_ip_checksum        ip:   accept IPv4 headers with a bad checksum
#   ignore_icmp_checksum      icmp: accept ICMP messages with a bad checksum
#   ignore_udp_checksum       udp:  accept UDP datagrams with a bad non-zero checksum
#   udp_no_checksum           udp:  send UDP with checksum 0 (none)
#   arp_answer_any            arp:  answer ARP requests for any address (proxy ARP)
#   arp_no_learn              arp:  never create or update entries from received ARP
#   frag_accept_overlap       frag: reassemble overlapping fragments (the data
#                                   already held wins)
#   icmp_errors_unrestricted  icmp: send errors about ICMP errors, broadcasts, link
#                                   broadcasts, non-first fragments and to 0.0.0.0
#                             ip:   refuse an unknown protocol per fragment (before
#                                   reassembly) and route 0.0.0.0 via the gateway
#   ttl_zero                  ip:   send every datagram with TTL 0
#   ignore_tcp_checksum       tcp:  accept TCP segments with a bad checksum
#   no_challenge_ack          tcp:  never send RFC 5961 challenge ACKs
#   fixed_isn                 tcp:  the same initial sequence number every time
#   no_rto_backoff            tcp:  keep the RTO on a retransmission timeout
#   answer_rst                tcp:  answer a RST for no connection with RST/ACK,
#                                   an unacceptable RST on a connection with an ACK
#   no_mss_option             tcp:  no MSS option in SYN / SYN-ACK; the peer's
#                                   MSS ignored (1460-byte segments)
#   accept_out_of_window      tcp:  no segment acceptability test
#   no_fast_retransmit        tcp:  no fast (nor early) retransmit
#   ack_data_after_close      socket: data arriving after close() is acknowledged and
#                                   dropped (no RST)
#   syn_window_default        tcp:  the SYN / SYN-ACK offers rcv_window, not the smaller
#                                   receive buffer the listener or opener named
#   no_probe_in_flight        tcp:  a window shut with data in flight is not probed (the
#                                   RTO resends into it: nothing goes, the connection dies)
#   window_update_unmoved     tcp:  a window update goes whenever the free space exceeds
#                                   the advertised window, even if its edge does not move
#   rexmit_past_window        tcp:  fast / partial-ACK retransmissions take a full MSS
#                                   from SND.UNA, past SND.MAX and the peer's window
#   dupack_inflation          tcp:  every duplicate ACK outside fast recovery adds a
#                                   segment to the window (after an RTO too)
#   time_wait_rst_accepted    tcp:  an acceptable RST ends TIME-WAIT (RFC 1337's hazard)
#   dhcp_no_probe             dhcp: no RFC 5227 address check: the address is used at the ACK
#   dhcp_any_xid              dhcp: accept replies whatever their xid and chaddr
#   dhcp_no_renew             dhcp: never renew nor rebind; keep the address past the lease
#   dhcp_fast_retry           dhcp: retransmit every second (no backoff)
#   dhcp_ignore_nak           dhcp: ignore DHCPNAK
#   dhcp_no_server_id         dhcp: the REQUEST answering an OFFER lacks options 50 and 54
#   dhcp_zero_chaddr          dhcp: chaddr all zeros in what we send
#   dns_no_rd                 dns:  queries without RD (recursion desired)
#   dns_predictable           dns:  query ID 0x1234 always, source ports counting up
#   dns_accept_any            dns:  take any answer to a query's port (ID, question,
#                                   server and source port unchecked)
#   dns_no_tcp                dns:  a truncated answer is taken as it is (no TCP)
#   dns_no_retry              dns:  one try per query
#   dns_cache_forever         dns:  cached answers never expire

NAMES = (
    "ignore_ip_checksum",
    "ignore_icmp_checksum",
    "ignore_udp_checksum",
    "udp_no_checksum",
    "arp_answer_any",
    "arp_no_learn",
    "frag_accept_overlap",
    "icmp_errors_unrestricted",
    "ttl_zero",
    "ignore_tcp_checksum",
    "no_challenge_ack",
    "fixed_isn",
    "no_rto_backoff",
    "answer_rst",
    "no_mss_option",
    "accept_out_of_window",
    "no_fast_retransmit",
    "ack_data_after_close",
    "syn_window_default",
    "no_probe_in_flight",
    "window_update_unmoved",
    "rexmit_past_window",
    "dupack_inflation",
    "time_wait_rst_accepted",
    "dhcp_no_probe",
    "dhcp_any_xid",
    "dhcp_no_renew",
    "dhcp_fast_retry",
    "dhcp_ignore_nak",
    "dhcp_no_server_id",
    "dhcp_zero_chaddr",
    "dns_no_rd",
    "dns_predictable",
    "dns_accept_any",
    "dns_no_tcp",
    "dns_no_retry",
    "dns_cache_forever",
)


def parse(text):
    """frozenset of switch names from 'a,b' (spaces allowed; empty or None: none).

    ValueError naming an unknown switch and listing the known ones."""
    out = set()
    if text:
        for part in text.split(","):
            name = part.strip()
            if not name:
                continue
            if name not in NAMES:
                raise ValueError("unknown fault switch %r (known: %s)" % (name, ", ".join(NAMES)))
            out.add(name)
    return frozenset(out)
