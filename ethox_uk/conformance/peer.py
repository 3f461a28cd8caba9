"""The suite's side of the link: raw Ethernet frames to and from the target.

    peer = Peer(DgramLink(spec.local, spec.remote), mac=..., ip=..., pcap=FILE)
    peer = Peer(PacketLink("veth1", netns="exuk-1-2"), ...)     # a local interface (root)
    peer.send(Ether(...) / IP(...) / ICMP())      # anything bytes() accepts
    f = peer.wait(match, 1.0, "echo reply")       # a Frame or None (logged "nothing within")
    frames = peer.collect(0.3)                    # everything within 0.3 s
    peer.close()                                  # closes and removes REMOTE, ends the pcap

A link (links.py) moves whole frames: DgramLink is the peer side of a dgram SPEC (binds
REMOTE, sends to LOCAL); PacketLink is a packet socket on a local interface.
Every frame either way is numbered (its number in the pcap, 1-based as in Wireshark),
written to the pcap and added to the current transcript in words. The peer answers ARP
requests for the addresses in `peer.answers` ({ip: mac}) by itself. Waits are bounded by
their timeout and by `peer.deadline` (the running check's time bound: CheckTimeout).
"""

import select
import socket
import time

from ..host.dgram_peer import arp_reply, mac_bytes
from .describe import describe
from .links import DgramLink, TargetGone  # noqa: F401 (re-exported)
from .registry import CheckTimeout


MARKER_DST = b"\xff" * 6
MARKER_SRC = bytes(6)
MARKER_TYPE = 0x88B5


class Frame:
    """One frame on the wire: raw bytes, when (monotonic), its number, its direction."""

    __slots__ = ("raw", "t", "index", "sent", "_pkt")

    def __init__(self, raw, t, index, sent):
        self.raw = raw
        self.t = t
        self.index = index
        self.sent = sent
        self._pkt = None

    @property
    def pkt(self):
        """The frame parsed by scapy (Ether), made once."""
        if self._pkt is None:
            from scapy.layers.l2 import Ether

            self._pkt = Ether(self.raw)
        return self._pkt

    def __len__(self):
        return len(self.raw)

    def __repr__(self):
        return "Frame(#%d %s)" % (self.index, describe(self.raw))


