"""`ethox-uk conformance`: scapy checks of a running stack, clause by clause (issue 7).

    registry.py   the @check decorator and the list of checks (one small file per group
                  under checks/: arp.py, ipv4.py, icmp.py, udp.py, later tcp_*.py)
    kexpr.py      -k EXPR selection (substring / and / or / not / parentheses)
    target.py     what is checked: HostTarget (`ethox-uk host RECIPE`), ImageTarget
                  (`ethox-uk run IMAGE`), AttachTarget (a stack already running on a SPEC)
    peer.py       the other side of the unix datagram socket: raw Ethernet frames, scapy,
                  pcap of every frame, send-and-wait, automatic ARP answers, transcript
    describe.py   a frame in words, for transcripts ("ICMP echo request id=1 seq=1 56B")
    context.py    Ctx, the object every check receives: packet builders, ping, barrier,
                  require / fail / not_applicable
    runner.py     runs checks with a time bound each; pass / fail / n/a / xfail
    report.py     rich table, summary line, JUnit XML, JSON
    faults.py     negative controls: the host stack's test-only fault switches and the checks
                  each one must make fail
    command.py    the click command (`conformance`) and `main(argv)` for `python -m`

Adding a check is adding one decorated function to the group's file.
"""
