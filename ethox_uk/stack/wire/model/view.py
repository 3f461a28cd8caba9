# The base of every wire model: a view of a header inside a shared buffer (field offsets
# relative to where the header starts, big-endian as every header here) and value
# equality for the parsed forms. Tests and tools only; images leave wire/model/ out.


class View:
    """A view over buf[off:end] (end defaults to len(buf)). Getters read and setters write
    in place; check()/check_len() say whether the bytes hold a sound header."""

    def __init__(self, buf, off=0, end=-1):
        self.attach(buf, off, end)

    def attach(self, buf, off=0, end=-1):
        self.buf = buf
        self.off = off
        self.end = len(buf) if end < 0 else end
        return self

    def size(self):
        """How many bytes the view spans (end - off)."""
        return self.end - self.off

    def _u8(self, i):
        return self.buf[self.off + i]

    def _u16(self, i):
        i += self.off
        return (self.buf[i] << 8) | self.buf[i + 1]

    def _u32(self, i):
        return (self._u16(i) << 16) | self._u16(i + 2)

    def _set8(self, i, v):
        self.buf[self.off + i] = v & 255

    def _set16(self, i, v):
        i += self.off
        self.buf[i] = (v >> 8) & 255
        self.buf[i + 1] = v & 255

    def _set32(self, i, v):
        self._set16(i, (v >> 16) & 0xFFFF)
        self._set16(i + 2, v & 0xFFFF)

    def _bytes(self, i, n):
        i += self.off
        return bytes(self.buf[i:i + n])

    def _put(self, i, data):
        i += self.off
        self.buf[i:i + len(data)] = data


class ReprBase:
    """A header as values; equal when of the same kind with the same fields."""

    def __eq__(self, other):
        return type(other) is type(self) and self.__dict__ == other.__dict__

    def __ne__(self, other):
        return not self.__eq__(other)
