"""How the suite's peer reaches the target: whole Ethernet frames over one link.

    DgramLink(target_path, own_path)     the peer side of a dgram SPEC (DESIGN §5): binds
                                         REMOTE (own_path), sends to LOCAL (target_path);
                                         host/dgram_peer.py's RawDgramPeer
    PacketLink(ifname, netns=None)       a packet socket on a local interface (a veth, a
                                         tap that QEMU holds, a USB NIC), optionally inside a
                                         network namespace (a name under /run/netns or a
                                         path such as /proc/PID/ns/net); needs root

Every link offers fileno(), send(raw) (TargetGone when nobody is there), recv() -> bytes
or None without waiting, describe() and close().

A packet socket sees the interface's traffic both ways; frames the interface sends itself
(PACKET_OUTGOING: ours, or the local kernel's) are skipped. A VM on a tap with offloads
hands over what a NIC would still have to finish: TCP segments up to 64 KiB (TSO) and
checksums left for "hardware" to fill in. The socket asks for the virtio-net header
(PACKET_VNET_HDR) that says so, and such frames are finished here as the NIC would put them
on a wire (segmented at the sender's segment size, checksums computed); everything else is
judged exactly as it arrived. It joins the interface's
promiscuous mode, because the peer answers for its own MAC, not the interface's. The
interface's own kernel stays out of the conversation as long as it holds no address the
peer uses: frames to the peer's MAC are "other host" to it and never reach its IP layer.
"""

import errno
import os
import select
import socket

from ..host.dgram_peer import RawDgramPeer, TargetGone  # noqa: F401 (re-exported)

MAX_FRAME = 65536
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_VNET_HDR = 15
VNET_HDR = 10  # struct virtio_net_hdr: flags, gso_type, hdr_len, gso_size, csum_start/off
VNET_F_NEEDS_CSUM = 1
VNET_GSO_TCPV4 = 1


class DgramLink(RawDgramPeer):
    """host/dgram_peer.py's peer end, as a link: the suite's Peer answers ARP itself (into
    its transcript), and a bigger receive queue holds a burst while a check is busy."""

    def __init__(self, target_path, own_path):
        super().__init__(target_path, own_path, answer_arp=False, rcvbuf=1 << 21)

    def describe(self):
        return "dgram:%s,%s" % (self.target, self.path)

    def recv(self):
        return self.read()


def complete_checksum(raw):
    """raw with the TCP or UDP checksum of its (unfragmented IPv4) datagram computed, as a
    NIC with checksum offload would send it; other frames unchanged."""
    from . import wire

    info = wire.ipv4(raw)
    if info is None or raw[23] not in (6, 17) or (raw[20] << 8 | raw[21]) & 0x3FFF:
        return raw
    ihl, total = info
    o, end = 14 + ihl, 14 + total
    at = o + (16 if raw[23] == 6 else 6)
    if end > len(raw) or at + 2 > end:
        return raw
    b = bytearray(raw)
    b[at:at + 2] = b"\0\0"
    pseudo = wire.inet_sum(bytes(b[26:34]) + bytes((0, raw[23])) + (end - o).to_bytes(2, "big"))
    ck = wire.inet_checksum(bytes(b[o:end]), pseudo)
    if raw[23] == 17 and ck == 0:
        ck = 0xFFFF
    b[at:at + 2] = ck.to_bytes(2, "big")
    return bytes(b)


def segment_tcp(raw, mss):
    """A TSO frame (IPv4/TCP, payload over mss) cut into the segments a NIC would send:
    consecutive sequence numbers and IP IDs, FIN and PSH on the last only, CWR on the first
    only, checksums computed. A frame that is not such a TCP frame comes back alone."""
    from . import wire

    info = wire.ipv4(raw)
    if info is None or raw[23] != 6:
        return [complete_checksum(raw)]
    ihl, total = info
    o = 14 + ihl
    doff = (raw[o + 12] >> 4) * 4
    head, payload = bytes(raw[:o + doff]), bytes(raw[o + doff:14 + total])
    if len(payload) <= mss:
        return [complete_checksum(raw)]
    seq = int.from_bytes(raw[o + 4:o + 8], "big")
    ident = raw[18] << 8 | raw[19]
    out = []
    for i, at in enumerate(range(0, len(payload), mss)):
        chunk = payload[at:at + mss]
        b = bytearray(head + chunk)
        b[16:18] = (ihl + doff + len(chunk)).to_bytes(2, "big")
        b[18:20] = ((ident + i) & 0xFFFF).to_bytes(2, "big")
        b[24:26] = b"\0\0"
        b[24:26] = wire.inet_checksum(bytes(b[14:o])).to_bytes(2, "big")
        b[o + 4:o + 8] = ((seq + at) & 0xFFFFFFFF).to_bytes(4, "big")
        last = at + mss >= len(payload)
        if not last:
            b[o + 13] &= ~0x09 & 0xFF  # FIN, PSH
        if i:
            b[o + 13] &= ~0x80 & 0xFF  # CWR
        out.append(complete_checksum(bytes(b)))
    return out


