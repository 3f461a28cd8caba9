# The sender's SACK scoreboard (RFC 2018) and what loss recovery asks of it
# (RFC 6675, in the form FreeBSD's stack uses):
#
#   update(conn, blocks, n)   take the SACK blocks of an arriving ACK
#   prune(conn)               drop what SND.UNA has passed (after a new ACK)
#   clear(conn)               forget everything (RTO: SACK is only advice)
#   next_hole(conn)           the first un-SACKed byte at or after HighRxt that
#                             lies below the highest SACKed byte, or -1; the
#                             hole's length is left in conn.hole_len
#   pipe(conn)                octets in flight (RFC 6675 §4), holes below the
#                             highest SACKed byte counting as lost until
#                             retransmitted
#
# conn.sacked is a list of [left, right) sequence-number pairs, sorted by
# their distance from SND.UNA, disjoint, within (SND.UNA, SND.MAX], at most
# MAX_BLOCKS of them (a new block beyond that replaces the highest: the lowest
# holes matter most). conn.sacked_bytes is their sum. Sequence numbers are
# compared as distances from SND.UNA, so wrap-around needs nothing special.
from ...compat import const

_MASK = const(0xFFFFFFFF)
_HALF = const(0x80000000)
MAX_BLOCKS = const(8)


def clear(conn):
    conn.sacked = []
    conn.sacked_bytes = 0
    conn.high_rxt = conn.snd_una


def update(conn, blocks, n):
    """Merge n (left, right) blocks of an arriving ACK into the scoreboard;
    blocks outside (SND.UNA, SND.MAX] or inverted are ignored (RFC 2018 §4:
    SACK is advisory; a forged block never grows the flight)."""
    una = conn.snd_una
    top = (conn.snd_max - una) & _MASK
    changed = False
    for j in range(n):
        lo = (blocks[2 * j] - una) & _MASK
        hi = (blocks[2 * j + 1] - una) & _MASK
        if lo >= hi or hi > top or lo >= _HALF:
            continue  # D-SACK (below SND.UNA), beyond what we sent, or inverted
        if _add(conn, lo, hi, una):
            changed = True
    return changed


def _add(conn, lo, hi, una):
    s = conn.sacked
    i = 0
    while i < len(s) and ((s[i][1] - una) & _MASK) < lo:
        i += 1
    if i < len(s) and ((s[i][0] - una) & _MASK) <= hi:
        b = s[i]
        blo = (b[0] - una) & _MASK
        bhi = (b[1] - una) & _MASK
        if lo >= blo and hi <= bhi:
            return False  # nothing new
        if lo < blo:
            b[0] = (una + lo) & _MASK
        if hi > bhi:
            b[1] = (una + hi) & _MASK
        while i + 1 < len(s) and ((s[i + 1][0] - una) & _MASK) <= ((b[1] - una) & _MASK):
            nx = s.pop(i + 1)
            if ((nx[1] - una) & _MASK) > ((b[1] - una) & _MASK):
                b[1] = nx[1]
    else:
        if len(s) >= MAX_BLOCKS:
            if i >= len(s):
                return False  # above every block we keep: drop it
            s.pop()
        s.insert(i, [(una + lo) & _MASK, (una + hi) & _MASK])
    _recount(conn)
    return True


def _recount(conn):
    t = 0
    for b in conn.sacked:
        t += (b[1] - b[0]) & _MASK
    conn.sacked_bytes = t


def prune(conn):
    """SND.UNA moved on: drop or trim the blocks it passed."""
    s = conn.sacked
    if not s:
        return
    una = conn.snd_una
    while s:
        d = (s[0][1] - una) & _MASK
        if d != 0 and d < _HALF:
            break
        s.pop(0)  # ends at or before SND.UNA
    if s and ((s[0][0] - una) & _MASK) >= _HALF:
        s[0][0] = una  # SND.UNA lies inside the first block
    _recount(conn)
    if ((conn.high_rxt - una) & _MASK) >= _HALF:
        conn.high_rxt = una


def high_sacked(conn):
    """Distance from SND.UNA to the end of the highest SACKed block (0: none)."""
    s = conn.sacked
    if not s:
        return 0
    return (s[-1][1] - conn.snd_una) & _MASK


def next_hole(conn):
    """Sequence number of the first un-SACKed byte at or after HighRxt below the
    highest SACKed byte (RFC 6675 NextSeg rule 1: holes are lost once data
    above them is SACKed), or -1; conn.hole_len: the hole's length."""
    s = conn.sacked
    if not s:
        return -1
    una = conn.snd_una
    p = (conn.high_rxt - una) & _MASK
    if p >= _HALF:
        p = 0
    for b in s:
        lo = (b[0] - una) & _MASK
        hi = (b[1] - una) & _MASK
        if p < lo:
            conn.hole_len = lo - p
            return (una + p) & _MASK
        if p < hi:
            p = hi
    return -1


def pipe(conn):
    """RFC 6675 §4's pipe, with every un-SACKed byte below the highest SACKed
    one taken as lost: the un-SACKed tail above the highest block, plus the
    holes below HighRxt (retransmitted, so in flight again)."""
    s = conn.sacked
    una = conn.snd_una
    flight = (conn.snd_max - una) & _MASK
    if not s:
        return flight
    top = (s[-1][1] - una) & _MASK
    rx = (conn.high_rxt - una) & _MASK
    if rx >= _HALF:
        rx = 0
    p = flight - top
    q = 0  # start of the current hole
    for b in s:
        if q >= rx:
            break
        lo = (b[0] - una) & _MASK
        e = lo if lo < rx else rx
        if e > q:
            p += e - q
        q = (b[1] - una) & _MASK
    return p
