"""IPv4 fragments on the peer's side: cutting a datagram the way a check wants it, and
putting the target's fragmented answers back together.

    fragment_frames(pkt, cuts)              whole-datagram frame -> fragment frames (bytes)
    make_fragment(pkt, start, end, more, data=None)   one fragment, any bytes you like
    Reassembler().feed(raw) -> raw frame of the whole datagram once complete, else None
"""

import struct

from . import wire


def _split(pkt):
    raw = bytes(pkt)
    ihl, total = wire.ipv4(raw)
    return raw[:14], bytearray(raw[14:14 + ihl]), raw[14 + ihl:14 + total]


def _fragment(eth, hdr, chunk, offset, more):
    h = bytearray(hdr)
    struct.pack_into("!H", h, 2, len(h) + len(chunk))
    flags = 0x2000 if more else 0
    struct.pack_into("!H", h, 6, flags | (offset // 8))
    h[10:12] = b"\0\0"
    struct.pack_into("!H", h, 10, wire.inet_checksum(bytes(h)))
    return eth + bytes(h) + chunk


def fragment_frames(pkt, cuts):
    """The datagram in `pkt` (Ether/IP/..., built by scapy) cut at payload offsets `cuts`
    (multiples of 8), as fragment frames in offset order (bytes)."""
    eth, hdr, payload = _split(pkt)
    bounds = [0] + list(cuts) + [len(payload)]
    for c in cuts:
        if c % 8:
            raise ValueError("fragment offsets are multiples of 8, not %d" % c)
    out = []
    for a, b in zip(bounds, bounds[1:]):
        out.append(_fragment(eth, hdr, payload[a:b], a, b < len(payload)))
    return out


def make_fragment(pkt, start, end, more, data=None):
    """One fragment of the datagram in `pkt` holding payload[start:end] (or `data`)."""
    eth, hdr, payload = _split(pkt)
    chunk = payload[start:end] if data is None else bytes(data)
    return _fragment(eth, hdr, chunk, start, more)


class Reassembler:
    """Collects fragments by (source, destination, protocol, id)."""

    def __init__(self):
        self.parts = {}

    def feed(self, raw):
        info = wire.ipv4(raw)
        if info is None:
            return None
        ihl, total = info
        fo = (raw[20] << 8 | raw[21])
        more, off = fo & 0x2000, (fo & 0x1FFF) * 8
        if not more and off == 0:
            return raw
        key = (raw[26:34], raw[23], raw[18:20])
        entry = self.parts.setdefault(key, {"pieces": {}, "end": None, "first": None})
        entry["pieces"][off] = raw[14 + ihl:14 + total]
        if off == 0:
            entry["first"] = raw[:14 + ihl]
        if not more:
            entry["end"] = off + total - ihl
        if entry["first"] is None or entry["end"] is None:
            return None
        data = bytearray(entry["end"])
        have = 0
        for o in sorted(entry["pieces"]):
            if o > have:
                return None
            p = entry["pieces"][o]
            data[o:o + len(p)] = p
            have = max(have, o + len(p))
        if have < entry["end"]:
            return None
        del self.parts[key]
        first = bytearray(entry["first"])
        fihl = len(first) - 14
        struct.pack_into("!H", first, 16, fihl + len(data))
        struct.pack_into("!H", first, 20, 0)
        first[24:26] = b"\0\0"
        struct.pack_into("!H", first, 24, wire.inet_checksum(bytes(first[14:])))
        return bytes(first) + bytes(data)
