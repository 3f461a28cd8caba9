# ethox_uk.stack.compat under both interpreters (CPython via pytest, MicroPython via
# tests/mprun.py).
import support
from ethox_uk.stack import compat
from ethox_uk.stack.compat import const

FORTY_TWO = const(42)


def test_const_returns_its_value():
    assert FORTY_TWO == 42
    assert const(0x10) + 1 == 17


def test_micropython_flag_matches_interpreter():
    assert compat.MICROPYTHON is support.MICROPYTHON


def test_int_to_bytes_positional():
    # The form the stack uses everywhere (MicroPython takes no keyword arguments here).
    assert (0x0800).to_bytes(2, "big") == b"\x08\x00"
    assert int.from_bytes(b"\x08\x00", "big") == 0x0800


def test_raises_helper():
    e = support.raises(ValueError, int, "x")
    assert isinstance(e, ValueError)
    support.raises(AssertionError, support.raises, ValueError, int, "1")
