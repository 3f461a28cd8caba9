"""The peer's side of a dgram SPEC, for scapy: bind REMOTE, send raw Ethernet frames to LOCAL.

    peer = DgramPeer(spec)                       # spec: the target's NetSpec or SPEC string
    peer.send(Ether(...)/IP(...)/ICMP())         # anything bytes() accepts
    reply = peer.expect(lambda p: ICMP in p, timeout=2)   # a scapy Ether, or None
    peer.close()                                 # removes the REMOTE socket file

Frames that arrive and do not match are kept (in order) for later expect()/recv() calls, so
an ARP request from the stack does not hide the reply a test waits for; `answer_arp=True`
(with `ip`/`mac`) makes the peer answer the stack's ARP requests for its own address. Every
wait is bounded by its timeout.
"""

import os
import select
import socket
import time

from ..netspec import NetSpec, parse_spec
from ..stack.nic.dgram import remove_stale

PEER_IP = "10.0.2.2"
PEER_MAC = "52:54:00:00:00:02"


class DgramPeer:
    def __init__(self, spec, ip=PEER_IP, mac=PEER_MAC, answer_arp=True):
        if not isinstance(spec, NetSpec):
            spec = parse_spec(spec)
        if spec.kind != "dgram":
            raise ValueError("a DgramPeer needs a dgram SPEC, not %r" % spec.text)
        self.target = spec.local
        self.path = spec.remote
        self.ip = ip
        self.mac = mac
        self.answer_arp = answer_arp
        remove_stale(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.backlog = []
        self.sent = 0

    def send(self, pkt):
        data = bytes(pkt)
        self.sock.sendto(data, self.target)
        self.sent += 1

    def _read(self, timeout):
        r, _, _ = select.select([self.sock], [], [], max(timeout, 0))
        if not r:
            return None
        return self.sock.recv(65536)

    def _parse(self, data):
        from scapy.layers.l2 import ARP, Ether

        p = Ether(data)
        if self.answer_arp and ARP in p and p[ARP].op == 1 and p[ARP].pdst == self.ip:
            self.send(Ether(dst=p.src, src=self.mac)
                      / ARP(op=2, hwsrc=self.mac, psrc=self.ip, hwdst=p[ARP].hwsrc,
                            pdst=p[ARP].psrc))
        return p

    def recv(self, timeout=1.0):
        """The next frame (scapy Ether), or None after `timeout` seconds."""
        if self.backlog:
            return self.backlog.pop(0)
        data = self._read(timeout)
        return None if data is None else self._parse(data)

    def expect(self, match, timeout=2.0):
        """The first frame for which match(frame) is true, or None after `timeout`."""
        for i, p in enumerate(self.backlog):
            if match(p):
                return self.backlog.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            data = self._read(left)
            if data is None:
                return None
            p = self._parse(data)
            if match(p):
                return p
            self.backlog.append(p)

    def collect(self, match, count, timeout=2.0):
        """Up to `count` matching frames received within `timeout` seconds."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            p = self.expect(match, max(0.0, deadline - time.monotonic()))
            if p is None:
                break
            out.append(p)
        return out

    def drain(self):
        self.backlog.clear()
        while self._read(0) is not None:
            pass

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            try:
                os.remove(self.path)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
