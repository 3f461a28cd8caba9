"""The console hub of a detached VM (runs in its supervisor).

QEMU's serial console is one end of a socketpair; the hub copies the guest's output to

    console.log     always (`ethox-uk logs`); rotated to console.log.1 at LOG_MAX bytes
    console.sock    a unix stream socket, one client at a time (`ethox-uk exec/repl NAME`
                    and `exec --attach unix:...`); a second client waits in the listen
                    queue until the first leaves
    a pty           for `mpremote connect /dev/pts/N` (and anything else that wants a
                    serial device); written only while someone has it open

and what any client types to the guest. Why a pty of our own and not QEMU's `-serial pty`:
QEMU has one backend per serial port, and the log and the socket are needed as well.

Writes never block the hub: each side has a pending buffer drained when it can take more.
A client that stops reading for long (more than SINK_MAX bytes behind) loses the oldest
output (the socket client is dropped); input waits when the guest is not reading (QEMU
stops taking console bytes while the guest's UART is full), and no more client input is
read until it drains.
"""

import errno
import os
import select
import socket
import tty

LOG_MAX = 8 << 20
SINK_MAX = 1 << 20
GUEST_MAX = 64 << 10
PTY_CHECK_S = 0.2  # how often a closed pty is looked at again (POLLHUP cannot be waited on)


class ConsoleLog:
    def __init__(self, path):
        self.path = str(path)
        self.f = open(self.path, "ab", buffering=0)

    def write(self, data):
        self.f.write(data)
        if self.f.tell() >= LOG_MAX:
            self.f.close()
            os.replace(self.path, self.path + ".1")
            self.f = open(self.path, "ab", buffering=0)

    def close(self):
        self.f.close()


def open_pty():
    """(master fd, slave path): raw mode set once on the slave (kept by the tty while the
    master is open), the slave closed again so that POLLHUP on the master tells whether
    anyone has it open."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    tty.setraw(slave)
    os.close(slave)
    os.set_blocking(master, False)
    return master, path


class ConsoleHub:
    def __init__(self, guest, log_path, sock_path, on_output=None):
        """guest: our end of QEMU's console socketpair."""
        self.guest = guest
        self.guest.setblocking(False)
        self.log = ConsoleLog(log_path)
        self.sock_path = str(sock_path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.unlink(self.sock_path)
        except FileNotFoundError:
            pass
        self.listener.bind(self.sock_path)
        self.listener.listen(4)
        self.listener.setblocking(False)
        self.client = None
        self.pty, self.pty_path = open_pty()
        self.pty_open = False
        self.to_guest = bytearray()
        self.to_client = bytearray()
        self.to_pty = bytearray()
        self.on_output = on_output  # called with each chunk of guest output
        self.guest_eof = False
        self.dropped = 0

    # -- one round ---------------------------------------------------------------------
    def step(self, timeout):
        """Move what is ready; wait at most timeout seconds (less while the pty is closed)."""
        self._check_pty()
        p = select.poll()
        if not self.guest_eof:
            ev = select.POLLIN if len(self.to_guest) < GUEST_MAX else 0
            if self.to_guest:
                ev |= select.POLLOUT
            p.register(self.guest, ev or select.POLLERR)
        if self.client is None:
            p.register(self.listener, select.POLLIN)
        else:
            ev = select.POLLIN if len(self.to_guest) < GUEST_MAX else 0
            if self.to_client:
                ev |= select.POLLOUT
            p.register(self.client, ev or select.POLLERR)
        if self.pty_open:
            ev = select.POLLIN if len(self.to_guest) < GUEST_MAX else 0
            if self.to_pty:
                ev |= select.POLLOUT
            p.register(self.pty, ev or select.POLLERR)
        else:
            timeout = min(timeout, PTY_CHECK_S)
        for fd, ev in p.poll(max(0, timeout) * 1000):
            if self.client is not None and fd == self.client.fileno():
                self._client_event(ev)
            elif fd == self.listener.fileno():
                self._accept()
            elif fd == self.pty:
                self._pty_event(ev)
            elif fd == self.guest.fileno():
                self._guest_event(ev)

    def _guest_event(self, ev):
        if ev & select.POLLIN or ev & (select.POLLHUP | select.POLLERR):
            try:
                data = self.guest.recv(65536)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                data = b""
            if data == b"":
                self.guest_eof = True
            elif data:
                self._output(data)
        if ev & select.POLLOUT and self.to_guest and not self.guest_eof:
            try:
                n = self.guest.send(self.to_guest)
                del self.to_guest[:n]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self.guest_eof = True

    def _output(self, data):
        self.log.write(data)
        if self.on_output is not None:
            self.on_output(data)
        if self.client is not None:
            self.to_client += data
            if len(self.to_client) > SINK_MAX:  # it stopped reading: let it go
                self._drop_client()
        if self.pty_open:
            self.to_pty += data
            if len(self.to_pty) > SINK_MAX:
                self.dropped += len(self.to_pty) - SINK_MAX
                del self.to_pty[:len(self.to_pty) - SINK_MAX]

    def inject(self, data):
        """Type data into the guest's console (the supervisor's soft stop)."""
        self.to_guest += data

    # -- the socket client
    def _accept(self):
        try:
            c, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        c.setblocking(False)
        self.client = c
        self.to_client.clear()

    def _drop_client(self):
        try:
            self.client.close()
        except OSError:
            pass
        self.client = None
        self.to_client.clear()

    def _client_event(self, ev):
        if ev & select.POLLIN:
            try:
                data = self.client.recv(65536)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                data = b""
            if data == b"":
                self._drop_client()
                return
            if data:
                self.to_guest += data
        elif ev & (select.POLLHUP | select.POLLERR):
            self._drop_client()
            return
        if ev & select.POLLOUT and self.to_client:
            try:
                n = self.client.send(self.to_client)
                del self.to_client[:n]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self._drop_client()

    # -- the pty
    def _check_pty(self):
        if self.pty_open:
            return
        p = select.poll()
        p.register(self.pty, select.POLLIN)
        hup = any(ev & select.POLLHUP for _, ev in p.poll(0))
        if not hup:  # someone opened it: from now on it gets the guest's output
            self.pty_open = True
            self.to_pty.clear()

    def _pty_event(self, ev):
        if ev & select.POLLIN:
            try:
                data = os.read(self.pty, 65536)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError as e:
                data = b"" if e.errno == errno.EIO else None
            if data:
                self.to_guest += data
            elif data == b"":
                self._pty_closed()
                return
        if ev & select.POLLHUP:
            self._pty_closed()
            return
        if ev & select.POLLOUT and self.to_pty:
            try:
                n = os.write(self.pty, self.to_pty)
                del self.to_pty[:n]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self._pty_closed()

    def _pty_closed(self):
        self.pty_open = False
        self.to_pty.clear()

    def close(self):
        if self.client is not None:
            self._drop_client()
        self.listener.close()
        try:
            os.unlink(self.sock_path)
        except OSError:
            pass
        try:
            os.close(self.pty)
        except OSError:
            pass
        self.log.close()
