# TCP segments (RFC 9293 §3.1) and their options (MSS, window scale RFC 7323,
# SACK-permitted and SACK RFC 2018, timestamps RFC 7323). Offsets are relative
# to the start of the TCP header:
#
#    0       2       4               8               12  13  14      16      18      20
#   +-------+-------+---------------+---------------+---+---+-------+-------+-------+---------
#   | sport | dport | sequence      | acknowledgment|off|flg| window| cksum | urgent| options
#   +-------+-------+---------------+---------------+---+---+-------+-------+-------+---------
#
# As in ethernet.py: plain functions over a buffer and an offset for the layer
# (no allocation: `check`, `parse_options` into a preallocated `Options`,
# `put_header`, `put_syn_options`, `fill_checksum`), and `Packet` (view) /
# `Repr` (parse/emit) for tests and tools, over the same checks. A failed
# check is reported as the counter name of the drop reason, never raised.
#
# Option rules (RFC 9293 §3.1, §3.7.1): EOL ends the list, NOP is one byte,
# every other option has a length byte; a length of 0 or 1 or one that runs
# past the header is `tcp_bad_options` (the segment is dropped). A known option
# with an unexpected length is skipped like an unknown option (as Linux does).
# A window scale above 14 is taken as 14 (RFC 7323 §2.3).
from struct import pack_into as _pack_into

from ..compat import const
from .checksum import csum

HEADER_LEN = const(20)
MAX_HEADER_LEN = const(60)
PROTO_TCP = const(6)

SRC_PORT_OFF = const(0)
DST_PORT_OFF = const(2)
SEQ_OFF = const(4)
ACK_OFF = const(8)
DOFF_OFF = const(12)
FLAGS_OFF = const(13)
WINDOW_OFF = const(14)
CHECKSUM_OFF = const(16)
URGENT_OFF = const(18)
OPTIONS_OFF = const(20)

FIN = const(0x01)
SYN = const(0x02)
RST = const(0x04)
PSH = const(0x08)
ACK = const(0x10)
URG = const(0x20)
ECE = const(0x40)
CWR = const(0x80)

OPT_EOL = const(0)
OPT_NOP = const(1)
OPT_MSS = const(2)
OPT_WSCALE = const(3)
OPT_SACK_PERM = const(4)
OPT_SACK = const(5)
OPT_TIMESTAMP = const(8)

MAX_WSCALE = const(14)
MAX_SACK_BLOCKS = const(4)

TRUNCATED = "tcp_truncated"
BAD_OFFSET = "tcp_bad_offset"
BAD_CHECKSUM = "tcp_bad_checksum"
BAD_OPTIONS = "tcp_bad_options"


# -- fast path ----------------------------------------------------------------
def pseudo_sum_at(b, ip_off, tcp_len):
    """Folded sum of the IPv4 pseudo-header, addresses read from the IPv4 header at ip_off."""
    i = ip_off + 12
    s = ((b[i] << 8) | b[i + 1]) + ((b[i + 2] << 8) | b[i + 3])
    s += ((b[i + 4] << 8) | b[i + 5]) + ((b[i + 6] << 8) | b[i + 7])
    s += PROTO_TCP + tcp_len
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def pseudo_sum(src, dst, tcp_len):
    """The same from two 4-byte addresses, or two 16-byte ones (IPv6, RFC 8200 §8.1:
    the same sum of addresses, next header and length)."""
    s = PROTO_TCP + tcp_len
    for k in range(0, len(src), 2):
        s += ((src[k] << 8) | src[k + 1]) + ((dst[k] << 8) | dst[k + 1])
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def check(b, off, n, psum):
    """Validate the segment b[off:off+n] (psum: pseudo-header sum, -1 skips
    the checksum). None when usable, else the drop reason. Options are
    checked separately by parse_options."""
    if n < HEADER_LEN:
        return TRUNCATED
    doff = b[off + 12] >> 4
    if doff < 5 or doff * 4 > n:
        return BAD_OFFSET
    if psum >= 0 and csum(b, off, off + n, psum) != 0xFFFF:
        return BAD_CHECKSUM
    return None


def header_len(b, off):
    return (b[off + 12] >> 4) << 2


def get16(b, i):
    return (b[i] << 8) | b[i + 1]


def get32(b, i):
    return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]


def put16(b, i, v):
    b[i] = (v >> 8) & 0xFF
    b[i + 1] = v & 0xFF


def put32(b, i, v):
    b[i] = (v >> 24) & 0xFF
    b[i + 1] = (v >> 16) & 0xFF
    b[i + 2] = (v >> 8) & 0xFF
    b[i + 3] = v & 0xFF


class Options:
    """Parsed options of one segment; preallocated and reused by the layer.
    Absent numeric options are -1."""

    def __init__(self):
        self.sack = [0] * (2 * MAX_SACK_BLOCKS)  # left, right pairs
        self.clear()

    def clear(self):
        self.mss = -1
        self.wscale = -1
        self.sack_perm = False
        self.ts_val = -1
        self.ts_ecr = -1
        self.sack_n = 0


