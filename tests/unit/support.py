# Helpers shared by tests/unit (MicroPython-compatible: these tests also run under
# the MicroPython unix port through tests/mprun.py; no pytest imports here).
import sys

MICROPYTHON = sys.implementation.name == "micropython"


def raises(exc, fn, *args, **kw):
    """Call fn(*args, **kw) and assert it raises exc (pytest.raises is not available)."""
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("%s not raised by %r" % (exc.__name__, fn))
