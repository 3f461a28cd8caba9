# Unpredictable numbers for the protocol fields an off-path attacker must not
# guess: DHCP transaction IDs, DNS query IDs and source ports (RFC 5452 §9.2).
#
#   r = Rand(seed)        seed None: unpredictable; an int: a repeatable
#                         sequence (tests, simulated time)
#   r.u32() / r.below(n)
#
# Unpredictable means: os.urandom where the interpreter has it (CPython, the
# MicroPython unix port); else (the image: no urandom) SHA-256 over a key and
# a counter, the key drawn from MicroPython's `random`, which the runtime seeds
# from the TSC at boot. That key holds little entropy (the boot time's jitter),
# so the image's values are unguessable only as far as the TSC is: a hardware
# source (RDRAND) in the runtime would make them strong. `stir(x)` mixes in
# what the caller sees change (the millisecond time of a query, say).
from .compat import const

_MASK = const(0xFFFFFFFF)


def _urandom():
    try:
        import os

        os.urandom(4)
        return os.urandom
    except (ImportError, AttributeError, NotImplementedError, OSError):
        return None


class Rand:
    def __init__(self, seed=None):
        self._state = 0
        self._urandom = None
        self._sha = None
        if seed is not None:
            self._state = (seed * 2654435761 + 0x9E3779B9) & _MASK or 1
            return
        self._urandom = _urandom()
        if self._urandom is not None:
            return
        try:
            import random

            key = random.getrandbits(32)
        except (ImportError, AttributeError):
            key = 0x5EED
        self._state = key & _MASK or 1
        try:
            import hashlib

            self._sha = hashlib.sha256
            self._key = bytes([random.getrandbits(8) for _ in range(16)])
        except (ImportError, AttributeError, NameError):
            pass
        self._count = 0

    def stir(self, x):
        """Mix x (an int the caller saw, e.g. the time) into the state."""
        self._state = (self._state ^ (x * 0x9E3779B1)) & _MASK or 1

    def u32(self):
        if self._urandom is not None:
            b = self._urandom(4)
            return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]
        if self._sha is not None:
            self._count += 1
            n = self._count ^ self._state
            d = self._sha(self._key + bytes(((n >> 24) & 255, (n >> 16) & 255,
                                             (n >> 8) & 255, n & 255))).digest()
            return (d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]
        x = self._state  # xorshift32: the repeatable sequence of a seeded Rand
        x ^= (x << 13) & _MASK
        x ^= x >> 17
        x ^= (x << 5) & _MASK
        self._state = x
        return x

    def below(self, n):
        """A value in 0..n-1 (n >= 1, up to 2**32)."""
        return self.u32() % n
