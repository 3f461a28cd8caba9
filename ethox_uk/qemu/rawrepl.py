"""A small client of MicroPython's raw REPL (with raw-paste mode), the protocol mpremote speaks.

Why not mpremote's own transport (`mpremote.transport_serial.SerialTransport`)? It opens a
serial device path through pyserial: it cannot use the inherited socketpair that `exec`
gives QEMU (no path, nothing to race or go stale) nor a unix socket of `--serial unix:`;
its waits are its own fixed timeouts; and the guest ending QEMU in the middle of a command
(`sys.exit(3)`, an exception under `exec`) surfaces there as an exception instead of the
orderly end of output we need before reading QEMU's exit status. The protocol is small; this
module implements it over any object with `read(timeout) -> bytes` and `write(bytes)` (see
vm.Console). Plain `mpremote connect /dev/pts/N ...` works against an image all the same (a
test checks it).

Protocol: Ctrl-C twice stops whatever runs, Ctrl-A enters the raw REPL ("raw REPL; CTRL-B to
exit\\r\\n>"); Ctrl-E A Ctrl-A asks for raw-paste ("R\\x01" + a 16-bit window, flow-controlled
by "\\x01" increments) and falls back to plain raw mode; the code ends with Ctrl-D; the
device answers "OK", the code's stdout, "\\x04", its exception text (if any), "\\x04" and ">".
Ctrl-B returns to the friendly REPL.
"""

import time

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
RAW_BANNER_TAIL = b"w REPL; CTRL-B to exit\r\n>"


class RawReplError(Exception):
    pass


class Eof(RawReplError):
    """The console closed (QEMU exited)."""


class Timeout(RawReplError):
    pass


class CrLf:
    """Undo the console's \\n -> \\r\\n while streaming (a lone \\r passes through)."""

    def __init__(self, sink):
        self.sink = sink
        self.held = b""

    def __call__(self, data):
        data = self.held + data
        self.held = b""
        if data.endswith(b"\r"):
            data, self.held = data[:-1], b"\r"
        if data:
            self.sink(data.replace(b"\r\n", b"\n"))

    def flush(self):
        if self.held:
            self.sink(self.held)
            self.held = b""


class RawRepl:
    def __init__(self, console):
        self.con = console
        self.buf = bytearray()

    # -- low level ----------------------------------------------------------------------
    def _fill(self, deadline):
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise Timeout("no answer from the guest in time")
        data = self.con.read(0.5 if left is None else min(left, 0.5))
        if data:
            self.buf += data
            return True
        if getattr(self.con, "eof", False):
            raise Eof("the console closed")
        return False

    def read_until(self, marker, timeout=None, sink=None):
        """Bytes up to and including marker; with sink, bytes before it go there as they come
        (and only the marker is returned)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                end = i + len(marker)
                out = bytes(self.buf[:end])
                del self.buf[:end]
                if sink is not None:
                    if i:
                        sink(out[:i])
                    return marker
                return out
            if sink is not None and len(self.buf) > len(marker):
                n = len(self.buf) - (len(marker) - 1)
                sink(bytes(self.buf[:n]))
                del self.buf[:n]
            self._fill(deadline)

    def read_exact(self, n, timeout):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            self._fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def drain(self, quiet=0.05, limit=1.0):
        """Discard what arrives until the console has been quiet for `quiet` seconds."""
        end = time.monotonic() + limit
        self.buf.clear()
        while time.monotonic() < end:
            if not self.con.read(quiet):
                if getattr(self.con, "eof", False):
                    raise Eof("the console closed")
                return

    def write(self, data):
        if not self.con.write(data):
            raise Eof("the console closed")

    # -- the protocol -------------------------------------------------------------------
    def enter(self, timeout=10.0, interrupt=True):
        """Enter the raw REPL (from the friendly REPL or a running program)."""
        if interrupt:
            self.write(b"\r\x03\x03")
            self.drain()
        self.write(b"\r\x01")
        self.read_until(RAW_BANNER, timeout)

    def leave(self):
        """Back to the friendly REPL."""
        self.write(b"\r\x02")

    def _send_plain(self, code, timeout):
        for i in range(0, len(code), 256):
            self.write(code[i:i + 256])
            time.sleep(0.01)
        self.write(b"\x04")
        ok = self.read_exact(2, timeout)
        if ok != b"OK":
            raise RawReplError("the raw REPL did not accept the code (got %r)" % ok)

    def _send_paste(self, code, timeout):
        window = int.from_bytes(self.read_exact(2, timeout), "little")
        remain = window
        i = 0
        while i < len(code):
            while remain == 0 or self.buf or self.con_has_data():
                c = self.read_exact(1, timeout)
                if c == b"\x01":
                    remain += window
                elif c == b"\x04":  # the device ended the paste early (an error)
                    self.write(b"\x04")
                    return
                else:
                    raise RawReplError("unexpected %r from the guest during raw paste" % c)
            chunk = code[i:i + remain]
            self.write(chunk)
            remain -= len(chunk)
            i += len(chunk)
        self.write(b"\x04")
        self.read_until(b"\x04", timeout)  # the device acknowledges the end of the code

    def con_has_data(self):
        data = self.con.read(0)
        if data:
            self.buf += data
            return True
        return False

    def send(self, code, timeout=10.0):
        """Hand code (bytes) to the raw REPL; returns when the guest starts running it."""
        self.write(b"\x05A\x01")
        answer = self.read_exact(2, timeout)
        if answer == b"R\x01":
            self._send_paste(code, timeout)
        elif answer == b"R\x00":  # raw-paste known but refused
            self._send_plain(code, timeout)
        else:  # no raw-paste: the raw REPL took the bytes as input; start over
            self.buf[:0] = answer
            self.read_until(RAW_BANNER_TAIL, timeout)
            self._send_plain(code, timeout)

    def follow(self, out, err, timeout=None):
        """Stream the code's stdout to out and its exception text to err (callables taking
        bytes); returns the exception text (b"" when the code ran to its end)."""
        o, e = CrLf(out), CrLf(err)
        self.read_until(b"\x04", timeout, sink=o)
        o.flush()
        chunks = []

        def both(data):
            chunks.append(data)
            e(data)

        self.read_until(b"\x04", timeout, sink=both)
        e.flush()
        return b"".join(chunks)

    def exec(self, code, out, err, timeout=None):
        """send + follow + wait for the next prompt (unless the guest exits first)."""
        self.send(code)
        text = self.follow(out, err, timeout)
        try:
            self.read_until(b">", 2.0)
        except (Eof, Timeout):
            pass
        return text
