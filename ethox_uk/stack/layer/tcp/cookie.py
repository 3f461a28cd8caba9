# SYN cookies (RFC 4987 §3.6): once the half-open queue is full, a SYN gets a
# SYN-ACK whose initial sequence number carries what the connection needs and
# nothing is kept; the peer's ACK (acknowledging ISN + 1) brings it back.
#
#   ISN    = MAC24 << 8 | t << 3 | mss_index
#   t      five bits of a 64-second clock: a cookie is good for 64-128 s
#   MSS    one of MSS_TABLE (the largest not above the peer's)
#   TSval  with timestamps, its low six bits carry the rest (as Linux does):
#          bit 5 set, bit 4 SACK-permitted, bits 0-3 the peer's window scale
#          (15: none); without timestamps there is no room for them, and such a
#          connection does without window scaling and SACK
#   MAC24  24 bits of a keyed hash (the stack's secret) over the four-tuple,
#          the peer's ISN, t, the MSS index and the option bits
#
# A forged ACK passes with probability 2**-23 (two values of t accepted).
from ...compat import const
from .endpoint import _mix32, _sha256  # the keyed hash the ISNs use too

MSS_TABLE = (536, 1220, 1300, 1380, 1440, 1448, 1452, 1460)
TS_MARK = const(0x20)
TS_SACK = const(0x10)
NO_WSCALE = const(15)
_MASK = const(0xFFFFFFFF)
_PERIOD_MS = const(64000)

def _mac(ep, rip_int, rport, lport, peer_isn, t, mss_idx, opts):
    if _sha256 is not None:
        b = ep.cookie_buf
        b[0] = (rip_int >> 24) & 0xFF
        b[1] = (rip_int >> 16) & 0xFF
        b[2] = (rip_int >> 8) & 0xFF
        b[3] = rip_int & 0xFF
        b[4] = rport >> 8
        b[5] = rport & 0xFF
        b[6] = lport >> 8
        b[7] = lport & 0xFF
        b[8] = (peer_isn >> 24) & 0xFF
        b[9] = (peer_isn >> 16) & 0xFF
        b[10] = (peer_isn >> 8) & 0xFF
        b[11] = peer_isn & 0xFF
        b[12] = t
        b[13] = mss_idx
        b[14] = opts
        h = _sha256(ep.secret)
        h.update(b)
        d = h.digest()
        return (d[0] << 16) | (d[1] << 8) | d[2]
    k = ep.kw
    h = _mix32(rip_int, k[0])
    h = _mix32(h ^ ((lport << 16) | rport), k[1])
    h = _mix32(h ^ peer_isn, k[2])
    h = _mix32(h ^ ((t << 16) | (mss_idx << 8) | opts), k[3])
    return h & 0xFFFFFF


def mss_index(mss):
    """The largest MSS_TABLE entry not above mss (the first when all are)."""
    i = len(MSS_TABLE) - 1
    while i > 0 and MSS_TABLE[i] > mss:
        i -= 1
    return i


def tick(now):
    return (now // _PERIOD_MS) & 31


def make(ep, rip_int, rport, lport, peer_isn, now, mss_idx, opts):
    """The ISN of a cookie SYN-ACK (opts: the TSval bits, 0 without timestamps)."""
    t = tick(now)
    return ((_mac(ep, rip_int, rport, lport, peer_isn, t, mss_idx, opts) << 8)
            | (t << 3) | mss_idx) & _MASK


def check(ep, rip_int, rport, lport, peer_isn, now, isn, opts):
    """The MSS index the cookie ISN carries when it is ours and fresh, else -1."""
    t = (isn >> 3) & 31
    now_t = tick(now)
    if t != now_t and t != ((now_t - 1) & 31):
        return -1
    mss_idx = isn & 7
    if (isn >> 8) != _mac(ep, rip_int, rport, lport, peer_isn, t, mss_idx, opts):
        return -1
    return mss_idx
