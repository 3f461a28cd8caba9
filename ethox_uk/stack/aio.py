# asyncio streams over ethox_uk.stack.socket, the same code under MicroPython's
# asyncio and CPython's:
#
#   from ethox_uk.stack import aio
#   async def handle(reader, writer):
#       line = await reader.readline()
#       writer.write(line)
#       await writer.drain()
#       writer.close()
#       await writer.wait_closed()
#   async def serve():
#       await aio.start_server(handle, "0.0.0.0", 7)
#   def main(net):                # the app contract (docs/ARCHITECTURE.md)
#       aio.start(net, serve())   # schedule it; main returns at once
#
# API: start_server(cb, host, port, backlog=5, net=None) -> Server (close, wait_closed,
# async with); open_connection(host, port, net=None) -> (reader, writer)
# (net: which stack, default the one socket.use() set); Stream (=
# StreamReader = StreamWriter, one object for both as in MicroPython) with
# read(n=-1), readinto(buf), readline(), readexactly(n) (EOFError when the
# stream ends first), at_eof(), write(data), drain(), close(), wait_closed(),
# get_extra_info("peername" | "sockname" | "socket"). start(net, coro) runs a
# coroutine as an app task; run(coro) runs one to completion, driving the
# stack (scripts, the REPL, tests); reset() starts over with no tasks (tests).
#
# HOW TASKS RUN (the "pump"): start() adds one poller to the stack
# (net.add_poller). Every Stack.poll round -- the host runner's loop, the
# image's poll hook (so the REPL stays alive), a blocking socket call, run() --
# the pump steps the asyncio scheduler WITHOUT BLOCKING: it wakes the tasks
# whose sockets became ready and runs everything that is ready now, for at
# most MAX_ROUNDS rounds, then flushes the NIC. Waiting is the runner's job:
# it waits on the NIC for min(stack timers incl. this pump's due tasks, 50 ms).
#   MicroPython: tasks wait in asyncio's own IOQueue (select.poll over our
#     sockets, which answer ioctl(MP_STREAM_POLL)); the pump runs the
#     scheduler's loop body itself with a zero poll timeout. If the REPL runs
#     a foreground asyncio.run(), that loop owns the tasks and the pump steps
#     aside (its select.poll waits run the poll hook, which polls the stack;
#     resume() after such a run was interrupted).
#   CPython: asyncio's streams are transport-based, so these Streams wait on
#     futures that the pump resolves when a socket's ioctl says ready; one
#     scheduler step is loop.call_soon(loop.stop); loop.run_forever() on a
#     private event loop.
# Stream sockets have TCP_NODELAY set (as CPython's asyncio does): the writes
# of one pump step already coalesce into full segments (socket.py: a push
# while the pump runs only asks for a send opportunity in the next round), so
# Nagle would only hold back each response's last partial segment.
# Exceptions: one escaping a start() task propagates out of Stack.poll (the
# runner ends with status 1, sys.exit(n) with n); one escaping a connection
# handler of start_server is printed and that connection closed -- the
# server goes on.
import sys

from .compat import MICROPYTHON, const
from . import socket as _socket

import asyncio

# asyncio's private internals are used in one adapter per interpreter only
if MICROPYTHON:
    from . import aio_mp as _mp
else:
    from . import aio_cpy as _cpy

MAX_ROUNDS = const(16)  # scheduler rounds per pump (each runs every ready task once)
MAX_RUNS = const(64)  # MicroPython: task steps per round
_COALESCE = const(32)  # readline joins this many pieces of a line into one
_POLL_WAKE = _socket.POLLERR | _socket.POLLHUP | _socket.POLLNVAL

_pump = None


def _report(e):
    pe = getattr(sys, "print_exception", None)
    if pe is not None:
        pe(e)
    else:
        import traceback

        traceback.print_exception(type(e), e, e.__traceback__)


