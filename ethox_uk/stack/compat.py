# The few differences between CPython and MicroPython that the stack needs.
# Every stack module takes const() from here (never from micropython directly),
# so the same source runs unchanged under both interpreters.
#
# `micropython` is the name MicroPython's compiler looks for in the built-in
# decorators: a hot function written
#
#     from ..compat import micropython
#
#     @micropython.native
#     def receive(self, view, length, now): ...
#
# is compiled to machine code by MicroPython (mpy-cross -march=x64 for the
# image, the unix port's own compiler in the tests) -- the decorator is
# consumed by the compiler, never looked up at run time -- and is left as it
# is by CPython, where `micropython` is the stub below. Only plain Python goes
# under `native` (no viper types).
import errno as _errno

try:
    from micropython import const  # noqa: F401
    import micropython  # noqa: F401

    MICROPYTHON = True
except ImportError:
    MICROPYTHON = False

    def const(x):
        return x

    class micropython:  # noqa: N801 (the name the compiler matches)
        @staticmethod
        def native(f):
            return f

if MICROPYTHON:
    from time import ticks_ms  # noqa: F401
else:
    import time as _time

    def ticks_ms():
        """A millisecond clock (MicroPython's time.ticks_ms; it wraps, this does not)."""
        return int(_time.monotonic() * 1000)


def errno_code(name, linux):
    """errno.NAME; Linux's number where MicroPython's errno lacks the name (EPIPE, EISCONN)."""
    return getattr(_errno, name, linux)
