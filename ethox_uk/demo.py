"""`ethox-uk demo`: the echo image booted in QEMU (default) or the echo app in host mode
(`--host`), exercised by a scapy peer over unix datagram sockets (rootless).

Image demo (run_image_demo): builds images/echo (make is incremental: quick when nothing
changed), boots it with `-netdev dgram` (KVM, else TCG with a notice), waits for the ready
line, then from the peer socket: ARP, 5 pings, UDP echo, and a TCP exchange made of crafted
segments (handshake, `GET /`, the page, FIN both ways). Prints the table, stops the guest,
returns 0 only if everything was answered. Every wait is bounded.

Host demo (run_demo): starts `ethox-uk host RECIPE --net dgram:STACK,PEER` (short socket paths in a fresh /tmp
directory), waits for the ready line, then from the peer socket: ARP who-has, 5 pings, one UDP
echo on port 7. Prints a rich table of what came back, stops the host with SIGTERM and returns
0 only if everything was answered and the host exited 0.
"""

import os
import shutil
import tempfile
import time

from .host.dgram_peer import PEER_IP, PEER_MAC, DgramPeer
from .host.process import HostProcess, HostStartError

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


# -- the booted image ---------------------------------------------------------------------

def tcp_http_get(peer, ip, mac, path="/", port=80, timeout=REPLY_TIMEOUT * 3):
    """A TCP client made of scapy segments: SYN, ACK + request, the response ACKed segment by
    segment until the server's FIN, then our FIN. (status line or None, bytes, ms, note)."""
    import random

    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    sport = random.randint(40000, 60000)
    isn = random.randint(0, 2**31)
    base = Ether(dst=mac, src=PEER_MAC) / IP(src=PEER_IP, dst=ip)

    def ours(p):
        return TCP in p and p[TCP].sport == port and p[TCP].dport == sport

    t0 = time.monotonic()
    peer.send(base / TCP(sport=sport, dport=port, flags="S", seq=isn, window=65535,
                         options=[("MSS", 1460)]))
    r = peer.expect(lambda p: ours(p) and p[TCP].flags & 0x12 == 0x12, timeout)
    if r is None:
        return None, b"", (time.monotonic() - t0) * 1000, "no SYN-ACK"
    rcv = (r[TCP].seq + 1) & 0xFFFFFFFF
    seq = (isn + 1) & 0xFFFFFFFF
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, ip)).encode()
    peer.send(base / TCP(sport=sport, dport=port, flags="A", seq=seq, ack=rcv, window=65535))
    peer.send(base / TCP(sport=sport, dport=port, flags="PA", seq=seq, ack=rcv, window=65535)
              / req)
    seq = (seq + len(req)) & 0xFFFFFFFF
    body = bytearray()
    fin = False
    end = time.monotonic() + timeout * 3
    while not fin and time.monotonic() < end:
        r = peer.expect(ours, timeout)
        if r is None:
            break
        t = r[TCP]
        data = bytes(t.payload)
        if t.flags & 0x04:
            return None, bytes(body), (time.monotonic() - t0) * 1000, "reset by the guest"
        if t.seq == rcv:  # in order (a retransmission of what we have is just re-ACKed)
            body += data
            rcv = (rcv + len(data)) & 0xFFFFFFFF
            if t.flags & 0x01:
                rcv = (rcv + 1) & 0xFFFFFFFF
                fin = True
        peer.send(base / TCP(sport=sport, dport=port, flags="A", seq=seq, ack=rcv,
                             window=65535))
    ms = (time.monotonic() - t0) * 1000
    if fin:
        peer.send(base / TCP(sport=sport, dport=port, flags="FA", seq=seq, ack=rcv,
                             window=65535))
        peer.expect(lambda p: ours(p) and p[TCP].ack == (seq + 1) & 0xFFFFFFFF, timeout)
    head = bytes(body).split(b"\r\n", 1)[0].decode(errors="replace")
    if not head.startswith("HTTP/1.1 200"):
        return None, bytes(body), ms, "no HTTP response" if not body else head
    return head, bytes(body), ms, None if fin else "no FIN from the guest"


def run_image_demo(recipe="images/echo", accel="auto", machine="microvm", timeout=60.0):
    from rich.console import Console
    from rich.table import Table

    from .build import elfinfo
    from .build.image import build
    from .build.recipe import RecipeError
    from .build.source import ToolchainError
    from .netspec import NetOpts, parse_spec
    from .qemu.cmdline import QemuError
    from .qemu.options import VmOptions
    from .qemu.session import READY
    from .qemu.vm import Console as VmConsole
    from .qemu.vm import Vm

    console = Console()

    def say(text):
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    say("$ ethox-uk build %s" % recipe)
    try:
        image = build(recipe, quiet=True)
    except (RecipeError, ToolchainError) as e:
        say("ethox-uk demo: the image did not build: %s" % e)
        return 1
    d = tempfile.mkdtemp(prefix="exd", dir="/tmp")
    stack_sock, peer_sock = os.path.join(d, "guest.sock"), os.path.join(d, "peer.sock")
    spec = "dgram:%s,%s" % (stack_sock, peer_sock)
    failed = 0
    vm = None
    try:
        with DgramPeer(spec) as peer:
            vm = Vm(elfinfo.check(image), VmOptions(accel, machine), NetOpts(parse_spec(spec)),
                    console="socket")
            try:
                vm.start()
            except QemuError as e:
                say("ethox-uk demo: %s" % e)
                return 1
            say("$ ethox-uk run %s --net %s --accel %s --machine %s"
                % (image, spec, vm.accel, machine))
            con = VmConsole(vm.console)
            seen = bytearray()
            dl = time.monotonic() + timeout
            while not READY.search(seen):
                if time.monotonic() > dl or con.eof:
                    say("ethox-uk demo: no ready line within %g s; console: %r"
                        % (timeout, bytes(seen[-300:])))
                    return 1
                seen += con.read(0.5)
            line = READY.search(seen).group(0).decode().strip()
            say(line)
            ip = line.split("ip=")[1].split()[0]
            mac = line.split("mac=")[1].split()[0]
            t = Table(title="scapy peer %s -> the booted image (%s, %s)"
                      % (PEER_IP, vm.accel, machine))
            for col in ("check", "sent", "answer", "ms"):
                t.add_column(col, justify="right" if col == "ms" else "left",
                             no_wrap=col != "sent", min_width=5 if col == "ms" else None)
            for what, sent, answer, ms in checks(peer, ip, mac):
                if not answer:
                    failed += 1
                t.add_row(what, sent, answer or "[red]no answer[/red]",
                          "%.1f" % ms if answer else "-")
            head, body, ms, note = tcp_http_get(peer, ip, mac)
            if head is None or note:
                failed += 1
                t.add_row("TCP 80 HTTP GET /", "SYN, GET, FIN",
                          "[red]%s[/red]" % (note or "no answer"), "-")
            else:
                t.add_row("TCP 80 HTTP GET /", "SYN, GET, FIN",
                          "%s, %d B, FIN" % (head.replace("HTTP/1.1 ", "HTTP "), len(body)), "%.1f" % ms)
            console.print(t)
            vm.stop()
            seen += con.read(0)
            if b"internal error" in seen:
                say("the guest reported an internal error")
                failed += 1
            say("guest stopped")
    finally:
        if vm is not None:
            vm.close()
        shutil.rmtree(d, ignore_errors=True)
    if failed:
        console.print("[red]%d check(s) failed[/red]" % failed)
        return 1
    console.print("[green]every request was answered[/green]")
    return 0
