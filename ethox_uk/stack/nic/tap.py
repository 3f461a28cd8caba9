# Host NIC on a Linux tap device (SPEC `tap:IFNAME`), for use inside a network
# namespace: the kernel side of the tap is the peer, the stack sits "behind" it
# with its own MAC and address.
#
# HOST-ONLY and CPython-only (ioctl on /dev/net/tun); never frozen into an
# image. Opens /dev/net/tun with IFF_TAP | IFF_NO_PI: one read/write is one
# Ethernet frame without any packet-information prefix. An existing (e.g.
# `ip tuntap add dev tap0 mode tap`) device is attached; a missing one is
# created by the kernel and vanishes when the NIC is closed (needs
# CAP_NET_ADMIN either way). Non-blocking; frames land in a preallocated
# buffer; a full kernel queue on write is a counted drop.
#
# Offloads (the default): IFF_VNET_HDR puts virtio-net's 12-byte header before
# every frame, as QEMU's tap backend does, and TUNSETOFFLOAD lets the kernel
# hand over TCP segments it never cut (up to 64 KiB, checksum left partial) and
# take ours the same way -- the very path a guest's virtio-net driver uses over
# tap, testable here without a VM. offloads=False is the plain frame path.
import errno
import fcntl
import io
import os
import struct

from .base import BUF_SIZE, CopyingNic, MAX_FRAME, RX_CSUM_PARTIAL

TUNSETIFF = 0x400454CA
TUNSETOFFLOAD = 0x400454D0
TUNSETVNETHDRSZ = 0x400454D8
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
TUN_F_CSUM = 0x01
TUN_F_TSO4 = 0x02
IFNAMSIZ = 16

VNET_HDR = 12  # struct virtio_net_hdr_mrg_rxbuf
BIG = 65536 + 64  # a 64 KiB TCP segment with its headers
BIG_TX = 8
TSO_MAX = 65535


def check_ifname(name):
    """ValueError unless `name` can be a Linux interface name."""
    if not name or len(name.encode()) >= IFNAMSIZ or "/" in name or name.strip() != name \
            or name in (".", ".."):
        raise ValueError("bad interface name %r: expected 1-15 characters without '/' "
                         "or spaces, e.g. tap0" % (name,))


class TapNic(CopyingNic):
    def __init__(self, ifname, tx_slots=8, offloads=True):
        check_ifname(ifname)
        self.ifname = ifname
        try:
            fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            raise OSError(e.errno, "cannot open /dev/net/tun for tap:%s: %s"
                          % (ifname, e.strerror)) from None
        flags = IFF_TAP | IFF_NO_PI | (IFF_VNET_HDR if offloads else 0)
        try:
            ifr = struct.pack("16sH22x", ifname.encode(), flags)
            fcntl.ioctl(fd, TUNSETIFF, ifr)
            if offloads:
                fcntl.ioctl(fd, TUNSETVNETHDRSZ, struct.pack("i", VNET_HDR))
                fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4)
        except OSError as e:
            os.close(fd)
            hint = " (it exists but is not a tap device, or another process holds it)" \
                if e.errno in (errno.EINVAL, errno.EBUSY) else ""
            raise OSError(e.errno, "cannot attach tap device %s: %s%s"
                          % (ifname, e.strerror, hint)) from None
        self._f = io.FileIO(fd, "r+b", closefd=True)
        self.offloads = offloads
        self.tx_frames = 0
        self.rx_gso = 0
        self.tx_tso = 0
        self.tx_full = 0
        self.tx_error = 0
        if not offloads:
            self._rx = self._rx_read = memoryview(bytearray(BUF_SIZE))
            CopyingNic.__init__(self, tx_slots)
            return
        CopyingNic.__init__(self, 0)
        self.rx_limit = BIG
        # each buffer holds the vnet header, then the frame; the stack sees
        # the frame part (a view made once per buffer)
        self._rx_full = self._rx_read = memoryview(bytearray(VNET_HDR + BIG))
        self._rx = self._rx_full[VNET_HDR:]
        self._full = []
        self._tx_bufs = []
        for i in range(tx_slots + BIG_TX):
            full = memoryview(bytearray(VNET_HDR + (BUF_SIZE if i < tx_slots else BIG)))
            self._full.append(full)
            self._tx_bufs.append(full[VNET_HDR:])
        self._tx_free = list(range(tx_slots))
        self._big_free = list(range(tx_slots, tx_slots + BIG_TX))
        self._index = {}
        for i in range(len(self._tx_bufs)):
            self._index[id(self._tx_bufs[i])] = i
        self.tx_csum = True
        self.tso_max = TSO_MAX

    # -- offloads ------------------------------------------------------------
    def tx_buffer(self, size=BUF_SIZE):
        if size <= BUF_SIZE:
            v = CopyingNic.tx_buffer(self, size)
        elif self.offloads and self._big_free:
            v = self._tx_bufs[self._big_free.pop()]
        else:
            return None
        if v is not None and self.offloads:
            self._full[self._index[id(v)]][0:2] = b"\x00\x00"  # no offload unless marked
        return v

    def tx_offload(self, view, csum_start, csum_offset, gso_size, hdr_len):
        if not self.offloads:
            raise ValueError("tx_offload on a tap NIC opened without offloads")
        struct.pack_into("<BBHHHH", self._full[self._index[id(view)]], 0, 1,
                         1 if gso_size else 0, hdr_len, gso_size, csum_start, csum_offset)
        if gso_size:
            self.tx_tso += 1

    def release(self, view):
        if not self.offloads:
            CopyingNic.release(self, view)
            return
        i = self._index.get(id(view), -1)
        if i < 0:
            return  # in-place replies send a receive buffer
        free = self._big_free if i >= len(self._tx_bufs) - BIG_TX else self._tx_free
        if i not in free:
            free.append(i)

    # -- frames (receive() is CopyingNic's, over _read) ---------------------------
    def _read(self):
        try:
            n = self._f.readinto(self._rx_read)
        except BlockingIOError:
            return -1
        if not n:
            return -1
        if self.offloads:
            buf = self._rx_read
            n -= VNET_HDR
            if n <= 0:
                return BIG + 1  # shorter than its vnet header: dropped as malformed
            if buf[1]:
                self.rx_gso += 1
            flags = buf[0]
            self.rx_csum = RX_CSUM_PARTIAL if flags & 1 else flags & 2
        return n

    def _transmit(self, view, length):
        if self.offloads:
            i = self._index.get(id(view), -1)
            if i < 0:
                # an in-place reply in the receive buffer: its header is the
                # received one -- clear it (the reply's checksums are complete)
                full = self._rx_full
                full[0:VNET_HDR] = bytes(VNET_HDR)
            else:
                full = self._full[i]
            data = full[:VNET_HDR + length]
        else:
            data = view[:length]
        try:
            n = self._f.write(data)
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.ENOBUFS):
                self.tx_full += 1
            else:  # e.g. EIO while the interface is down
                self.tx_error += 1
            return
        if n is None:
            self.tx_full += 1
            return
        self.tx_frames += 1

    def fileno(self):
        return self._f.fileno()

    def stats(self):
        return {"rx_frames": self.rx_frames, "tx_frames": self.tx_frames,
                "rx_oversize": self.rx_oversize, "tx_full": self.tx_full,
                "tx_error": self.tx_error, "rx_gso": self.rx_gso, "tx_tso": self.tx_tso,
                "offloads": "csum tso4" if self.offloads else ""}

    def close(self):
        if self._f is not None and not self._f.closed:
            self._f.close()
