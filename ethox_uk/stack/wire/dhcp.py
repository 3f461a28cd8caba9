# DHCPv4 messages (RFC 2131 §2, options RFC 2132): the checks on a server's
# reply and the writer of the client's messages. Offsets are relative to the
# start of the DHCP message (the UDP payload):
#
#    0   op  1 htype  2 hlen  3 hops   4 xid (4)   8 secs (2)  10 flags (2)
#   12 ciaddr  16 yiaddr  20 siaddr  24 giaddr  28 chaddr (16)  44 sname (64)
#  108 file (128)  236 magic cookie 99.130.83.99  240 options ...
#
#   check_reply(buf, off, n, xid, mac) -> None | reason   a BOOTREPLY for us
#   parse_options(buf, off, n, opts) -> None | reason      fills an Options
#   write_message(buf, off, kind, xid, mac, secs, flags, ciaddr, requested,
#                 server, hostname) -> length
# Every untrusted length is checked here: an option running past its area,
# a value of the wrong size (a 3-byte mask, a router list that is not a
# multiple of 4, an MTU below 68) is `dhcp_bad_option`; the layer above
# (stack/dhcp.py) then trusts what parse_options filled in.
from ..compat import const

SERVER_PORT = const(67)
CLIENT_PORT = const(68)
BOOTREQUEST = const(1)
BOOTREPLY = const(2)
OPTIONS_OFF = const(240)
MIN_LEN = const(240)  # fixed fields + cookie; options may be empty
SEND_LEN = const(548)  # what we send: 576-byte IP datagrams (RFC 2131 §2; some
# servers, QEMU's among them, refuse anything shorter than the full BOOTP layout)
FLAG_BROADCAST = const(0x8000)

# message types (option 53)
DISCOVER = const(1)
OFFER = const(2)
REQUEST = const(3)
DECLINE = const(4)
ACK = const(5)
NAK = const(6)
RELEASE = const(7)

# option codes
OPT_PAD = const(0)
OPT_SUBNET = const(1)
OPT_ROUTER = const(3)
OPT_DNS = const(6)
OPT_HOSTNAME = const(12)
OPT_MTU = const(26)
OPT_REQUESTED_IP = const(50)
OPT_LEASE = const(51)
OPT_OVERLOAD = const(52)
OPT_MSG_TYPE = const(53)
OPT_SERVER_ID = const(54)
OPT_PARAMS = const(55)
OPT_T1 = const(58)
OPT_T2 = const(59)
OPT_CLIENT_ID = const(61)
OPT_END = const(255)

MAX_DNS = const(3)  # servers kept from option 6
_PARAMS = b"\x01\x03\x06\x1a\x33\x3a\x3b"  # subnet router dns mtu lease t1 t2


def u32(b, i):
    return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]


