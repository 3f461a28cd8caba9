# DNS messages (RFC 1035 §4; AAAA records RFC 3596): the query writer and the
# checks on an answer. Offsets are relative to the start of the message (the
# UDP payload, or what follows the 2-byte length over TCP, §4.2.2):
#
#    0 ID  2 flags (QR opcode AA TC RD | RA Z rcode)  4 QDCOUNT  6 ANCOUNT
#    8 NSCOUNT  10 ARCOUNT  12 question: QNAME QTYPE QCLASS, then the records
#
#   encode_name(text) -> the QNAME in wire form (ValueError saying why not)
#   write_query(buf, off, ident, qname, qtype) -> length
#   check_answer(buf, off, n, ident, qname, qtype) -> None | reason
#   read_answers(buf, off, n, qname, qtype, out) -> (rcode, tc, ttl) | reason
# Names are compared without regard to ASCII case (RFC 4343). Every length,
# count and compression pointer of the untrusted answer is bounded here; a
# pointer may only point backwards (no loops), and a name is at most 255
# bytes. Reasons: dns_truncated, dns_bad_format, dns_not_ours (another ID or
# question: RFC 5452 §9.1 -- possibly a spoofing attempt).
from ..compat import const

HEADER_LEN = const(12)
PORT = const(53)
TYPE_A = const(1)
TYPE_CNAME = const(5)
TYPE_AAAA = const(28)
CLASS_IN = const(1)
MAX_NAME = const(255)
MAX_UDP = const(512)  # RFC 1035 §4.2.1: without EDNS an answer over UDP fits 512 bytes
MAX_CNAMES = const(8)  # aliases followed within one answer

RCODE_OK = const(0)
RCODE_FORMERR = const(1)
RCODE_SERVFAIL = const(2)
RCODE_NXDOMAIN = const(3)


def encode_name(text):
    """The wire form of a host name: length-prefixed labels, lower case, a zero
    at the end. A trailing dot is allowed; labels are 1-63 printable ASCII
    characters other than '.', the whole at most 255 bytes (RFC 1035 §2.3.4)."""
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise ValueError("an empty name")
    out = bytearray()
    for label in text.split("."):
        n = len(label)
        if n == 0:
            raise ValueError("an empty label (two dots in a row)")
        if n > 63:
            raise ValueError("a label of %d characters (at most 63)" % n)
        out.append(n)
        for ch in label:
            c = ord(ch)
            if c <= 32 or c >= 127:
                raise ValueError("the character %r (names are printable ASCII)" % ch)
            out.append(c + 32 if 65 <= c <= 90 else c)
    out.append(0)
    if len(out) > MAX_NAME:
        raise ValueError("%d bytes long (at most 255)" % len(out))
    return bytes(out)


def write_query(buf, off, ident, qname, qtype, rd=True):
    """A standard query (RD set: the server recurses for us) at buf[off:];
    returns its length."""
    buf[off] = ident >> 8
    buf[off + 1] = ident & 255
    buf[off + 2] = 0x01 if rd else 0  # RD
    buf[off + 3] = 0
    buf[off + 4] = 0
    buf[off + 5] = 1  # one question
    for i in range(off + 6, off + 12):
        buf[i] = 0
    i = off + HEADER_LEN
    n = len(qname)
    buf[i:i + n] = qname
    i += n
    buf[i] = qtype >> 8
    buf[i + 1] = qtype & 255
    buf[i + 2] = 0
    buf[i + 3] = CLASS_IN
    return i + 4 - off


def _lower(c):
    return c + 32 if 65 <= c <= 90 else c


def read_name(buf, base, i, end):
    """(the name at buf[i] in wire form, lower case, pointers followed; the
    offset after it where it sits) or None when malformed. `base` is the
    message's start (pointers count from it)."""
    out = bytearray()
    after = -1
    hops = 0
    while True:
        if i >= end:
            return None
        n = buf[i]
        if n & 0xC0 == 0xC0:
            if i + 1 >= end:
                return None
            p = base + (((n & 0x3F) << 8) | buf[i + 1])
            if after < 0:
                after = i + 2
            if p >= i or hops > 127:  # only backwards: no loops
                return None
            hops += 1
            i = p
            continue
        if n & 0xC0:
            return None  # the reserved label types (RFC 6891 §5)
        if i + 1 + n > end or len(out) + n + 1 > MAX_NAME:
            return None
        out.append(n)
        for k in range(i + 1, i + 1 + n):
            out.append(_lower(buf[k]))
        i += 1 + n
        if n == 0:
            return bytes(out), (after if after >= 0 else i)


def _u16(b, i):
    return (b[i] << 8) | b[i + 1]


def check_answer(buf, off, n, ident, qname, qtype):
    """None when buf[off:off+n] is a response to our query `ident` asking
    exactly (qname, qtype, IN); else the reason to drop it."""
    if n < HEADER_LEN:
        return "dns_truncated"
    if _u16(buf, off) != ident:
        return "dns_not_ours"
    if not buf[off + 2] & 0x80 or buf[off + 2] & 0x78:
        return "dns_bad_format"  # not a response, or not a standard query's
    if _u16(buf, off + 4) != 1:
        return "dns_not_ours"
    end = off + n
    r = read_name(buf, off, off + HEADER_LEN, end)
    if r is None:
        return "dns_bad_format"
    name, i = r
    if i + 4 > end:
        return "dns_truncated"
    if name != qname or _u16(buf, i) != qtype or _u16(buf, i + 2) != CLASS_IN:
        return "dns_not_ours"
    return None


def read_answers(buf, off, n, qname, qtype, out):
    """The addresses of type qtype (4 or 16 bytes each) for qname in an
    answer that passed check_answer, following CNAMEs, appended to out.
    Returns (rcode, truncated, smallest TTL of the records used in seconds;
    -1 if none) or a reason string when a record is malformed."""
    end = off + n
    rcode = buf[off + 3] & 15
    tc = bool(buf[off + 2] & 0x02)
    count = _u16(buf, off + 6)
    first = read_name(buf, off, off + HEADER_LEN, end)[1] + 4
    want = qname
    ttl = -1
    size = 4 if qtype == TYPE_A else 16
    for _ in range(MAX_CNAMES + 1):  # one pass per alias in the chain
        i = first
        alias = None
        for _ in range(count):
            r = read_name(buf, off, i, end)
            if r is None:
                return "dns_bad_format"
            owner, i = r
            if i + 10 > end:
                return "dns_truncated" if tc else "dns_bad_format"
            rtype = _u16(buf, i)
            rclass = _u16(buf, i + 2)
            t = (buf[i + 4] << 24) | (buf[i + 5] << 16) | (buf[i + 6] << 8) | buf[i + 7]
            if t & 0x80000000:
                t = 0  # RFC 2181 §8: a TTL with the top bit set counts as zero
            rdlen = _u16(buf, i + 8)
            i += 10
            if i + rdlen > end:
                return "dns_truncated" if tc else "dns_bad_format"
            if owner == want and rclass == CLASS_IN:
                if rtype == qtype:
                    if rdlen != size:
                        return "dns_bad_format"
                    if alias is None:
                        out.append(bytes(buf[i:i + size]))
                        ttl = t if ttl < 0 or t < ttl else ttl
                elif rtype == TYPE_CNAME and alias is None:
                    a = read_name(buf, off, i, i + rdlen)
                    if a is None:
                        return "dns_bad_format"
                    alias = a[0]
                    ttl = t if ttl < 0 or t < ttl else ttl
            i += rdlen
        if alias is None or out:
            return rcode, tc, ttl
        want = alias
    return rcode, tc, ttl