class Pump:
    """Steps the asyncio scheduler from Stack.poll (see the top of this file)."""

    def __init__(self):
        self.stacks = []
        self.mains = []  # [task, box] of start(): box = [done, value, exception]
        self.running = False
        self.errors = 0  # connection handlers that raised
        self.waiters = []  # CPython: [sock, events, future]
        self.loop = None
        if not MICROPYTHON:
            self.loop = self._new_loop()

    def _new_loop(self):
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(self._loop_error)
        return loop

    def _loop_error(self, loop, ctx):
        # tasks still waiting when the process ends are not an error: the app
        # serves until it is stopped
        if str(ctx.get("message", "")).startswith("Task was destroyed but it is pending"):
            return
        loop.default_exception_handler(ctx)

    def attach(self, net):
        for s in self.stacks:
            if s is net:
                return
        self.stacks.append(net)
        net.add_poller(self.poll)
        net.add_timer_source(self)  # its due tasks bound how long the loop may sleep
        net.aio = self

    def spawn(self, coro):
        if MICROPYTHON:
            return asyncio.create_task(coro)
        return self.loop.create_task(coro)

    # -- the poller --------------------------------------------------------------
    def poll(self, now):
        if self.running:
            return  # a blocking socket call inside a task polled the stack
        if MICROPYTHON and _mp.foreground_running():
            return  # a foreground asyncio.run() drives the tasks itself
        self.running = True
        _socket._batching += 1
        try:
            if MICROPYTHON:
                self._step_mp()
            else:
                self._step_cpy()
        finally:
            self.running = False
            _socket._batching -= 1
            for s in self.stacks:
                s.nic.flush()
        self._check_mains()

    def _check_mains(self):
        ms = self.mains
        if not ms:
            return
        for m in ms:
            box = m[1]
            if box[0]:
                ms.remove(m)
                e = box[2]
                if e is not None and not isinstance(e, asyncio.CancelledError):
                    raise e
                return

    def next_timeout(self, now=0):
        """ms until a task is due (0: ready now), -1: only I/O can wake one."""
        if MICROPYTHON:
            return _mp.due_in_ms()
        return _cpy.due_in_ms(self.loop)

    # -- MicroPython --------------------------------------------------------------
    def _step_mp(self):
        _mp.step(MAX_ROUNDS, MAX_RUNS)

    # -- CPython ------------------------------------------------------------------
    def _step_cpy(self):
        loop = self.loop
        for _ in range(MAX_ROUNDS):
            woke = self._wake()
            if not woke and not self._due(loop):
                break
            loop.call_soon(loop.stop)
            loop.run_forever()

    def _due(self, loop):
        return _cpy.due(loop)

    def _wake(self):
        ws = self.waiters
        woke = False
        i = 0
        while i < len(ws):
            s, ev, fut = ws[i]
            if fut.done():
                ws.pop(i)
                continue
            if s.ioctl(_socket.MP_STREAM_POLL, ev) & (ev | _POLL_WAKE):
                fut.set_result(None)
                ws.pop(i)
                woke = True
                continue
            i += 1
        return woke


def pump():
    global _pump
    if _pump is None:
        _pump = Pump()
    return _pump


def resume():
    """MicroPython: a foreground asyncio.run() that Ctrl-C interrupted leaves
    asyncio's current task set, and the pump steps aside while it is; this
    clears it so the pump drives the app's tasks again."""
    if MICROPYTHON:
        _mp.clear_current()


def reset():
    """Forget every task (a fresh scheduler); tests call it between cases."""
    p = pump()
    p.mains = []
    p.waiters = []
    p.stacks = []
    p.errors = 0
    if MICROPYTHON:
        asyncio.new_event_loop()
        _mp.clear_current()
    else:
        p.loop.close()
        p.loop = p._new_loop()


async def _guard(coro, box):
    try:
        box[1] = await coro
    except BaseException as e:  # noqa: B902 -- kept for the pump / run() to raise
        box[2] = e
    box[0] = True


def start(net, coro=None):
    """Make Stack.poll drive asyncio tasks; schedule coro as an app task (its
    exception ends the app). Returns the task (or None)."""
    p = pump()
    p.attach(net)
    if coro is None:
        return None
    box = [False, None, None]
    t = p.spawn(_guard(coro, box))
    p.mains.append([t, box])
    return t


def run(coro, net=None, timeout_ms=-1):
    """Run coro to completion, polling the stack meanwhile (blocking, like
    asyncio.run, but the stack's other tasks and services keep going);
    returns its value or raises its exception; OSError(ETIMEDOUT) after
    timeout_ms."""
    if net is None:
        net = _socket.current_stack()
    p = pump()
    p.attach(net)
    box = [False, None, None]
    p.spawn(_guard(coro, box))
    clock = _socket._clock if _socket._clock is not None else _socket._default_clock
    idle = _socket._idle
    start_t = clock()
    while not box[0]:
        now = clock()
        if timeout_ms >= 0 and now - start_t >= timeout_ms:
            raise OSError(_socket.ETIMEDOUT)
        net.poll(now)
        if box[0]:
            break
        if idle is not None:
            w = net.next_timeout(now)
            a = p.next_timeout(now)
            if a >= 0 and (w < 0 or a < w):
                w = a
            if w < 0 or w > 10:
                w = 10
            idle(w)
    if box[2] is not None:
        raise box[2]
    return box[1]


