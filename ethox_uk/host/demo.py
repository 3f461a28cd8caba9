"""`ethox-uk demo`: the echo app in host mode, exercised by a scapy peer.

Starts `ethox-uk host RECIPE --net dgram:STACK,PEER` (short socket paths in a fresh /tmp
directory), waits for the ready line, then from the peer socket: ARP who-has, 5 pings, one UDP
echo on port 7. Prints a rich table of what came back, stops the host with SIGTERM and returns
0 only if everything was answered and the host exited 0.
"""

import os
import shutil
import tempfile
import time

from .peer import PEER_IP, PEER_MAC, DgramPeer
from .process import HostProcess, HostStartError

REPLY_TIMEOUT = 2.0  # seconds per answer


def exchange(peer, pkt, match):
    t0 = time.monotonic()
    peer.send(pkt)
    r = peer.expect(match, REPLY_TIMEOUT)
    return r, (time.monotonic() - t0) * 1000


def checks(peer, ip, mac):
    """Run the demo's exchanges; yields (what, sent, answer or None, ms)."""
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.l2 import ARP, Ether
    from scapy.packet import Raw

    r, ms = exchange(peer, Ether(dst="ff:ff:ff:ff:ff:ff", src=PEER_MAC)
                     / ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst=ip),
                     lambda p: ARP in p and p[ARP].op == 2 and p[ARP].psrc == ip)
    yield ("ARP who-has %s" % ip, "broadcast",
           r and "is-at %s" % r[ARP].hwsrc, ms)
    for seq in range(1, 6):
        payload = bytes(range(48))
        r, ms = exchange(peer, Ether(dst=mac, src=PEER_MAC) / IP(src=PEER_IP, dst=ip)
                         / ICMP(id=0x4558, seq=seq) / payload,
                         lambda p, s=seq: ICMP in p and p[ICMP].type == 0
                         and p[ICMP].seq == s and p[ICMP].id == 0x4558)
        ok = r is not None and Raw in r and r[Raw].load == payload
        yield ("ping seq=%d" % seq, "%d B" % (8 + len(payload)),
               ok and "reply %d B, ttl %d" % (len(r[ICMP]) - len(r[ICMP].payload) + len(payload),
                                             r[IP].ttl), ms)
    data = b"hello ethox-uk"
    r, ms = exchange(peer, Ether(dst=mac, src=PEER_MAC) / IP(src=PEER_IP, dst=ip)
                     / UDP(sport=40007, dport=7) / data,
                     lambda p: UDP in p and p[UDP].sport == 7 and p[UDP].dport == 40007)
    ok = r is not None and Raw in r and r[Raw].load == data
    yield ("UDP echo port 7", repr(data.decode()),
           ok and repr(r[Raw].load.decode()), ms)


def run_demo(recipe="images/echo", timeout=30.0):
    from rich.console import Console
    from rich.table import Table

    console = Console()
    d = tempfile.mkdtemp(prefix="exd", dir="/tmp")
    stack_sock, peer_sock = os.path.join(d, "stack.sock"), os.path.join(d, "peer.sock")
    spec = "dgram:%s,%s" % (stack_sock, peer_sock)
    failed = 0
    try:
        with HostProcess(recipe, spec) as h:
            console.print("$ ethox-uk host %s --net %s" % (recipe, spec), markup=False,
                          highlight=False, soft_wrap=True)
            try:
                ip, mac = h.wait_ready(timeout)
            except HostStartError as e:
                console.print("ethox-uk demo: %s" % e, markup=False, highlight=False)
                return 1
            console.print(h.lines[-1], markup=False, highlight=False)
            t = Table(title="scapy peer %s on %s" % (PEER_IP, peer_sock))
            for col in ("check", "sent", "answer", "ms"):
                t.add_column(col, justify="right" if col == "ms" else "left")
            with DgramPeer(spec) as peer:
                for what, sent, answer, ms in checks(peer, ip, mac):
                    if not answer:
                        failed += 1
                    t.add_row(what, sent, answer or "[red]no answer[/red]",
                              "%.1f" % ms if answer else "-")
            console.print(t)
            status = h.stop()
            console.print("host stopped with status %s" % status, markup=False,
                          highlight=False)
            if status != 0:
                failed += 1
            if os.path.exists(stack_sock):
                console.print("socket file %s was left behind" % stack_sock, markup=False)
                failed += 1
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if failed:
        console.print("[red]%d check(s) failed[/red]" % failed)
        return 1
    console.print("[green]every request was answered[/green]")
    return 0
