# View and Repr classes for ethernet (wire/ethernet.py has the checks and writers the
# layers use): parse/emit for tests and tools. Not frozen into images.
from .view import ReprBase, View
from ..ethernet import HEADER_LEN, PAYLOAD_OFF, _fmt, check, put_mac


class Packet(View):
    """A view over the Ethernet frame at buf[off:end] (end defaults to len(buf))."""

    def check_len(self):
        return check(self.size())

    def dst_addr(self):
        return self._bytes(0, 6)

    def src_addr(self):
        return self._bytes(6, 6)

    def ethertype(self):
        return self._u16(12)

    def set_dst_addr(self, mac):
        put_mac(self.buf, self.off, mac)

    def set_src_addr(self, mac):
        put_mac(self.buf, self.off + 6, mac)

    def set_ethertype(self, t):
        self._set16(12, t)

    def payload_offset(self):
        return self.off + PAYLOAD_OFF

    def payload(self):
        return self.buf[self.off + PAYLOAD_OFF:self.end]


class Repr(ReprBase):
    def __init__(self, dst, src, ethertype):
        self.dst = bytes(dst)
        self.src = bytes(src)
        self.ethertype = ethertype

    @staticmethod
    def parse(frame):
        """A Repr, or None when frame.check_len() names a reason."""
        if frame.check_len() is not None:
            return None
        return Repr(frame.dst_addr(), frame.src_addr(), frame.ethertype())

    def buffer_len(self):
        return HEADER_LEN

    def emit(self, frame):
        put_mac(frame.buf, frame.off, self.dst)
        put_mac(frame.buf, frame.off + 6, self.src)
        frame.set_ethertype(self.ethertype)


    def __repr__(self):
        return "EthernetRepr(dst=%s, src=%s, ethertype=0x%04x)" % (
            _fmt(self.dst), _fmt(self.src), self.ethertype)
