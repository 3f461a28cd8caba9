# Host NIC over unix datagram sockets: one Ethernet frame per datagram, exactly
# QEMU's `-netdev dgram,local.type=unix,local.path=L,remote.type=unix,remote.path=R`
# framing (DESIGN §5, SPEC `dgram:LOCAL,REMOTE`).
#
# HOST-ONLY: never frozen into an image. Runs under CPython (host mode, tests)
# and under the MicroPython unix port (the bench). Under CPython frames land
# in a preallocated buffer with recv_into; MicroPython's unix `socket` has no
# recv_into (and `readinto` concatenates datagrams), so there each frame costs
# one recv() allocation in this NIC -- not in the stack.
#
#   nic = DgramNic(local, remote)   binds LOCAL (a stale socket file there is
#                                   removed first), sends to REMOTE
#   nic.fileno()                    for select/poll
#   nic.close()                     closes and removes LOCAL
#
# Nothing here raises on traffic: a peer that is not there yet (ENOENT,
# ECONNREFUSED) or an oversize datagram is a counted drop (`stats()`). When the
# peer's queue is full (EAGAIN: Linux keeps only net.unix.max_dgram_qlen = 10
# datagrams per socket) frames wait in a backlog ring, in order, and flush()
# (Stack.poll calls it every round) retries them -- QEMU queues rather than
# drops too; `tx_pending()` tells the host loop to come back soon. Only a full
# backlog drops (tx_peer_full).
import os
import socket

from ..compat import MICROPYTHON, const
from .base import BUF_SIZE, CopyingNic, MAX_FRAME

_ENOENT = const(2)
_EAGAIN = const(11)
_ENOBUFS = const(105)
_ECONNREFUSED = const(111)
_S_IFMT = const(0o170000)
_S_IFSOCK = const(0o140000)
MAX_PATH = const(99)  # sun_path is 108 bytes; DESIGN §5 asks for < 100


def _errno(e):
    return e.args[0] if e.args else 0


def check_path(path):
    """ValueError unless `path` fits a unix socket address (< 100 bytes)."""
    n = len(path.encode())
    if n == 0:
        raise ValueError("empty unix socket path")
    if n > MAX_PATH:
        raise ValueError("unix socket path %r is %d bytes; it must be under 100 "
                         "(use a short directory such as /tmp)" % (path, n))


def remove_stale(path):
    """Remove a socket file at `path` left by a process that is gone; ValueError for
    anything else: a file that is not a socket, or a socket someone is still bound to."""
    try:
        mode = os.stat(path)[0]
    except OSError:
        return
    if mode & _S_IFMT != _S_IFSOCK:
        raise ValueError("%s exists and is not a socket: refusing to remove it" % path)
    if _in_use(path):
        raise ValueError("%s is a live socket (a running process is bound to it: another "
                         "ethox-uk, QEMU or peer?): stop it or pick another path" % path)
    os.remove(path)


def _in_use(path):
    """Whether a process is bound at the socket file `path`. Only ECONNREFUSED means
    nobody is: a live datagram socket accepts the connect, a live stream or seqpacket one
    answers EPROTOTYPE, another user's EACCES -- all left alone. Nothing is sent."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        probe.connect(_sockaddr(path))
    except OSError as e:
        return _errno(e) != _ECONNREFUSED
    finally:
        probe.close()
    return True


def _sockaddr(path):
    if MICROPYTHON:  # the unix port takes a raw struct sockaddr_un (AF_UNIX = 1)
        return b"\x01\x00" + path.encode() + b"\x00"
    return path


class DgramNic(CopyingNic):
    def __init__(self, local, remote, tx_slots=8, backlog=128):
        check_path(local)
        check_path(remote)
        self.local = local
        self.remote = remote
        self._remote_addr = _sockaddr(remote)
        remove_stale(local)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            s.bind(_sockaddr(local))
            s.setblocking(False)
        except Exception:
            s.close()
            raise
        self.sock = s
        self._rx_buf = bytearray(BUF_SIZE)
        self._rx = memoryview(self._rx_buf)
        CopyingNic.__init__(self, tx_slots)
        self.tx_frames = 0
        # Frames the peer's full queue refused (EAGAIN), kept in order and retried
        # by flush() -- as QEMU queues rather than drops; a ring of copies.
        self._bl_bufs = [bytearray(BUF_SIZE) for _ in range(backlog)]
        self._bl_len = [0] * backlog
        self._bl_head = 0
        self._bl_count = 0
        self.tx_no_peer = 0  # ENOENT / ECONNREFUSED: nobody bound at REMOTE (yet)
        self.tx_peer_full = 0  # the peer's queue stayed full and the backlog too: dropped
        self.tx_deferred = 0  # frames that waited in the backlog
        self.tx_error = 0  # anything else (errno in last_tx_errno)
        self.last_tx_errno = 0
        if MICROPYTHON:
            self._read = self._read_mp
        else:
            self._read = self._read_cpy

    def _read_cpy(self):
        try:
            # MSG_TRUNC makes Linux return the datagram's real length
            return self.sock.recv_into(self._rx, BUF_SIZE, socket.MSG_TRUNC)
        except BlockingIOError:
            return -1

    def _read_mp(self):
        try:
            data = self.sock.recv(BUF_SIZE + 1)
        except OSError as e:
            if _errno(e) == _EAGAIN:
                return -1
            raise
        n = len(data)
        if n <= MAX_FRAME:
            self._rx[:n] = data
        return n

    # -- Nic interface (receive() is CopyingNic's, over _read) ----------------
    def _sendto(self, data):
        """0 sent, 1 try again later (peer queue full), -1 dropped (counted)."""
        try:
            self.sock.sendto(data, self._remote_addr)
        except OSError as e:
            err = _errno(e)
            if err == _EAGAIN or err == _ENOBUFS:
                return 1
            if err == _ENOENT or err == _ECONNREFUSED:
                self.tx_no_peer += 1
            else:
                self.tx_error += 1
                self.last_tx_errno = err
            return -1
        self.tx_frames += 1
        return 0

    def _transmit(self, view, length):
        if self._bl_count == 0 and self._sendto(view[:length]) != 1:
            return
        n = len(self._bl_bufs)
        if self._bl_count == n:
            self.tx_peer_full += 1
            return
        i = (self._bl_head + self._bl_count) % n
        self._bl_bufs[i][:length] = view[:length]
        self._bl_len[i] = length
        self._bl_count += 1
        self.tx_deferred += 1
        self.flush()

    def flush(self):
        """Retry frames the peer's full queue refused, oldest first."""
        bufs = self._bl_bufs
        n = len(bufs)
        while self._bl_count:
            h = self._bl_head
            if self._sendto(memoryview(bufs[h])[:self._bl_len[h]]) == 1:
                return
            self._bl_head = (h + 1) % n
            self._bl_count -= 1

    def tx_pending(self):
        """Frames waiting for room in the peer's queue (the caller should retry soon)."""
        return self._bl_count

    def fileno(self):
        return self.sock.fileno()

    def stats(self):
        return {"rx_frames": self.rx_frames, "tx_frames": self.tx_frames,
                "rx_oversize": self.rx_oversize, "tx_no_peer": self.tx_no_peer,
                "tx_peer_full": self.tx_peer_full, "tx_deferred": self.tx_deferred,
                "tx_error": self.tx_error}

    def close(self):
        s = self.sock
        if s is None:
            return
        self.sock = None
        s.close()
        try:
            os.remove(self.local)
        except OSError:
            pass
