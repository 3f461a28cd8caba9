"""`ethox-uk host images/echo --net dgram:L,R` end to end: a scapy peer on a plain AF_UNIX
datagram socket bound at R sends raw Ethernet frames to L (DESIGN §5). Every wait is bounded."""

import os
import re
import signal
import textwrap

from hostutil import ECHO, Served, one_line_error, run_cli
from scapy.layers.inet import ICMP, IP, UDP, fragment
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw
from scapy.utils import rdpcap

from ethox_uk.host.dgram_peer import PEER_IP, PEER_MAC

# DESIGN §5: more fields may follow mac= (ip6= unless ip6=off)
READY = re.compile(r"^ethox-uk: ready ip=\d+(\.\d+){3} mac=[0-9a-f]{2}(:[0-9a-f]{2}){5}( \S+=\S+)*\r?$")
WAIT = 3.0


def to_stack(s, *layers):
    pkt = Ether(dst=s.mac, src=PEER_MAC) / IP(src=PEER_IP, dst=s.ip)
    for layer in layers:
        pkt = pkt / layer
    return pkt


def icmp_ok(p):
    """The ICMP checksum of a received packet verifies."""
    raw = bytes(p[ICMP])
    c = ICMP(raw)
    del c.chksum
    return ICMP(bytes(c)).chksum == p[ICMP].chksum


def test_ready_line_follows_the_contract(echo_host):
    line = echo_host.host.lines[-1]
    assert READY.match(line), line
    assert line == ("ethox-uk: ready ip=10.0.2.15 mac=52:54:00:12:34:56 "
                    "ip6=fe80::5054:ff:fe12:3456/64")


def test_arp_who_has_is_answered(echo_host):
    s = echo_host
    s.peer.send(Ether(dst="ff:ff:ff:ff:ff:ff", src=PEER_MAC)
                / ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst=s.ip))
    r = s.peer.expect(lambda p: ARP in p and p[ARP].op == 2, WAIT)
    assert r is not None
    assert r.dst == PEER_MAC and r.src == s.mac and r.type == 0x0806
    a = r[ARP]
    assert (a.hwsrc, a.psrc, a.hwdst, a.pdst) == (s.mac, s.ip, PEER_MAC, PEER_IP)
    assert len(bytes(r)) == 60  # padded to the Ethernet minimum
    # a request for someone else's address is not answered
    s.peer.send(Ether(dst="ff:ff:ff:ff:ff:ff", src=PEER_MAC)
                / ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst="10.0.2.99"))
    assert s.peer.expect(lambda p: ARP in p and p[ARP].op == 2, 0.5) is None


def test_twenty_pings_with_identical_payloads(echo_host):
    s = echo_host
    payload = bytes(range(56))
    for seq in range(20):
        s.peer.send(to_stack(s, ICMP(id=0x1234, seq=seq), payload))
    got = s.peer.collect(lambda p: ICMP in p and p[ICMP].type == 0, 20, WAIT * 3)
    assert sorted(p[ICMP].seq for p in got) == list(range(20))
    for p in got:
        assert p[ICMP].id == 0x1234 and p[ICMP].code == 0
        assert p[Raw].load == payload
        assert (p[IP].src, p[IP].dst, p.dst, p.src) == (s.ip, PEER_IP, PEER_MAC, s.mac)
        assert icmp_ok(p)
        # the IP header checksum verifies
        h = IP(bytes(p[IP]))
        del h.chksum
        assert IP(bytes(h)).chksum == p[IP].chksum


def test_udp_echo_on_port_7(echo_host):
    s = echo_host
    for data in (b"x", b"hello ethox-uk", bytes(range(256)) * 5):
        s.peer.send(to_stack(s, UDP(sport=40000, dport=7), data))
        r = s.peer.expect(lambda p: UDP in p and p[UDP].dport == 40000, WAIT)
        assert r is not None, len(data)
        assert r[UDP].sport == 7 and r[Raw].load == data
        assert (r[IP].src, r[IP].dst) == (s.ip, PEER_IP)
        u = UDP(bytes(r[IP].payload))
        chk = u.chksum
        del u.chksum
        rebuilt = IP(bytes(IP(src=s.ip, dst=PEER_IP, proto=17) / u))
        assert rebuilt[UDP].chksum == chk


