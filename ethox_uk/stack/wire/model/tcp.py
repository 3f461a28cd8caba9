# View and Repr classes for tcp (wire/tcp.py has the checks and writers the
# layers use): parse/emit for tests and tools. Not frozen into images.
from .view import ReprBase, View
from ..tcp import HEADER_LEN, MAX_HEADER_LEN, MAX_SACK_BLOCKS, OPT_NOP, OPT_SACK, OPT_TIMESTAMP, Options, URGENT_OFF, check, fill_checksum, header_len, parse_options, pseudo_sum, put16, put32, put_header, put_syn_options, syn_options_len


class Packet(View):
    """A view over the TCP segment at buf[off:end] (header first; end defaults to
    len(buf))."""

    def check_len(self):
        """None when the length and data offset are consistent, else the reason."""
        return check(self.buf, self.off, self.size(), -1)

    def check(self, src, dst):
        """Every check, checksum and options included."""
        n = self.size()
        r = check(self.buf, self.off, n, pseudo_sum(src, dst, n))
        if r is not None:
            return r
        return parse_options(self.buf, self.off + HEADER_LEN, self.off + self.header_len(),
                             Options())

    def src_port(self):
        return self._u16(0)

    def dst_port(self):
        return self._u16(2)

    def seq(self):
        return self._u32(4)

    def ack(self):
        return self._u32(8)

    def header_len(self):
        return header_len(self.buf, self.off)

    def flags(self):
        return self._u8(13)

    def reserved(self):
        return self._u8(12) & 0x0F

    def window(self):
        return self._u16(14)

    def checksum(self):
        return self._u16(16)

    def urgent(self):
        return self._u16(18)

    def set_src_port(self, v):
        self._set16(0, v)

    def set_dst_port(self, v):
        self._set16(2, v)

    def set_seq(self, v):
        self._set32(4, v)

    def set_ack(self, v):
        self._set32(8, v)

    def set_flags(self, v):
        self._set8(13, v)

    def set_window(self, v):
        self._set16(14, v)

    def payload(self):
        return self.buf[self.off + self.header_len():self.end]

    def fill_checksum(self, src, dst):
        n = self.size()
        fill_checksum(self.buf, self.off, n, pseudo_sum(src, dst, n))


class Repr(ReprBase):
    """A parsed segment: header fields, options and payload (bytes).
    Absent options: mss/wscale/timestamp None, sack_perm False, sack []."""

    def __init__(self, src_port=0, dst_port=0, seq=0, ack=0, flags=0, window=0,
                 urgent=0, mss=None, wscale=None, sack_perm=False, sack=None,
                 timestamp=None, payload=b""):
        self.src_port = src_port
        self.dst_port = dst_port
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.urgent = urgent
        self.mss = mss
        self.wscale = wscale
        self.sack_perm = sack_perm
        self.sack = list(sack) if sack else []
        self.timestamp = timestamp
        self.payload = bytes(payload)

    @staticmethod
    def parse(buf, src, dst, length=-1):
        """A Repr of the segment at buf[0:length], or None when any check fails
        (Packet.check names why)."""
        seg = Packet(buf, 0, length)
        if seg.check(src, dst) is not None:
            return None
        return Repr.parse_unchecked(seg)

    @staticmethod
    def parse_unchecked(seg):
        b = seg.buf
        o = Options()
        if parse_options(b, seg.off + HEADER_LEN, seg.off + seg.header_len(), o) is not None:
            return None
        r = Repr(seg.src_port(), seg.dst_port(), seg.seq(), seg.ack(), seg.flags(),
                    seg.window(), seg.urgent(), payload=seg.payload())
        if o.mss >= 0:
            r.mss = o.mss
        if o.wscale >= 0:
            r.wscale = o.wscale
        r.sack_perm = o.sack_perm
        if o.ts_val >= 0:
            r.timestamp = (o.ts_val, o.ts_ecr)
        for j in range(o.sack_n):
            r.sack.append((o.sack[2 * j], o.sack[2 * j + 1]))
        return r

    def options_len(self):
        n = syn_options_len(-1 if self.mss is None else 0,
                            -1 if self.wscale is None else 0, self.sack_perm)
        if self.timestamp is not None:
            n += 12
        if self.sack:
            n += 4 + 8 * len(self.sack)
        return n

    def header_len(self):
        return HEADER_LEN + self.options_len()

    def buffer_len(self):
        return self.header_len() + len(self.payload)

    def emit(self, buf, src=None, dst=None):
        """Write the segment into buf; fill the checksum when src and dst are
        given. Returns the segment length. Raises ValueError when the options
        do not fit in 40 bytes (a programming error, not input)."""
        hlen = self.header_len()
        if hlen > MAX_HEADER_LEN or len(self.sack) > MAX_SACK_BLOCKS:
            raise ValueError("TCP options need %d bytes, at most 40 fit" % (hlen - HEADER_LEN))
        put_header(buf, 0, self.src_port, self.dst_port, self.seq, self.ack, hlen,
                   self.flags, self.window)
        put16(buf, URGENT_OFF, self.urgent)
        i = HEADER_LEN
        i += put_syn_options(buf, i, -1 if self.mss is None else self.mss,
                             -1 if self.wscale is None else self.wscale, self.sack_perm)
        if self.timestamp is not None:
            buf[i] = OPT_NOP
            buf[i + 1] = OPT_NOP
            buf[i + 2] = OPT_TIMESTAMP
            buf[i + 3] = 10
            put32(buf, i + 4, self.timestamp[0])
            put32(buf, i + 8, self.timestamp[1])
            i += 12
        if self.sack:
            buf[i] = OPT_NOP
            buf[i + 1] = OPT_NOP
            buf[i + 2] = OPT_SACK
            buf[i + 3] = 2 + 8 * len(self.sack)
            i += 4
            for left, right in self.sack:
                put32(buf, i, left)
                put32(buf, i + 4, right)
                i += 8
        n = hlen + len(self.payload)
        buf[hlen:n] = self.payload
        if src is not None and dst is not None:
            fill_checksum(buf, 0, n, pseudo_sum(src, dst, n))
        return n


    def __repr__(self):
        return ("TcpRepr(%d->%d seq=%d ack=%d flags=%s win=%d mss=%r ws=%r sackok=%r "
                "sack=%r ts=%r len=%d)" % (
                    self.src_port, self.dst_port, self.seq, self.ack, flag_str(self.flags),
                    self.window, self.mss, self.wscale, self.sack_perm, self.sack,
                    self.timestamp, len(self.payload)))


_FLAG_NAMES = "FSRPAUEC"


def flag_str(flags):
    out = ""
    for i in range(8):
        if flags & (1 << i):
            out += _FLAG_NAMES[i]
    return out or "-"
