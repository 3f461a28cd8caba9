"""A tiny stand-in target for testing the framework itself (no ethox stack involved): a
thread on a unix datagram socket that answers ARP requests for its address and ICMP echo
requests, or nothing at all (`mute=True`)."""

import os
import select
import socket
import threading

from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether

from ethox_uk.conformance.target import Target

IP_ADDR = "10.0.2.15"
MAC = "52:54:00:12:34:56"


class FakeStack(threading.Thread):
    def __init__(self, local, remote, mute=False):
        super().__init__(daemon=True)
        self.local, self.remote, self.mute = local, remote, mute
        self.halt = threading.Event()
        if os.path.exists(local):
            os.unlink(local)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(local)
        self.received = 0

    def answer(self, p):
        if ARP in p and p[ARP].op == 1 and p[ARP].pdst == IP_ADDR:
            return Ether(dst=p.src, src=MAC) / ARP(op=2, hwsrc=MAC, psrc=IP_ADDR,
                                                   hwdst=p[ARP].hwsrc, pdst=p[ARP].psrc)
        if IP in p and ICMP in p and p[IP].dst == IP_ADDR and p[ICMP].type == 8:
            return (Ether(dst=p.src, src=MAC) / IP(src=IP_ADDR, dst=p[IP].src)
                    / ICMP(type=0, id=p[ICMP].id, seq=p[ICMP].seq) / bytes(p[ICMP].payload))
        return None

    def run(self):
        while not self.halt.is_set():
            r, _, _ = select.select([self.sock], [], [], 0.05)
            if not r:
                continue
            raw = self.sock.recv(65536)
            self.received += 1
            if self.mute:
                continue
            reply = self.answer(Ether(raw))
            if reply is not None:
                try:
                    self.sock.sendto(bytes(reply), self.remote)
                except OSError:
                    pass

    def stop(self):
        self.halt.set()
        self.join(2)
        self.sock.close()
        try:
            os.unlink(self.local)
        except OSError:
            pass


class FakeTarget(Target):
    kind = "fake"

    def __init__(self, mute=False, **kw):
        super().__init__(**kw)
        self.mute = mute
        self.stack = None

    def start(self, timeout=None):
        self.stack = FakeStack(self.spec.local, self.spec.remote, self.mute)
        self.stack.start()

    def stop(self):
        if self.stack is not None:
            self.stack.stop()
            self.stack = None