def test_closed_udp_port_gives_icmp_port_unreachable(echo_host):
    s = echo_host
    sent = to_stack(s, UDP(sport=40001, dport=9999), b"anyone there?")
    s.peer.send(sent)
    r = s.peer.expect(lambda p: ICMP in p and p[ICMP].type == 3, WAIT)
    assert r is not None
    assert r[ICMP].code == 3 and r[IP].src == s.ip and r[IP].dst == PEER_IP
    assert icmp_ok(r)
    quoted = bytes(r[ICMP].payload)
    orig = bytes(sent[IP])
    assert quoted[:28] == orig[:28]  # the original IP header and 8 bytes of UDP


def test_fragmented_ping_is_reassembled_and_answered(echo_host):
    s = echo_host
    payload = bytes(i * 7 & 255 for i in range(3000))
    frags = fragment(IP(src=PEER_IP, dst=s.ip, id=0x4242) / ICMP(id=9, seq=1) / payload,
                     fragsize=1400)
    assert len(frags) == 3
    for f in reversed(frags):  # out of order, too
        s.peer.send(Ether(dst=s.mac, src=PEER_MAC) / f)
    parts = s.peer.collect(lambda p: IP in p and p[IP].proto == 1 and p[IP].src == s.ip
                           and (p[IP].flags.MF or p[IP].frag), 3, WAIT)
    assert len(parts) >= 2, [p.summary() for p in parts]
    parts.sort(key=lambda p: p[IP].frag)
    data = b""
    for p in parts:
        assert p[IP].frag * 8 == len(data)  # contiguous
        assert len(bytes(p)) <= 1514
        data += bytes(p[IP].payload)[: p[IP].len - p[IP].ihl * 4]
    assert not parts[-1][IP].flags.MF
    reply = ICMP(data)
    assert reply.type == 0 and reply.id == 9 and reply.seq == 1
    assert bytes(reply.payload) == payload


def test_sigterm_and_sigint_stop_cleanly(sockdir):
    for sig in (signal.SIGTERM, signal.SIGINT):
        s = Served(sockdir)
        s.peer.send(to_stack(s, ICMP(id=1, seq=1)))
        assert s.peer.expect(lambda p: ICMP in p, WAIT) is not None
        assert os.path.exists(s.local)
        s.peer.close()
        assert s.host.stop(sig) == 0
        out, err = s.host.communicate()
        assert not os.path.exists(s.local)
        assert "stopped: rx" in err and "internal error" not in err, err


def test_pcap_records_the_conversation(sockdir):
    pcap = os.path.join(sockdir, "t.pcap")
    s = Served(sockdir, args=("--pcap", pcap))
    s.peer.send(to_stack(s, ICMP(id=5, seq=6), b"pcap"))
    assert s.peer.expect(lambda p: ICMP in p, WAIT) is not None
    status, out, err = s.close()
    assert status == 0, err
    pk = rdpcap(pcap)
    assert [p[ICMP].type for p in pk if ICMP in p] == [8, 0]


def test_ip_and_mac_options_win_over_the_recipe(sockdir):
    s = Served(sockdir, args=("--ip", "10.0.3.7/24", "--gw", "10.0.3.1", "--mac",
                              "02:00:00:00:00:07"))
    try:
        assert s.host.lines[-1] == ("ethox-uk: ready ip=10.0.3.7 mac=02:00:00:00:00:07 "
                                    "ip6=fe80::ff:fe00:7/64")
        s.peer.send(Ether(dst="ff:ff:ff:ff:ff:ff", src=PEER_MAC)
                    / ARP(op=1, hwsrc=PEER_MAC, psrc="10.0.3.1", pdst="10.0.3.7"))
        r = s.peer.expect(lambda p: ARP in p and p[ARP].op == 2, WAIT)
        assert r is not None and r[ARP].hwsrc == "02:00:00:00:00:07"
    finally:
        assert s.close()[0] == 0


# -- errors: one line, non-zero status --------------------------------------------------

def test_host_without_net_says_how(sockdir):
    r = run_cli("host", ECHO)
    assert r.returncode == 2
    line = one_line_error(r)
    assert "host mode needs --net" in line and "--net dgram:" in line


