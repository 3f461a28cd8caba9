# Where connections live: a fixed table of slots, each connection named by a
# SlotKey (an int: slot index + generation, so a stale key never reaches a
# newer connection in the same slot), found by four-tuple through a dict keyed
# by a small int; listeners with their accept queue; initial sequence numbers
# (RFC 6528) and ephemeral ports (RFC 6056, a simple keyed offset).
#
# Bounds: `slots` connections in all; at most `syn_max` of them half-open
# (SYN-RECEIVED from a listener): a SYN flood evicts the oldest half-open
# entry and never touches the rest of the table.
from ...compat import const

_MASK = const(0xFFFFFFFF)
_GEN = const(1024)
FIXED_ISN = const(0x12345678)  # the fixed_isn fault switch's ISN  # SlotKey = generation * _GEN + index (so at most 1024 slots)


class Listener:
    def __init__(self, port, backlog, window=0):
        self.port = port
        self.backlog = backlog if backlog > 0 else 1
        self.window = window  # the RecvBuf its connections get (0: unknown)
        self.queue = []  # keys of established connections not yet accepted


def tuple_hash(rip_int, rport, lport):
    """A small-int dict key for a four-tuple (our address is implied); not
    unique, so lookups compare the fields too."""
    return ((rip_int << 16) | rport) ^ (lport << 30)


class _Secret:
    """The per-stack secret key of RFC 6528's F(): 16 bytes."""

    def __init__(self, seed):
        if seed is not None:
            b = bytearray(16)
            x = (seed * 2654435761 + 0x9E3779B9) & _MASK or 1
            for i in range(16):
                x ^= (x << 13) & _MASK
                x ^= x >> 17
                x ^= (x << 5) & _MASK
                b[i] = x & 0xFF
            self.key = bytes(b)
            return
        key = None
        try:
            import os

            key = os.urandom(16)
        except (ImportError, AttributeError, NotImplementedError, OSError):
            try:
                import random

                key = bytes([random.getrandbits(8) for _ in range(16)])
            except (ImportError, AttributeError):
                key = b"ethox-uk-tcp-key"
        self.key = bytes(key)


try:
    import hashlib

    _sha256 = hashlib.sha256
except (ImportError, AttributeError):
    _sha256 = None


def _mix32(x, k):
    # keyed integer mixing (a murmur3-style finaliser); the fallback F() when
    # the interpreter has no hashlib
    x = (x ^ k) & _MASK
    x = (x * 0x85EBCA6B) & _MASK
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & _MASK
    x ^= x >> 16
    return x


def _mix32s(x):
    # _mix32's finaliser with each multiplication split in 16-bit halves, so every
    # intermediate stays a small int (MicroPython allocates for big ones)
    x ^= x >> 16
    x = (x * 0xCA6B + (((x * 0x85EB) & 0xFFFF) << 16)) & _MASK
    x ^= x >> 13
    x = (x * 0xAE35 + (((x * 0xC2B2) & 0xFFFF) << 16)) & _MASK
    x ^= x >> 16
    return x


