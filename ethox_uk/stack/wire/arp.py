# ARP for Ethernet and IPv4 (RFC 826). Offsets are relative to the start of
# the ARP packet (14 inside an Ethernet frame):
#
#    0        2        4    5    6        8            14       18           24       28
#   +--------+--------+----+----+--------+------------+--------+------------+--------+
#   | htype  | ptype  |hlen|plen| oper   | sender hw  | sndr ip| target hw  | tgt ip |
#   +--------+--------+----+----+--------+------------+--------+------------+--------+
#
# Only htype 1 (Ethernet), ptype 0x0800 (IPv4), hlen 6, plen 4 and the
# operations request (1) and reply (2) are accepted; anything else is
# `arp_bad_format`, fewer than 28 bytes is `arp_truncated`. As in ethernet.py:
# plain functions for the layers (no allocation), and `ArpPacket` / `ArpRepr`
# for tests and tools, over the same `check`.
from ..compat import const

HTYPE_OFF = const(0)
PTYPE_OFF = const(2)
HLEN_OFF = const(4)
PLEN_OFF = const(5)
OPER_OFF = const(6)
SHA_OFF = const(8)
SPA_OFF = const(14)
THA_OFF = const(18)
TPA_OFF = const(24)
PACKET_LEN = const(28)

HTYPE_ETHERNET = const(1)
PTYPE_IPV4 = const(0x0800)
OP_REQUEST = const(1)
OP_REPLY = const(2)

TRUNCATED = "arp_truncated"
BAD_FORMAT = "arp_bad_format"


# -- fast path ----------------------------------------------------------------
def check(b, off, end):
    """Validate the ARP packet at b[off:end]: None if usable, else the reason."""
    if end - off < PACKET_LEN:
        return TRUNCATED
    if (b[off] != 0 or b[off + 1] != 1 or b[off + 2] != 0x08 or b[off + 3] != 0x00
            or b[off + 4] != 6 or b[off + 5] != 4 or b[off + 6] != 0):
        return BAD_FORMAT
    op = b[off + 7]
    if op != OP_REQUEST and op != OP_REPLY:
        return BAD_FORMAT
    return None


def operation(b, off):
    return (b[off + 6] << 8) | b[off + 7]


def read_ip(b, at):
    """The IPv4 address at b[at:at+4] as an int."""
    return (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]


def write_ip(b, at, n):
    b[at] = (n >> 24) & 0xFF
    b[at + 1] = (n >> 16) & 0xFF
    b[at + 2] = (n >> 8) & 0xFF
    b[at + 3] = n & 0xFF


def write_fixed(b, off, op):
    """Write htype/ptype/hlen/plen for Ethernet+IPv4 and the operation."""
    b[off] = 0
    b[off + 1] = 1
    b[off + 2] = 0x08
    b[off + 3] = 0x00
    b[off + 4] = 6
    b[off + 5] = 4
    b[off + 6] = 0
    b[off + 7] = op


def _put(b, at, src, n):
    for i in range(n):
        b[at + i] = src[i]


# -- view ---------------------------------------------------------------------
class ArpPacket:
    """A view over the ARP packet at buf[offset:end] (end defaults to len(buf))."""

    def __init__(self, buf, offset=0, end=-1):
        self.buf = buf
        self.off = offset
        self.end = len(buf) if end < 0 else end

    def check_len(self):
        if self.end - self.off < PACKET_LEN:
            return TRUNCATED
        return None

    def check(self):
        """check_len plus the format checks: None or the reason."""
        return check(self.buf, self.off, self.end)

    def _u16(self, at):
        b = self.buf
        return (b[self.off + at] << 8) | b[self.off + at + 1]

    def _set_u16(self, at, v):
        self.buf[self.off + at] = (v >> 8) & 0xFF
        self.buf[self.off + at + 1] = v & 0xFF

    def _bytes(self, at, n):
        o = self.off + at
        return bytes(self.buf[o:o + n])

    def hardware_type(self):
        return self._u16(HTYPE_OFF)

    def protocol_type(self):
        return self._u16(PTYPE_OFF)

    def hardware_len(self):
        return self.buf[self.off + HLEN_OFF]

    def protocol_len(self):
        return self.buf[self.off + PLEN_OFF]

    def operation(self):
        return self._u16(OPER_OFF)

    def source_hardware_addr(self):
        return self._bytes(SHA_OFF, 6)

    def source_protocol_addr(self):
        return self._bytes(SPA_OFF, 4)

    def target_hardware_addr(self):
        return self._bytes(THA_OFF, 6)

    def target_protocol_addr(self):
        return self._bytes(TPA_OFF, 4)

    def set_hardware_type(self, v):
        self._set_u16(HTYPE_OFF, v)

    def set_protocol_type(self, v):
        self._set_u16(PTYPE_OFF, v)

    def set_hardware_len(self, v):
        self.buf[self.off + HLEN_OFF] = v

    def set_protocol_len(self, v):
        self.buf[self.off + PLEN_OFF] = v

    def set_operation(self, v):
        self._set_u16(OPER_OFF, v)

    def set_source_hardware_addr(self, mac):
        _put(self.buf, self.off + SHA_OFF, mac, 6)

    def set_source_protocol_addr(self, ip):
        _put(self.buf, self.off + SPA_OFF, ip, 4)

    def set_target_hardware_addr(self, mac):
        _put(self.buf, self.off + THA_OFF, mac, 6)

    def set_target_protocol_addr(self, ip):
        _put(self.buf, self.off + TPA_OFF, ip, 4)


class ArpRepr:
    """An Ethernet/IPv4 ARP packet; addresses are bytes (6 and 4)."""

    def __init__(self, operation, source_hardware_addr, source_protocol_addr,
                 target_hardware_addr, target_protocol_addr):
        self.operation = operation
        self.source_hardware_addr = bytes(source_hardware_addr)
        self.source_protocol_addr = bytes(source_protocol_addr)
        self.target_hardware_addr = bytes(target_hardware_addr)
        self.target_protocol_addr = bytes(target_protocol_addr)

    @staticmethod
    def parse(packet):
        """An ArpRepr, or None when packet.check() names a reason."""
        if packet.check() is not None:
            return None
        return ArpRepr(packet.operation(), packet.source_hardware_addr(),
                       packet.source_protocol_addr(), packet.target_hardware_addr(),
                       packet.target_protocol_addr())

    def buffer_len(self):
        return PACKET_LEN

    def emit(self, packet):
        write_fixed(packet.buf, packet.off, 0)
        packet.set_operation(self.operation)
        packet.set_source_hardware_addr(self.source_hardware_addr)
        packet.set_source_protocol_addr(self.source_protocol_addr)
        packet.set_target_hardware_addr(self.target_hardware_addr)
        packet.set_target_protocol_addr(self.target_protocol_addr)

    def __eq__(self, other):
        return (isinstance(other, ArpRepr) and self.operation == other.operation
                and self.source_hardware_addr == other.source_hardware_addr
                and self.source_protocol_addr == other.source_protocol_addr
                and self.target_hardware_addr == other.target_hardware_addr
                and self.target_protocol_addr == other.target_protocol_addr)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "ArpRepr(op=%d, sha=%s, spa=%s, tha=%s, tpa=%s)" % (
            self.operation, _hex(self.source_hardware_addr), _dot(self.source_protocol_addr),
            _hex(self.target_hardware_addr), _dot(self.target_protocol_addr))


def _hex(mac):
    return ":".join(["%02x" % x for x in mac])


def _dot(ip):
    return ".".join(["%d" % x for x in ip])