def test_host_rejects_bridge_and_says_what_to_use():
    r = run_cli("host", ECHO, "--net", "bridge")
    assert r.returncode == 2
    line = one_line_error(r)
    assert "--net bridge is for VM images" in line and "dgram:LOCAL,REMOTE" in line


def test_bad_net_options_are_one_line(sockdir):
    long_path = "/tmp/" + "x" * 120
    cases = [
        (("--net", "udp:1,2"), "unknown network"),
        (("--net", "dgram:/tmp/only-one"), "write dgram:LOCAL,REMOTE"),
        (("--net", "dgram:%s,%s/p" % (long_path, sockdir)), "the limit is 99"),
        (("--net", "dgram:/nonexistent/a,/tmp/b"), "does not exist"),
        (("--net", "tap:this-name-is-too-long"), "bad interface name"),
        (("--net", "dgram:%s/s,%s/p" % (sockdir, sockdir), "--ip", "10.0.2.999"),
         "bad IPv4 address"),
        (("--net", "dgram:%s/s,%s/p" % (sockdir, sockdir), "--mac", "01:00:00:00:00:01"),
         "multicast"),
        (("--net", "dgram:%s/s,%s/p" % (sockdir, sockdir), "--gw", "192.168.1.1"),
         "not inside"),
    ]
    for args, want in cases:
        r = run_cli("host", ECHO, *args)
        assert r.returncode == 2, (args, r.stderr)
        assert want in one_line_error(r), (args, r.stderr)
    assert not os.listdir(sockdir)  # nothing was bound


def write_recipe(sockdir, toml, app):
    d = os.path.join(sockdir, "rec")
    os.mkdir(d)
    with open(os.path.join(d, "recipe.toml"), "w") as f:
        f.write(toml)
    if app is not None:
        with open(os.path.join(d, "app.py"), "w") as f:
            f.write(textwrap.dedent(app))
    return d


def test_bad_recipes_are_one_line(sockdir):
    net = ("--net", "dgram:%s/s,%s/p" % (sockdir, sockdir))
    r = run_cli("host", os.path.join(sockdir, "missing"), *net)
    assert r.returncode == 2 and "no such recipe" in one_line_error(r)
    d = write_recipe(sockdir, 'memory = "lots"\n', "def main(net): pass\n")
    r = run_cli("host", d, *net)
    assert r.returncode == 2
    line = one_line_error(r)
    assert "recipe.toml: memory:" in line and "e.g. \"64M\"" in line
    os.remove(os.path.join(d, "recipe.toml"))
    with open(os.path.join(d, "recipe.toml"), "w") as f:
        f.write('app = "server"\n')
    r = run_cli("host", d, *net)
    assert r.returncode == 2 and "server.py not found" in one_line_error(r)


def test_app_exceptions_and_exit_codes(sockdir):
    net = ("--net", "dgram:%s/s,%s/p" % (sockdir, sockdir))
    d = write_recipe(sockdir, "", """
        def main(net):
            raise RuntimeError("no luck today")
    """)
    r = run_cli("host", d, *net)
    assert r.returncode == 1
    assert "app app raised RuntimeError: no luck today" in r.stderr
    assert not os.path.exists(os.path.join(sockdir, "s"))
    with open(os.path.join(d, "app.py"), "w") as f:
        f.write("import sys\ndef main(net):\n    sys.exit(3)\n")
    assert run_cli("host", d, *net).returncode == 3
    with open(os.path.join(d, "app.py"), "w") as f:
        f.write("X = 1\n")
    r = run_cli("host", d, *net)
    assert r.returncode == 2 and "defines no main(net)" in one_line_error(r)
    assert not os.path.exists(os.path.join(sockdir, "s"))


def test_app_reads_boot_words(sockdir):
    d = write_recipe(sockdir, 'cmdline = "ip=10.0.2.15/24 gw=10.0.2.2 greeting=hi ip6=off"\n', """
        def main(net):
            print("greeting", net.config.words.get("greeting"))
    """)
    s = Served(sockdir, recipe=d)
    try:
        assert s.host.lines == ["greeting hi", "ethox-uk: ready ip=10.0.2.15 "
                                "mac=52:54:00:12:34:56"]
    finally:
        assert s.close()[0] == 0
