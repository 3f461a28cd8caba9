# The pump: steps the asyncio scheduler from Stack.poll without blocking (see
# aio/__init__.py), so tasks run beside the stack's own work on one thread.
import sys

from ..compat import MICROPYTHON, const, ticks_ms
from .. import socket as _socket

import asyncio

# asyncio's private internals are used in one adapter per interpreter only
if MICROPYTHON:
    from . import mp as _mp
else:
    from . import cpy as _cpy

MAX_ROUNDS = const(16)  # scheduler rounds per pump (each runs every ready task once)
MAX_RUNS = const(64)  # MicroPython: task steps per round
_POLL_WAKE = _socket.POLLERR | _socket.POLLHUP | _socket.POLLNVAL

_pump = None


def report(e):
    """Print e with its traceback (a connection handler's error: the server goes on)."""
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
        stacks = self.stacks
        n = len(stacks)  # (a task may attach another stack meanwhile)
        for i in range(n):
            stacks[i].batching += 1  # pushes wait for the flush below
        try:
            if MICROPYTHON:
                self._step_mp()
            else:
                self._step_cpy()
        finally:
            self.running = False
            for i in range(n):
                stacks[i].batching -= 1
            for s in stacks:
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
    clock = net.clock if net.clock is not None else ticks_ms
    idle = net.idle
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


# -- waiting on a socket (or a resolver query): `await wait(s, write)` --------------
if MICROPYTHON:
    def wait(s, write):
        # a generator: `await` in MicroPython is `yield from`
        yield _mp.wait_io(s, write)
else:
    async def wait(s, write):
        p = pump()
        fut = p.loop.create_future()
        w = [s, _socket.POLLOUT if write else _socket.POLLIN, fut]
        p.waiters.append(w)
        try:
            await fut
        finally:
            if w in p.waiters:
                p.waiters.remove(w)


