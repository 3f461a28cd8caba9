# View and Repr classes for ethernet (wire/ethernet.py has the checks and writers the
# layers use): parse/emit for tests and tools. Not frozen into images.
from ..ethernet import HEADER_LEN, PAYLOAD_OFF, _fmt, check, ethertype, fill_header, put_mac, set_ethertype


class EthernetFrame:
    """A view over buf[0:length] (length defaults to len(buf))."""

    def __init__(self, buf, length=-1):
        self.buf = buf
        self.length = len(buf) if length < 0 else length

    def check_len(self):
        return check(self.length)

    def dst_addr(self):
        return bytes(self.buf[0:6])

    def src_addr(self):
        return bytes(self.buf[6:12])

    def ethertype(self):
        return ethertype(self.buf)

    def set_dst_addr(self, mac):
        put_mac(self.buf, 0, mac)

    def set_src_addr(self, mac):
        put_mac(self.buf, 6, mac)

    def set_ethertype(self, t):
        set_ethertype(self.buf, t)

    def payload_offset(self):
        return PAYLOAD_OFF

    def payload(self):
        return self.buf[PAYLOAD_OFF:self.length]


class EthernetRepr:
    def __init__(self, dst, src, ethertype):
        self.dst = bytes(dst)
        self.src = bytes(src)
        self.ethertype = ethertype

    @staticmethod
    def parse(frame):
        """An EthernetRepr, or None when frame.check_len() names a reason."""
        if frame.check_len() is not None:
            return None
        return EthernetRepr(frame.dst_addr(), frame.src_addr(), frame.ethertype())

    def buffer_len(self):
        return HEADER_LEN

    def emit(self, frame):
        fill_header(frame.buf, self.dst, self.src, self.ethertype)

    def __eq__(self, other):
        return (isinstance(other, EthernetRepr) and self.dst == other.dst
                and self.src == other.src and self.ethertype == other.ethertype)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "EthernetRepr(dst=%s, src=%s, ethertype=0x%04x)" % (
            _fmt(self.dst), _fmt(self.src), self.ethertype)
