"""The other end of a dgram SPEC (DESIGN §5): bind REMOTE, send whole Ethernet frames to
LOCAL. The one home of that job: the demo, the tests, `bench --image` and the conformance
suite's DgramLink all stand on RawDgramPeer.

    peer = RawDgramPeer(local, remote)          # bytes in, bytes out
    peer.send(frame)                            # TargetGone: nobody at LOCAL, or it stays full
    peer.try_send(frame)                        # one attempt, never waits: True when it went
    frame = peer.recv_frame(timeout)            # bytes or None; ARP for `ip` answered
    frame = peer.read()                         # bytes or None at once; nothing answered
    peer.close()                                # closes and removes REMOTE

    peer = DgramPeer(spec)                      # the same for scapy (spec: NetSpec or SPEC)
    peer.send(Ether(...)/IP(...)/ICMP())        # anything bytes() accepts
    reply = peer.expect(lambda p: ICMP in p, timeout=2)   # a scapy Ether, or None

The peer answers ARP requests for its own address (`ip`, as `mac`) itself, in raw bytes (no
scapy on the bench's timed path). DgramPeer keeps frames that do not match an expect() (in
order) for later expect()/recv() calls, so an ARP request from the stack does not hide the
reply a test waits for. Every wait is bounded.
"""

import errno
import os
import select
import socket
import time

from ..netspec import NetSpec, parse_spec
from ..stack.nic.dgram import remove_stale

PEER_IP = "10.0.2.2"
PEER_MAC = "52:54:00:00:00:02"
MAX_FRAME = 65536
SEND_PATIENCE = 10.0  # seconds send() waits for room in a full target queue by default
_ARP_REPLY_HEAD = b"\x08\x06\x00\x01\x08\x00\x06\x04\x00\x02"  # ethertype, Ethernet/IPv4, op 2


class TargetGone(Exception):
    """Nothing answers at the target's socket any more (or never did)."""


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


def ip_bytes(text):
    return bytes(int(x) for x in text.split("."))


def is_arp_request_for(frame, ip):
    """Whether frame is an ARP request for ip (4 bytes)."""
    return len(frame) >= 42 and frame[12:14] == b"\x08\x06" and frame[20:22] == b"\x00\x01" \
        and frame[38:42] == ip


def arp_reply(request, mac, ip, to=None):
    """The reply to an ARP request (raw) from mac (6 bytes) at ip (4 bytes), sent to the
    request's Ethernet source, or to `to` (6 bytes)."""
    dst = bytes(request[6:12]) if to is None else bytes(to)
    return dst + mac + _ARP_REPLY_HEAD + mac + ip + bytes(request[22:32])


class RawDgramPeer:
    def __init__(self, local, remote, ip=PEER_IP, mac=PEER_MAC, answer_arp=True, rcvbuf=None):
        self.target = local
        self.path = remote
        self.ip = ip
        self.mac = mac
        self.answer_arp = answer_arp
        self._ip = ip_bytes(ip)
        self._mac = mac_bytes(mac)
        self.sent = 0
        remove_stale(remote)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            s.bind(remote)
            s.setblocking(False)
            if rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        except Exception:
            s.close()
            raise
        self.sock = s

    def fileno(self):
        return self.sock.fileno()

    # -- sending ------------------------------------------------------------------------
    def send(self, frame, clock=time.monotonic, give_up=None):
        """Send one frame (anything bytes() accepts), waiting for room in the target's queue
        until give_up (clock()'s time; default SEND_PATIENCE from now). TargetGone when
        nothing is bound at LOCAL or its queue stays full."""
        data = bytes(frame)
        while True:
            try:
                self.sock.sendto(data, self.target)
                self.sent += 1
                return
            except (FileNotFoundError, ConnectionRefusedError) as e:
                raise TargetGone("nothing is bound at %s (%s): the target is not running, "
                                 "or was started with another SPEC"
                                 % (self.target, os.strerror(e.errno))) from None
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as e:
                if e.errno != errno.ENOBUFS:
                    raise
            if give_up is None:
                give_up = clock() + SEND_PATIENCE
            elif clock() > give_up:  # the target stopped reading its socket
                raise TargetGone("the target's socket %s stays full: it stopped reading"
                                 % self.target)
            select.select([], [self.sock], [], 0.05)

    def try_send(self, frame):
        """One attempt, never waiting: False when nobody is bound or the queue is full."""
        try:
            self.sock.sendto(frame, self.target)
        except (FileNotFoundError, ConnectionRefusedError, BlockingIOError):
            return False
        self.sent += 1
        return True

    # -- receiving ----------------------------------------------------------------------
    def read(self):
        """A queued frame (bytes) or None, without waiting; nothing is answered."""
        try:
            # MSG_DONTWAIT: never blocks, even if a user made the socket blocking
            return self.sock.recv(MAX_FRAME, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return None

    def recv_frame(self, timeout):
        """The next frame (bytes) within timeout seconds, or None. An ARP request for `ip`
        is answered (and returned all the same)."""
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        f = self.read() if r else None  # None too when another reader took it first
        if f is not None and self.answer_arp and is_arp_request_for(f, self._ip):
            self.try_send(arp_reply(f, self._mac, self._ip))
        return f

    # -- end ----------------------------------------------------------------------------
    def close(self):
        s, self.sock = self.sock, None
        if s is not None:
            s.close()
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class DgramPeer(RawDgramPeer):
    """RawDgramPeer for scapy: frames come back as scapy Ether packets."""

    def __init__(self, spec, ip=PEER_IP, mac=PEER_MAC, answer_arp=True):
        if not isinstance(spec, NetSpec):
            spec = parse_spec(spec)
        if spec.kind != "dgram":
            raise ValueError("a DgramPeer needs a dgram SPEC, not %r" % spec.text)
        super().__init__(spec.local, spec.remote, ip=ip, mac=mac, answer_arp=answer_arp)
        self.backlog = []

    @staticmethod
    def _parse(data):
        from scapy.layers.l2 import Ether

        return Ether(data)

    def recv(self, timeout=1.0):
        """The next frame (scapy Ether), or None after `timeout` seconds."""
        if self.backlog:
            return self.backlog.pop(0)
        data = self.recv_frame(timeout)
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
            data = self.recv_frame(left)
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
        while self.read() is not None:
            pass