def parse_options(b, i, end, o):
    """Parse the options in b[i:end] into o (an Options). None or the reason."""
    o.clear()
    while i < end:
        kind = b[i]
        if kind == OPT_EOL:
            return None
        if kind == OPT_NOP:
            i += 1
            continue
        if i + 1 >= end:
            return BAD_OPTIONS
        ln = b[i + 1]
        if ln < 2 or i + ln > end:
            return BAD_OPTIONS
        if kind == OPT_MSS:
            if ln == 4:
                o.mss = (b[i + 2] << 8) | b[i + 3]
        elif kind == OPT_WSCALE:
            if ln == 3:
                s = b[i + 2]
                o.wscale = s if s <= MAX_WSCALE else MAX_WSCALE
        elif kind == OPT_SACK_PERM:
            if ln == 2:
                o.sack_perm = True
        elif kind == OPT_TIMESTAMP:
            if ln == 10:
                o.ts_val = get32(b, i + 2)
                o.ts_ecr = get32(b, i + 6)
        elif kind == OPT_SACK:
            nb = (ln - 2) >> 3
            if (ln - 2) & 7 == 0 and 1 <= nb <= MAX_SACK_BLOCKS:
                s = o.sack
                j = 0
                while j < nb:
                    s[2 * j] = get32(b, i + 2 + 8 * j)
                    s[2 * j + 1] = get32(b, i + 6 + 8 * j)
                    j += 1
                o.sack_n = nb
        i += ln
    return None


def put_header(b, off, sport, dport, seq, ack, hlen, flags, window):
    """Write the fixed header (checksum and urgent pointer zeroed).
    One pack_into: allocation-free under both interpreters and faster than 20
    indexed stores (measured 0.19 vs 1.2 us under CPython, 0.38 vs 0.86 us
    under MicroPython)."""
    _pack_into(">HHIIBBHI", b, off, sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
               ((hlen >> 2) << 4) & 0xFF, flags & 0xFF, window & 0xFFFF, 0)


def syn_options_len(mss, wscale, sack_perm):
    n = 0
    if mss >= 0:
        n += 4
    if wscale >= 0:
        n += 4
    if sack_perm:
        n += 4
    return n


def put_syn_options(b, i, mss, wscale, sack_perm):
    """Write MSS / NOP+window scale / NOP NOP+SACK-permitted at b[i]; returns
    the bytes written (a multiple of 4). -1 / False leave an option out."""
    start = i
    if mss >= 0:
        b[i] = OPT_MSS
        b[i + 1] = 4
        b[i + 2] = (mss >> 8) & 0xFF
        b[i + 3] = mss & 0xFF
        i += 4
    if wscale >= 0:
        b[i] = OPT_NOP
        b[i + 1] = OPT_WSCALE
        b[i + 2] = 3
        b[i + 3] = wscale
        i += 4
    if sack_perm:
        b[i] = OPT_NOP
        b[i + 1] = OPT_NOP
        b[i + 2] = OPT_SACK_PERM
        b[i + 3] = 2
        i += 4
    return i - start


def fill_checksum(b, off, n, psum):
    """Compute and write the checksum of the segment b[off:off+n]."""
    b[off + 16] = 0
    b[off + 17] = 0
    s = ~csum(b, off, off + n, psum) & 0xFFFF
    b[off + 16] = s >> 8
    b[off + 17] = s & 0xFF


def put_ts(b, i, ts_val, ts_ecr):
    """NOP NOP TIMESTAMP(ts_val, ts_ecr) at b[i] (RFC 7323 Appendix A's layout);
    returns 12."""
    b[i] = OPT_NOP
    b[i + 1] = OPT_NOP
    b[i + 2] = OPT_TIMESTAMP
    b[i + 3] = 10
    b[i + 4] = (ts_val >> 24) & 0xFF
    b[i + 5] = (ts_val >> 16) & 0xFF
    b[i + 6] = (ts_val >> 8) & 0xFF
    b[i + 7] = ts_val & 0xFF
    b[i + 8] = (ts_ecr >> 24) & 0xFF
    b[i + 9] = (ts_ecr >> 16) & 0xFF
    b[i + 10] = (ts_ecr >> 8) & 0xFF
    b[i + 11] = ts_ecr & 0xFF
    return 12


def put_sack(b, i, blocks, n):
    """NOP NOP SACK with n blocks from blocks (left, right, left, right ...);
    returns 4 + 8n."""
    b[i] = OPT_NOP
    b[i + 1] = OPT_NOP
    b[i + 2] = OPT_SACK
    b[i + 3] = 2 + 8 * n
    j = 0
    while j < 2 * n:
        put32(b, i + 4 + 4 * j, blocks[j])
        j += 1
    return 4 + 8 * n


# -- view ---------------------------------------------------------------------


# The view and Repr classes (tests and tools) live in model/tcp.py, which images
# leave out (build/image.py): re-exported here where it exists.
try:
    from .model.tcp import Packet, Repr, flag_str  # noqa: E402, F401
except ImportError:
    pass
