# View and Repr classes for arp (wire/arp.py has the checks and writers the
# layers use): parse/emit for tests and tools. Not frozen into images.
from .view import ReprBase, View
from ..arp import HLEN_OFF, HTYPE_OFF, OPER_OFF, PACKET_LEN, PLEN_OFF, PTYPE_OFF, SHA_OFF, SPA_OFF, THA_OFF, TPA_OFF, TRUNCATED, _dot, _hex, _put, check, operation, write_fixed


class Packet(View):
    """A view over the ARP packet at buf[off:end] (end defaults to len(buf))."""

    def check_len(self):
        if self.end - self.off < PACKET_LEN:
            return TRUNCATED
        return None

    def check(self):
        """check_len plus the format checks: None or the reason."""
        return check(self.buf, self.off, self.end)

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
        self._set16(HTYPE_OFF, v)

    def set_protocol_type(self, v):
        self._set16(PTYPE_OFF, v)

    def set_hardware_len(self, v):
        self.buf[self.off + HLEN_OFF] = v

    def set_protocol_len(self, v):
        self.buf[self.off + PLEN_OFF] = v

    def set_operation(self, v):
        self._set16(OPER_OFF, v)

    def set_source_hardware_addr(self, mac):
        _put(self.buf, self.off + SHA_OFF, mac, 6)

    def set_source_protocol_addr(self, ip):
        _put(self.buf, self.off + SPA_OFF, ip, 4)

    def set_target_hardware_addr(self, mac):
        _put(self.buf, self.off + THA_OFF, mac, 6)

    def set_target_protocol_addr(self, ip):
        _put(self.buf, self.off + TPA_OFF, ip, 4)


class Repr(ReprBase):
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
        """A Repr, or None when packet.check() names a reason."""
        if packet.check() is not None:
            return None
        return Repr(packet.operation(), packet.source_hardware_addr(),
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


    def __repr__(self):
        return "ArpRepr(op=%d, sha=%s, spa=%s, tha=%s, tpa=%s)" % (
            self.operation, _hex(self.source_hardware_addr), _dot(self.source_protocol_addr),
            _hex(self.target_hardware_addr), _dot(self.target_protocol_addr))