class Endpoint:
    def __init__(self, slots=128, syn_max=32, seed=None):
        if slots > _GEN:
            slots = _GEN
        self.conns = [None] * slots
        self.gens = [0] * slots
        self.free = list(range(slots - 1, -1, -1))
        self.table = {}  # tuple_hash -> connection (first one; collisions fall back to a scan)
        self.shadowed = 0  # connections whose tuple_hash entry another one holds
        self.count = 0
        self.syn_max = syn_max
        self.half_open = []  # passive SYN-RECEIVED connections, oldest first
        self.secret = _Secret(seed).key
        k = self.secret
        self._kw = [(k[4 * i] << 24) | (k[4 * i + 1] << 16) | (k[4 * i + 2] << 8) | k[4 * i + 3]
                    for i in range(4)]
        self.kw = self._kw  # the key as four words (cookie.py's fallback MAC)
        self.cookie_buf = bytearray(15)  # cookie.py's MAC input
        self._port_next = 49152 + (self._kw[3] % 16384)
        self.fixed_isn = False  # test-only fault switch: the same ISN every time

    # -- slots ------------------------------------------------------------------
    def add(self, conn):
        """Give conn a slot and a key; False when the table is full."""
        if not self.free:
            return False
        i = self.free.pop()
        self.conns[i] = conn
        conn.key = self.gens[i] * _GEN + i
        h = tuple_hash(conn.rip_int, conn.rport, conn.lport)
        if h not in self.table:
            self.table[h] = conn
            conn.shadowed = False
        else:
            conn.shadowed = True
            self.shadowed += 1
        self.count += 1
        return True

    def remove(self, conn):
        key = conn.key
        if key is None:
            return
        i = key % _GEN
        if self.conns[i] is not conn:
            return
        self.conns[i] = None
        self.gens[i] = (self.gens[i] + 1) % 1000000
        self.free.append(i)
        self.count -= 1
        h = tuple_hash(conn.rip_int, conn.rport, conn.lport)
        if conn.shadowed:
            conn.shadowed = False
            self.shadowed -= 1
        elif self.table.get(h) is conn:
            del self.table[h]
            # a colliding connection may now take the dict entry (only a
            # shadowed one can collide: without any, no scan of the table)
            if self.shadowed:
                for other in self.conns:
                    # collisions mix the fields: any local port may collide
                    if other is not None and other.shadowed and \
                            tuple_hash(other.rip_int, other.rport, other.lport) == h:
                        self.table[h] = other
                        other.shadowed = False
                        self.shadowed -= 1
                        break
        if conn in self.half_open:
            self.half_open.remove(conn)

    def get(self, key):
        if key is None or key < 0:
            return None
        c = self.conns[key % _GEN]
        if c is not None and c.key == key:
            return c
        return None

    def lookup(self, rip_int, rport, lport):
        c = self.table.get(((rip_int << 16) | rport) ^ (lport << 30))
        if c is not None:
            if c.rip_int == rip_int and c.rport == rport and c.lport == lport:
                return c
            for c in self.conns:  # hash collision: rare, so a scan is fine
                if c is not None and c.rip_int == rip_int and c.rport == rport \
                        and c.lport == lport:
                    return c
        return None

    # -- IPv6 ---------------------------------------------------------------------
    def key6(self, b, off):
        """rip_int of the IPv6 address b[off:off+16]: 2**32 + a 32-bit digest keyed
        with the secret (collisions are not an attacker's choice; lookups compare the
        address anyway). No big ints: 16-bit halves keep products in small ints."""
        k = self._kw
        h = k[0]
        for i in range(4):
            j = off + 4 * i
            w = (b[j] << 24) | (b[j + 1] << 16) | (b[j + 2] << 8) | b[j + 3]
            h = _mix32s(h ^ w ^ k[(i + 1) & 3])
        return 0x100000000 | h

    def same6(self, conn, b, off, lip):
        """conn's remote address is b[off:off+16] and its local one lip."""
        r = conn.rip
        q = conn.lip
        if q is None:
            return False
        for k in range(16):
            if r[k] != b[off + k] or q[k] != lip[k]:
                return False
        return True

    def lookup6(self, b, off, lip, rip_int, rport, lport):
        """lookup() for an IPv6 segment whose first match was another address."""
        for c in self.conns:
            if c is not None and c.rip_int == rip_int and c.rport == rport \
                    and c.lport == lport and self.same6(c, b, off, lip):
                return c
        return None

    def full(self):
        return not self.free

    def oldest_time_wait(self, state_tw):
        best = None
        for c in self.conns:
            if c is not None and c.state == state_tw and (best is None or c.tw_at < best.tw_at):
                best = c
        return best

    def keys(self):
        return [c.key for c in self.conns if c is not None]

    # -- RFC 6528 initial sequence numbers -----------------------------------------
    def isn(self, lport, rip_int, rport, now):
        """ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a
        4 µs clock (now is in ms). Our address is fixed per stack, so it is
        part of the key's scope rather than hashed."""
        if self.fixed_isn:
            return FIXED_ISN
        if _sha256 is not None:
            h = _sha256(self.secret)
            b = bytearray(8)
            b[0] = (rip_int >> 24) & 0xFF
            b[1] = (rip_int >> 16) & 0xFF
            b[2] = (rip_int >> 8) & 0xFF
            b[3] = rip_int & 0xFF
            b[4] = lport >> 8
            b[5] = lport & 0xFF
            b[6] = rport >> 8
            b[7] = rport & 0xFF
            h.update(b)
            d = h.digest()
            f = (d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]
        else:
            k = self._kw
            f = _mix32(rip_int, k[0])
            f = _mix32(f ^ ((lport << 16) | rport), k[1])
            f = _mix32(f, k[2])
        return (f + now * 250) & _MASK

    # -- ephemeral ports --------------------------------------------------------
    def ephemeral_port(self, rip_int, rport, listeners):
        for _ in range(16384):
            p = self._port_next
            self._port_next = 49152 if p >= 65535 else p + 1
            if p in listeners:
                continue
            if self.lookup(rip_int, rport, p) is None:
                return p
        return 0