# -- waiting on a socket ------------------------------------------------------------
if MICROPYTHON:
    def _wait(s, write):
        # a generator: `await` in MicroPython is `yield from`
        yield _mp.wait_io(s, write)
else:
    async def _wait(s, write):
        p = pump()
        fut = p.loop.create_future()
        w = [s, _socket.POLLOUT if write else _socket.POLLIN, fut]
        p.waiters.append(w)
        try:
            await fut
        finally:
            if w in p.waiters:
                p.waiters.remove(w)


# -- streams ------------------------------------------------------------------------
class Stream:
    """Reader and writer of one TCP socket (non-blocking underneath)."""

    limit = 65536  # readline() longer than this: ValueError

    def __init__(self, sock, extra=None):
        self.s = sock
        self.e = extra if extra is not None else {}
        self.out = []  # bytes write() could not hand to the socket yet
        self.out_off = 0  # how much of out[0] the socket took already
        self.closing = False
        self.err = None
        self._closer = None

    def get_extra_info(self, name, default=None):
        try:
            if name == "peername":
                return self.s.getpeername()
            if name == "sockname":
                return self.s.getsockname()
        except OSError:
            return self.e.get(name, default)
        if name == "socket":
            return self.s
        return self.e.get(name, default)

    # -- reading -------------------------------------------------------------------
    async def read(self, n=-1):
        """Up to n bytes as soon as there are some (b'' at the end); n < 0:
        everything up to the end of the stream."""
        s = self.s
        if n == 0:
            return b""
        if n < 0:
            out = []
            while True:
                d = s.read(-1)
                if d is None:
                    await _wait(s, False)
                elif not d:
                    return b"".join(out)
                else:
                    out.append(d)
        while True:
            d = s.read(n)
            if d is not None:
                return d
            await _wait(s, False)

    async def readinto(self, buf):
        s = self.s
        while True:
            k = s.readinto(buf)
            if k is not None:
                return k
            await _wait(s, False)

    async def readexactly(self, n):
        s = self.s
        out = []
        left = n
        while left > 0:
            d = s.read(left)
            if d is None:
                await _wait(s, False)
                continue
            if not d:
                raise EOFError("the stream ended %d bytes short of %d" % (left, n))
            out.append(d)
            left -= len(d)
        return b"".join(out)

    async def readline(self):
        s = self.s
        out = []  # pieces of the line so far
        small = 0  # how many of them at the end came as they arrived
        size = 0
        while True:
            d = s.readline()
            if d is None:
                await _wait(s, False)
                continue
            if not d:
                return b"".join(out)
            out.append(d)
            size += len(d)
            if d[-1] == 10:
                return b"".join(out) if len(out) > 1 else d
            if size > self.limit:
                raise ValueError("line longer than %d bytes" % self.limit)
            small += 1
            if small == _COALESCE:
                # a line dribbled a byte per segment would keep one object per
                # byte: join each run of pieces (every byte is copied once more)
                tail = b"".join(out[-_COALESCE:])
                del out[-_COALESCE:]
                out.append(tail)
                small = 0

    def at_eof(self):
        c = self.s._c
        return c is None or ((c.eof or c.gone or c.err) and (c.rb is None or not c.rb.count))

    # -- writing -------------------------------------------------------------------
    def write(self, data):
        """Queue data (never blocks); drain() waits until the socket took it."""
        if not len(data):
            return
        if not self.out and self.err is None:
            try:
                k = self.s.write(data)
            except OSError as e:
                self.err = e  # drain() raises it
                return
            if k is None:
                k = 0
            if k == len(data):
                return
            data = memoryview(data)[k:]
        self.out.append(bytes(data))

    async def drain(self):
        s = self.s
        out = self.out
        while out:
            if self.err is not None:
                break
            d = out[0]
            off = self.out_off
            # the rest of a partly taken buffer as a view: slicing the bytes
            # would copy the remainder on every partial write (quadratic)
            k = s.write(memoryview(d)[off:] if off else d)
            if k:
                off += k
                if off >= len(d):
                    out.pop(0)
                    off = 0
                self.out_off = off
            else:
                await _wait(s, True)
        if self.err is not None:
            e = self.err
            raise e
        await asyncio.sleep(0)  # always yield: a write/drain loop cannot starve others

    awrite = None  # set below (MicroPython's legacy name)

    # -- closing -------------------------------------------------------------------
    def close(self):
        """Close after the queued data has gone to the socket (FIN follows it)."""
        if self.closing:
            return
        self.closing = True
        if self.out and self.err is None:
            self._closer = pump().spawn(self._drain_close())
        else:
            self.s.close()

    async def _drain_close(self):
        try:
            await self.drain()
        except OSError:
            pass
        self.s.close()

    async def wait_closed(self):
        self.close()
        if self._closer is not None:
            t = self._closer
            self._closer = None
            await t

    aclose = wait_closed

    def is_closing(self):
        return self.closing


