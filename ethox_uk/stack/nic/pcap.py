# A NIC wrapper that records every frame to a classic pcap file (`--pcap FILE`).
#
#   nic = PcapNic(inner, path)       # any NIC; same interface as `inner`
#
# Records each frame received from `inner`, each in-place reply the stack
# writes into a received buffer (recorded after the request, before it is
# sent), and each frame sent from a tx buffer. Classic pcap (magic a1b2c3d4,
# microsecond timestamps, version 2.4, link type 1 = Ethernet, snaplen 65535),
# little-endian; every record is flushed, so a crash keeps what was written.
# MicroPython-compatible (the clock is time.time_ns, present in both).
import time

from ..compat import const
from .base import BUF_SIZE, Nic

LINKTYPE_ETHERNET = const(1)
SNAPLEN = const(65535)


def _put32(b, off, v):
    b[off] = v & 255
    b[off + 1] = (v >> 8) & 255
    b[off + 2] = (v >> 16) & 255
    b[off + 3] = (v >> 24) & 255


def file_header(linktype=LINKTYPE_ETHERNET):
    h = bytearray(24)
    _put32(h, 0, 0xA1B2C3D4)
    h[4] = 2  # version 2.4
    h[6] = 4
    # thiszone, sigfigs: 0
    _put32(h, 16, SNAPLEN)
    _put32(h, 20, linktype)
    return h


class PcapWriter:
    """Append frames to a pcap file; `clock()` returns nanoseconds since the epoch.
    `path`: a file name, or a binary file already open for writing (the host opens
    --pcap FILE itself, refusing symlinks: ethox_uk/capture.py)."""

    def __init__(self, path, clock=None):
        self.path = path if isinstance(path, str) else getattr(path, "name", "")
        self._clock = clock or time.time_ns
        self._f = open(path, "wb") if isinstance(path, str) else path
        self._rec = bytearray(16)
        self._f.write(file_header())
        self._flush()
        self.frames = 0

    def _flush(self):
        fl = getattr(self._f, "flush", None)
        if fl is not None:
            fl()

    def write(self, view, length):
        f = self._f
        if f is None:
            return
        us = self._clock() // 1000
        r = self._rec
        _put32(r, 0, us // 1000000)
        _put32(r, 4, us % 1000000)
        _put32(r, 8, length)
        _put32(r, 12, length)
        f.write(r)
        f.write(view[:length])
        self._flush()
        self.frames += 1

    def close(self):
        if self._f is not None:
            self._f.close()
            self._f = None


class PcapNic(Nic):
    def __init__(self, inner, path, clock=None):
        self.inner = inner
        self.hw_mac = inner.hw_mac
        self.writer = PcapWriter(path, clock)
        self._handler = None
        self._on_rx_cb = self._on_rx  # bound once

    def _on_rx(self, view, length):
        w = self.writer
        w.write(view, length)
        reply = self._handler(view, length)
        if reply > 0:
            w.write(view, reply)
        return reply

    def receive(self, handler, budget):
        self._handler = handler
        return self.inner.receive(self._on_rx_cb, budget)

    def tx_buffer(self, size=BUF_SIZE):
        return self.inner.tx_buffer(size)

    # the inner NIC's offloads, looked through (host mode only: properties are fine)
    @property
    def rx_csum(self):
        return self.inner.rx_csum

    @property
    def tx_csum(self):
        return self.inner.tx_csum

    @property
    def tso_max(self):
        return self.inner.tso_max

    def tx_offload(self, view, csum_start, csum_offset, gso_size, hdr_len):
        self.inner.tx_offload(view, csum_start, csum_offset, gso_size, hdr_len)

    def send(self, view, length):
        self.writer.write(view, length)
        self.inner.send(view, length)

    def release(self, view):
        r = getattr(self.inner, "release", None)
        if r is not None:
            r(view)

    def flush(self):
        self.inner.flush()

    def fileno(self):
        return self.inner.fileno()

    def tx_pending(self):
        p = getattr(self.inner, "tx_pending", None)
        return p() if p is not None else 0

    def stats(self):
        st = getattr(self.inner, "stats", None)
        out = st() if st is not None else {}
        out["pcap_frames"] = self.writer.frames
        return out

    def close(self):
        self.writer.close()
        self.inner.close()