class Peer:
    def __init__(self, link, mac, ip, pcap=None, clock=time.monotonic):
        self.link = link
        self.mac = mac
        self.ip = ip
        self.clock = clock
        self.answers = {ip: mac}  # ARP requests the peer answers by itself
        self.auto_arp = True
        self.answers6 = {}  # IPv6 address -> MAC: neighbour solicitations answered likewise
        self.deadline = None
        self.index = 0
        self.lines = []  # transcript of the current check: (seconds, arrow, text, index)
        self.rx_log = []  # frames received in the current transcript
        self.t0 = clock()
        self.sent_frames = 0
        self.received_frames = 0
        self._pcap = None
        if pcap:
            from scapy.utils import PcapWriter

            from ..capture import open_capture_file

            self._pcap = PcapWriter(open_capture_file(pcap), linktype=1, sync=True)

    # -- transcript -----------------------------------------------------------------
    def start_transcript(self):
        self.lines = []
        self.rx_log = []
        self.t0 = self.clock()

    def _line(self, arrow, text, index=None):
        self.lines.append((self.clock() - self.t0, arrow, text, index))

    def note(self, text):
        """A line of commentary in the transcript ("· text")."""
        self._line("·", text)

    def transcript(self):
        """The current transcript as lines of text."""
        out = []
        for t, arrow, text, index in self.lines:
            num = "#%-4d" % index if index is not None else "     "
            out.append("%6.3fs %s %s %s" % (t, num, arrow, text))
        return out

    def marker(self, text):
        """A marker frame in the pcap only (never sent): Ethernet type 0x88b5 (IEEE local
        experimental) from 00:00:00:00:00:00 carrying `text`, so Wireshark/tshark show where
        each check begins (`eth.type == 0x88b5`). Returns its frame number, or None."""
        if self._pcap is None:
            return None
        f = self._record(MARKER_DST + MARKER_SRC + b"\x88\xb5" + text.encode(), False)
        return f.index

    # -- sending --------------------------------------------------------------------
    def _record(self, raw, sent):
        self.index += 1
        if self._pcap is not None:
            self._pcap.write(raw)
        return Frame(raw, self.clock(), self.index, sent)

    def send(self, pkt, note=None):
        """Send one frame (a scapy packet or bytes) to the target; returns its Frame."""
        raw = bytes(pkt)
        self.link.send(raw, self.clock, self.clock() + 1.0)
        f = self._record(raw, True)
        self.sent_frames += 1
        self._line("→", describe(raw) + (" (%s)" % note if note else ""), f.index)
        return f

    # -- receiving ------------------------------------------------------------------
    def _read(self, timeout):
        """Raw bytes of the next frame within timeout, or None."""
        if self.deadline is not None:
            left = self.deadline - self.clock()
            if left <= 0:
                raise CheckTimeout("the check ran past its time bound")
            timeout = min(timeout, left)
        raw = self.link.recv()
        if raw is not None or timeout <= 0:
            return raw
        r, _, _ = select.select([self.link], [], [], timeout)
        return self.link.recv() if r else None

    def _describe_rx(self, raw):
        text = describe(raw)
        dst = ":".join("%02x" % b for b in raw[:6])
        if dst != self.mac and not raw[0] & 1:
            text += " [to Ethernet %s]" % dst
        return text

    def _auto_arp(self, f):
        raw = f.raw
        if (not self.auto_arp or len(raw) < 42 or raw[12:14] != b"\x08\x06"
                or raw[20:22] != b"\x00\x01"):
            return
        pdst = socket.inet_ntoa(raw[38:42])
        mac = self.answers.get(pdst)
        if mac is None:
            return
        # to the ARP sender's hardware address (not the frame's Ethernet source)
        self.send(arp_reply(raw, mac_bytes(mac), raw[38:42], to=raw[22:28]),
                  note="answered by the peer")

    def _auto_nd(self, f):
        raw = f.raw
        if (not self.auto_arp or not self.answers6 or len(raw) < 78
                or raw[12:14] != b"\x86\xdd" or raw[20] != 58 or raw[54] != 135):
            return
        target = socket.inet_ntop(socket.AF_INET6, bytes(raw[62:78]))
        mac = self.answers6.get(target)
        if mac is None:
            return
        from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
        from scapy.layers.l2 import Ether

        src = socket.inet_ntop(socket.AF_INET6, bytes(raw[22:38]))
        unspec = src == "::"
        self.send(Ether(dst=":".join("%02x" % b for b in raw[6:12]), src=mac)
                  / IPv6(src=target, dst="ff02::1" if unspec else src, hlim=255)
                  / ICMPv6ND_NA(tgt=target, R=0, S=0 if unspec else 1, O=1)
                  / ICMPv6NDOptDstLLAddr(lladdr=mac), note="answered by the peer")

    def recv(self, timeout):
        """The next frame within timeout (a Frame), or None. ARP for `answers` is answered."""
        raw = self._read(timeout)
        if raw is None:
            return None
        f = self._record(raw, False)
        self.received_frames += 1
        self.rx_log.append(f)
        self._line("←", self._describe_rx(raw), f.index)
        self._auto_arp(f)
        self._auto_nd(f)
        return f

    def wait(self, match, timeout, what=None):
        """The first frame within timeout for which match(frame) is true, or None."""
        end = self.clock() + timeout
        while True:
            left = end - self.clock()
            if left <= 0:
                break
            f = self.recv(left)
            if f is None:
                break
            if match(f):
                return f
        self._check_deadline()
        self._line("←", "nothing%s within %.1f s" % (" (%s)" % what if what else "", timeout))
        return None

    def collect(self, timeout, until=None):
        """Every frame received within timeout (stops early once until(frame) is true)."""
        out = []
        end = self.clock() + timeout
        while True:
            left = end - self.clock()
            if left <= 0:
                break
            f = self.recv(left)
            if f is None:
                break
            out.append(f)
            if until is not None and until(f):
                break
        self._check_deadline()
        return out

    def drain(self):
        """Read whatever is queued now (late answers to an earlier check); no waiting."""
        out = []
        while True:
            raw = self.link.recv()
            if raw is None:
                return out
            f = self._record(raw, False)
            self.received_frames += 1
            self._line("←", self._describe_rx(raw) + " (left over)", f.index)
            self._auto_arp(f)
            self._auto_nd(f)
            out.append(f)

    def _check_deadline(self):
        if self.deadline is not None and self.clock() >= self.deadline:
            raise CheckTimeout("the check ran past its time bound")

    # -- end ------------------------------------------------------------------------
    def close(self):
        link, self.link = self.link, None
        if link is not None:
            link.close()
        p, self._pcap = self._pcap, None
        if p is not None:
            p.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SidePeer(Peer):
    """A second link within one check (a fresh DHCP client's, sidelink.py): its frames are
    numbered in and written to the main peer's pcap, and its lines go into the main
    transcript marked "[client]"; it keeps its own rx_log and answers ARP for its `ip`."""

    def __init__(self, link, main, mac, ip):
        super().__init__(link, mac, ip, pcap=None, clock=main.clock)
        self.main = main
        self.t0 = main.t0
        self.deadline = main.deadline

    def _record(self, raw, sent):
        return self.main._record(raw, sent)

    def _line(self, arrow, text, index=None):
        self.main._line(arrow, "[client] " + text, index)