class Options:
    """What parse_options found (-1 / None: absent). Addresses are 4-byte bytes."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.msg_type = 0
        self.server_id = None
        self.lease = -1  # seconds; 0xffffffff is infinite
        self.t1 = -1
        self.t2 = -1
        self.prefix = -1  # from the subnet mask
        self.router = None
        self.dns = []
        self.mtu = -1
        self.overload = 0


def check_reply(buf, off, n, xid, mac):
    """The fixed part of a server's message at buf[off:off+n]: None when it is a
    BOOTREPLY for transaction `xid` and hardware address `mac`, else the reason."""
    if n < MIN_LEN:
        return "dhcp_truncated"
    if (buf[off] != BOOTREPLY or buf[off + 1] != 1 or buf[off + 2] != 6
            or u32(buf, off + 236) != 0x63825363):
        return "dhcp_bad_format"
    if u32(buf, off + 4) != xid:
        return "dhcp_not_ours"
    for i in range(6):
        if buf[off + 28 + i] != mac[i]:
            return "dhcp_not_ours"
    return None


def _mask_prefix(b, i):
    """The prefix length of the netmask at b[i:i+4], or -1 if not contiguous."""
    m = u32(b, i)
    p = 0
    while p < 32 and m & (0x80000000 >> p):
        p += 1
    if (m << p) & 0xFFFFFFFF:
        return -1
    return p


def _walk(buf, i, end, o):
    """Read the options in buf[i:end] into o; None or the reason."""
    while i < end:
        code = buf[i]
        if code == OPT_PAD:
            i += 1
            continue
        if code == OPT_END:
            return None
        if i + 2 > end:
            return "dhcp_bad_option"
        ln = buf[i + 1]
        v = i + 2
        if v + ln > end:
            return "dhcp_bad_option"
        i = v + ln
        if code == OPT_MSG_TYPE:
            if ln != 1 or not 1 <= buf[v] <= 8:
                return "dhcp_bad_option"
            o.msg_type = buf[v]
        elif code == OPT_SERVER_ID:
            if ln != 4:
                return "dhcp_bad_option"
            o.server_id = bytes(buf[v:v + 4])
        elif code == OPT_LEASE or code == OPT_T1 or code == OPT_T2:
            if ln != 4:
                return "dhcp_bad_option"
            t = u32(buf, v)
            if code == OPT_LEASE:
                o.lease = t
            elif code == OPT_T1:
                o.t1 = t
            else:
                o.t2 = t
        elif code == OPT_SUBNET:
            if ln != 4:
                return "dhcp_bad_option"
            o.prefix = _mask_prefix(buf, v)
            if o.prefix < 0:
                return "dhcp_bad_option"
        elif code == OPT_ROUTER or code == OPT_DNS:
            if ln < 4 or ln & 3:
                return "dhcp_bad_option"
            if code == OPT_ROUTER:
                if o.router is None:
                    o.router = bytes(buf[v:v + 4])
            else:
                k = v
                while k < v + ln and len(o.dns) < MAX_DNS:
                    o.dns.append(bytes(buf[k:k + 4]))
                    k += 4
        elif code == OPT_MTU:
            if ln != 2 or ((buf[v] << 8) | buf[v + 1]) < 68:
                return "dhcp_bad_option"
            o.mtu = (buf[v] << 8) | buf[v + 1]
        elif code == OPT_OVERLOAD:
            if ln != 1 or not 1 <= buf[v] <= 3:
                return "dhcp_bad_option"
            o.overload = buf[v]
    return None


def parse_options(buf, off, n, o):
    """Fill Options o from the message at buf[off:off+n] (check_reply passed):
    the options field, then `file` and `sname` when option 52 says they hold
    options too (RFC 2132 §9.3). None, or the reason the message is unusable
    (a malformed option, no message type)."""
    o.reset()
    r = _walk(buf, off + OPTIONS_OFF, off + n, o)
    if r is None and o.overload & 1:
        r = _walk(buf, off + 108, off + 236, o)
    if r is None and o.overload & 2:
        r = _walk(buf, off + 44, off + 108, o)
    if r is None and o.msg_type == 0:
        r = "dhcp_bad_option"  # a BOOTP reply: not for a DHCP client
    return r


def _put_ip(buf, i, ip):
    buf[i] = ip[0]
    buf[i + 1] = ip[1]
    buf[i + 2] = ip[2]
    buf[i + 3] = ip[3]


def _put_u32(buf, i, v):
    buf[i] = (v >> 24) & 255
    buf[i + 1] = (v >> 16) & 255
    buf[i + 2] = (v >> 8) & 255
    buf[i + 3] = v & 255


def write_message(buf, off, kind, xid, mac, secs=0, flags=0, ciaddr=None, requested=None,
                  server=None, hostname=None):
    """Write a client message of type `kind` at buf[off:] (SEND_LEN bytes free);
    returns its length. RFC 2131 table 5 decides the caller's arguments: ciaddr
    only while we hold the address (renewing, rebinding, release), requested
    and server in a REQUEST answering an OFFER and in a DECLINE."""
    for i in range(off, off + SEND_LEN):
        buf[i] = 0
    buf[off] = BOOTREQUEST
    buf[off + 1] = 1  # Ethernet
    buf[off + 2] = 6
    _put_u32(buf, off + 4, xid)
    buf[off + 8] = (secs >> 8) & 255
    buf[off + 9] = secs & 255
    buf[off + 10] = flags >> 8
    if ciaddr is not None:
        _put_ip(buf, off + 12, ciaddr)
    for i in range(6):
        buf[off + 28 + i] = mac[i]
    _put_u32(buf, off + 236, 0x63825363)
    i = off + OPTIONS_OFF
    buf[i] = OPT_MSG_TYPE
    buf[i + 1] = 1
    buf[i + 2] = kind
    buf[i + 3] = OPT_CLIENT_ID  # RFC 2132 §9.14: type 1 (Ethernet) + the MAC
    buf[i + 4] = 7
    buf[i + 5] = 1
    for k in range(6):
        buf[i + 6 + k] = mac[k]
    i += 12
    if requested is not None:
        buf[i] = OPT_REQUESTED_IP
        buf[i + 1] = 4
        _put_ip(buf, i + 2, requested)
        i += 6
    if server is not None:
        buf[i] = OPT_SERVER_ID
        buf[i + 1] = 4
        _put_ip(buf, i + 2, server)
        i += 6
    if kind == DISCOVER or kind == REQUEST:
        if hostname:
            n = len(hostname)
            buf[i] = OPT_HOSTNAME
            buf[i + 1] = n
            for k in range(n):
                buf[i + 2 + k] = hostname[k]
            i += 2 + n
        buf[i] = OPT_PARAMS
        buf[i + 1] = len(_PARAMS)
        for k in range(len(_PARAMS)):
            buf[i + 2 + k] = _PARAMS[k]
        i += 2 + len(_PARAMS)
    buf[i] = OPT_END
    return SEND_LEN


# The Repr class (tests and tools) lives in model/dhcp.py, which images leave
# out (build/image.py): re-exported here where it exists.
try:
    from .model.dhcp import Repr  # noqa: E402, F401
except ImportError:
    pass
