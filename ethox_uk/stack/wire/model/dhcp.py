# The DHCP message as a Repr (wire/dhcp.py has the checks and the writer the
# client uses): parse/emit for tests and tools, e.g. a test playing the
# server. Not frozen into images.
from ..dhcp import MIN_LEN, OPTIONS_OFF, OPT_END, OPT_PAD, u32
from .view import ReprBase

MAGIC = b"\x63\x82\x53\x63"


class Repr(ReprBase):
    """op, xid, secs, flags, ciaddr/yiaddr/siaddr/giaddr (4 bytes), chaddr (6
    bytes) and options: a list of (code, value bytes) in order."""

    def __init__(self, op=2, xid=0, chaddr=b"\x00" * 6, yiaddr=b"\x00" * 4,
                 ciaddr=b"\x00" * 4, siaddr=b"\x00" * 4, giaddr=b"\x00" * 4, secs=0,
                 flags=0, options=None, htype=1, hlen=6):
        self.op = op
        self.htype = htype
        self.hlen = hlen
        self.xid = xid
        self.secs = secs
        self.flags = flags
        self.ciaddr = bytes(ciaddr)
        self.yiaddr = bytes(yiaddr)
        self.siaddr = bytes(siaddr)
        self.giaddr = bytes(giaddr)
        self.chaddr = bytes(chaddr)
        self.options = list(options or [])

    def option(self, code):
        """The value of the first option `code`, or None."""
        for c, v in self.options:
            if c == code:
                return v
        return None

    def msg_type(self):
        v = self.option(53)
        return v[0] if v else 0

    @staticmethod
    def parse(data):
        """A Repr of the message in data, or None when it is not well formed."""
        if len(data) < MIN_LEN or data[236:240] != MAGIC:
            return None
        r = Repr(op=data[0], xid=u32(data, 4), secs=(data[8] << 8) | data[9],
                 flags=(data[10] << 8) | data[11], ciaddr=data[12:16], yiaddr=data[16:20],
                 siaddr=data[20:24], giaddr=data[24:28], chaddr=data[28:28 + data[2]],
                 htype=data[1], hlen=data[2])
        i = OPTIONS_OFF
        while i < len(data):
            c = data[i]
            if c == OPT_END:
                break
            if c == OPT_PAD:
                i += 1
                continue
            if i + 2 > len(data) or i + 2 + data[i + 1] > len(data):
                return None
            r.options.append((c, bytes(data[i + 2:i + 2 + data[i + 1]])))
            i += 2 + data[i + 1]
        return r

    def emit(self, pad_to=300):
        b = bytearray(236)
        b[0] = self.op
        b[1] = self.htype
        b[2] = self.hlen
        b[4:8] = bytes(((self.xid >> 24) & 255, (self.xid >> 16) & 255, (self.xid >> 8) & 255,
                        self.xid & 255))
        b[8] = (self.secs >> 8) & 255
        b[9] = self.secs & 255
        b[10] = (self.flags >> 8) & 255
        b[11] = self.flags & 255
        b[12:16] = self.ciaddr
        b[16:20] = self.yiaddr
        b[20:24] = self.siaddr
        b[24:28] = self.giaddr
        b[28:28 + len(self.chaddr)] = self.chaddr
        b += MAGIC
        for c, v in self.options:
            b += bytes((c, len(v))) + bytes(v)
        b.append(OPT_END)
        while len(b) < pad_to:
            b.append(0)
        return bytes(b)

    def __repr__(self):
        return "DhcpRepr(op=%d type=%d xid=%#x yiaddr=%s)" % (
            self.op, self.msg_type(), self.xid, ".".join(str(x) for x in self.yiaddr))
