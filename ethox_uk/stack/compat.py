# The few differences between CPython and MicroPython that the stack needs.
# Every stack module takes const() from here (never from micropython directly),
# so the same source runs unchanged under both interpreters.
try:
    from micropython import const  # noqa: F401

    MICROPYTHON = True
except ImportError:
    MICROPYTHON = False

    def const(x):
        return x
