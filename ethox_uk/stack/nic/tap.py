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
import errno
import fcntl
import io
import os
import struct

from .base import BUF_SIZE, CopyingNic, MAX_FRAME

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFNAMSIZ = 16


def check_ifname(name):
    """ValueError unless `name` can be a Linux interface name."""
    if not name or len(name.encode()) >= IFNAMSIZ or "/" in name or name.strip() != name \
            or name in (".", ".."):
        raise ValueError("bad interface name %r: expected 1-15 characters without '/' "
                         "or spaces, e.g. tap0" % (name,))


class TapNic(CopyingNic):
    def __init__(self, ifname, tx_slots=8):
        check_ifname(ifname)
        self.ifname = ifname
        try:
            fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            raise OSError(e.errno, "cannot open /dev/net/tun for tap:%s: %s"
                          % (ifname, e.strerror)) from None
        try:
            ifr = struct.pack("16sH22x", ifname.encode(), IFF_TAP | IFF_NO_PI)
            fcntl.ioctl(fd, TUNSETIFF, ifr)
        except OSError as e:
            os.close(fd)
            hint = " (it exists but is not a tap device, or another process holds it)" \
                if e.errno in (errno.EINVAL, errno.EBUSY) else ""
            raise OSError(e.errno, "cannot attach tap device %s: %s%s"
                          % (ifname, e.strerror, hint)) from None
        self._f = io.FileIO(fd, "r+b", closefd=True)
        self._rx = memoryview(bytearray(BUF_SIZE))
        CopyingNic.__init__(self, tx_slots)
        self.rx_frames = 0
        self.tx_frames = 0
        self.rx_oversize = 0
        self.tx_full = 0
        self.tx_error = 0

    def receive(self, handler, budget):
        done = 0
        view = self._rx
        f = self._f
        while done < budget:
            try:
                n = f.readinto(view)
            except BlockingIOError:
                break
            if n is None or n == 0:
                break
            if n > MAX_FRAME:  # a frame as long as the buffer may be truncated
                self.rx_oversize += 1
                continue
            self.rx_frames += 1
            done += 1
            reply = handler(view, n)
            if reply > 0:
                self._transmit(view, reply)
        return done

    def _transmit(self, view, length):
        try:
            n = self._f.write(view[:length])
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
                "tx_error": self.tx_error}

    def close(self):
        if self._f is not None and not self._f.closed:
            self._f.close()