async def _awrite(self, buf, off=0, sz=-1):
    if off or sz >= 0:
        buf = memoryview(buf)[off:(off + sz) if sz >= 0 else len(buf)]
    self.write(buf)
    await self.drain()


Stream.awrite = _awrite
StreamReader = Stream
StreamWriter = Stream


async def _client(cb, st):
    try:
        await cb(st, st)
    except Exception as e:  # the handler's bug: report it, end this connection only
        pump().errors += 1
        print("ethox-uk: connection handler raised %s: %s" % (type(e).__name__, e))
        _report(e)
        st.closing = True
        st.s.close()


class Server:
    def __init__(self, sock, cb):
        self.s = sock
        self.cb = cb
        self.task = None
        self.closed = False

    async def _serve(self):
        s = self.s
        cb = self.cb
        while not self.closed:
            try:
                s2, addr = s.accept()
            except OSError as e:
                if self.closed or e.args[0] != _socket.errno.EAGAIN:
                    return
                await _wait(s, False)
                continue
            s2.setblocking(False)
            pump().spawn(_client(cb, Stream(s2, {"peername": addr})))

    def close(self):
        if not self.closed:
            self.closed = True
            self.s.close()  # wakes _serve (POLLNVAL), which returns

    async def wait_closed(self):
        t = self.task
        if t is not None:
            self.task = None
            await t

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()
        await self.wait_closed()


def _sock(net, af=_socket.AF_INET):
    if net is None:
        return _socket.socket(af, _socket.SOCK_STREAM)
    return _socket.TcpSocket(net, af)


async def start_server(cb, host, port, backlog=5, ssl=None, net=None):
    """Listen on host:port ('' / '0.0.0.0' / '::' / our address); cb(reader, writer)
    runs as a task per connection, from either family (the TCP layer's listeners
    are dual stack). net: the stack (default: socket.use()'s)."""
    if ssl:
        raise OSError(_socket.errno.EOPNOTSUPP)
    s = _sock(net, _socket.AF_INET6 if host and ":" in host else _socket.AF_INET)
    try:
        s.setblocking(False)
        s.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        s.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)  # inherited by accept()
        s.bind(("" if host is None else host, port))
        s.listen(backlog)
    except OSError:
        s.close()
        raise
    srv = Server(s, cb)
    srv.task = pump().spawn(srv._serve())
    return srv


async def _resolve(host, port, net):
    """getaddrinfo's first IPv4 address for host, a name resolved without
    blocking the scheduler (the task waits on the resolver's Query)."""
    port = _socket._gai_port(port)
    ai = _socket._numeric(host, port, 0, _socket.SOCK_STREAM, 0)
    name = host.lower().rstrip(".")
    if ai is None and (name == "localhost" or name.endswith(".localhost")):
        ai = _socket.getaddrinfo(host, port)
    if ai is not None:
        return ai[0][-1]
    resolver = _socket._resolver()
    from .config import format_ip
    from .wire.dns import TYPE_A

    stack = net if net is not None else _socket.current_stack()
    q = resolver.of(stack).lookup(host, TYPE_A, stack.now)
    while not q.done:
        await _wait(q, False)
    if q.error:
        q.raise_error()
    return (format_ip(q.addrs[0]), port)


async def open_connection(host, port, ssl=None, net=None):
    """(reader, writer) connected to host:port (an IPv4 or IPv6 address, or a name
    the stack's resolver looks up first)."""
    if ssl:
        raise OSError(_socket.errno.EOPNOTSUPP)
    ai = await _resolve(host, port, net)
    s = _sock(net, _socket.AF_INET6 if ":" in ai[0] else _socket.AF_INET)
    s.setblocking(False)
    s.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    try:
        s.connect(ai)
    except OSError as e:
        if e.args[0] != _socket.EINPROGRESS:
            s.close()
            raise
    try:
        while not s.writable():
            await _wait(s, True)
        c = s._c
        if c.err:
            raise OSError(c.err)
        if c.gone:
            raise OSError(_socket.ECONNRESET)
    except BaseException:
        s.close()
        raise
    st = Stream(s)
    return st, st