def parse_iface(text):
    """(ifname, netns or None) from 'IFNAME[@NETNS]'; ValueError saying what to write."""
    name, _, ns = text.partition("@")
    from ..stack.nic.tap import check_ifname

    try:
        check_ifname(name)
    except ValueError as e:
        raise ValueError("%s: write iface:IFNAME[@NETNS], e.g. iface:veth1@exuk-peer" % e) \
            from None
    if "@" in text and not ns:
        raise ValueError("%r: a namespace name or path follows '@': write "
                         "iface:IFNAME[@NETNS], e.g. iface:veth1@exuk-peer" % text)
    return name, ns or None


def netns_path(netns):
    """The namespace file of NETNS: a path as given, else /run/netns/NETNS."""
    return netns if "/" in netns else os.path.join("/run/netns", netns)


class PacketLink:
    def __init__(self, ifname, netns=None):
        self.ifname = ifname
        self.netns = netns
        self.pending = []  # segments of a TSO frame not handed out yet
        if netns is not None:
            from ..netsetup.netns import NetSetupError, enter

            path = netns_path(netns)
            if not os.path.exists(path):
                raise ValueError("network namespace %s does not exist (%s): create it, or "
                                 "name one `ip netns list` shows" % (netns, path))
            try:
                with enter(path):
                    self.sock = self._open()
            except NetSetupError as e:
                raise ValueError(str(e)) from None
        else:
            self.sock = self._open()

    def _open(self):
        where = " in namespace %s" % self.netns if self.netns else ""
        try:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except PermissionError:
            raise ValueError("a packet socket needs root (CAP_NET_RAW): run the suite as "
                             "root to attach to an interface") from None
        try:
            s.bind((self.ifname, ETH_P_ALL))
        except OSError as e:
            s.close()
            raise ValueError("cannot attach to interface %s%s: %s (ip link shows the "
                             "interfaces)" % (self.ifname, where, e.strerror)) from None
        index = socket.if_nametoindex(self.ifname)
        mreq = index.to_bytes(4, "little") + PACKET_MR_PROMISC.to_bytes(2, "little") + bytes(10)
        s.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        s.setblocking(False)
        while True:  # whatever queued before the membership took effect
            try:
                s.recv(MAX_FRAME)
            except BlockingIOError:
                break
        return s

    def fileno(self):
        return self.sock.fileno()

    def describe(self):
        return "iface:%s%s" % (self.ifname, "@" + self.netns if self.netns else "")

    def send(self, raw, clock, give_up):
        while True:
            try:
                self.sock.send(bytes(VNET_HDR) + raw)  # no offload asked for
                return
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as e:
                if e.errno == errno.ENXIO or e.errno == errno.ENETDOWN:
                    raise TargetGone("interface %s is gone or down (%s)"
                                     % (self.ifname, os.strerror(e.errno))) from None
                if e.errno != errno.ENOBUFS:
                    raise
            if clock() > give_up:
                raise TargetGone("interface %s refuses frames (its queue stays full)"
                                 % self.ifname)
            select.select([], [self.sock], [], 0.05)

    def recv(self):
        if self.pending:
            return self.pending.pop(0)
        while True:
            try:
                raw, addr = self.sock.recvfrom(MAX_FRAME + VNET_HDR)
            except BlockingIOError:
                return None
            if addr[2] == PACKET_OUTGOING or len(raw) < VNET_HDR:
                continue
            flags, gso_type = raw[0], raw[1] & 0x7F
            gso_size = int.from_bytes(raw[4:6], "little")
            frame = raw[VNET_HDR:]
            if gso_type == VNET_GSO_TCPV4 and gso_size:
                segs = segment_tcp(frame, gso_size)
                self.pending = segs[1:]
                return segs[0]
            if flags & VNET_F_NEEDS_CSUM:
                frame = complete_checksum(frame)
            return frame

    def close(self):
        s, self.sock = self.sock, None
        if s is not None:
            s.close()
