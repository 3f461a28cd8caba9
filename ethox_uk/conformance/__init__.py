"""`ethox-uk conformance`: scapy checks of a running stack, clause by clause.

    registry.py   the @check decorator and the list of checks (one small file per group
                  under checks/: arp.py, ipv4.py, icmp.py, udp.py, tcp_*.py); requirement
                  levels (MUST/SHOULD/MAY), verdicts, declared variants and their negative
                  controls
    kexpr.py      -k EXPR selection (substring / and / or / not / parentheses)
    target.py     what is checked: HostTarget (`ethox-uk host RECIPE`), ImageTarget
                  (`ethox-uk run IMAGE`), AttachTarget (a stack already running on a SPEC),
                  IfaceTarget (`--attach iface:IFNAME[@NETNS]`), LinuxTarget (`--linux`)
    links.py      how frames reach the target: the peer side of a dgram SPEC, or a packet
                  socket on a local interface
    linux_services.py  the echo recipe's services on kernel sockets (for --linux)
    peer.py       the suite's side of the link: raw Ethernet frames, scapy, pcap of every
                  frame with a marker frame per check, send-and-wait, ARP answers, transcript
    describe.py   a frame in words, for transcripts ("ICMP echo request id=1 seq=1 56B")
    tcp_peer.py   the suite's TCP end of a connection (TcpConn: open, send, expect)
    context.py    Ctx, the object every check receives: packet builders, ping, barrier,
                  require / fail / not_applicable
    session.py    runs checks with a time bound each; pass / variant / deviates / fail /
                  n/a / xfail
    report.py     rich table, summary line, JUnit XML, JSON
    rfcs.py       the per-RFC summary (clauses checked, MUST/SHOULD met)
    formats.py    TAP 14, Markdown summary, the HTML page
    compare.py    --compare A.json B.json, and the agreement figure
    negative.py   negative controls: the host stack's test-only fault switches and the checks
                  each one must make fail
    (the click command is ethox_uk/cli/conformance.py; __main__.py runs it for `python -m`)

Adding a check is adding one decorated function to the group's file.
"""
