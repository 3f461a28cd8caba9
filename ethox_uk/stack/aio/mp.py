# The one place the aio pump (aio/pump.py) touches MicroPython asyncio's private
# internals (extmod/asyncio/core.py of the pinned 1.25 source): its task and
# I/O queues, the current task, the loop body of run_until_complete, the
# exception context. MicroPython's asyncio has no public way to run the
# scheduler for one non-blocking step from outside it, which is what a pump
# inside Stack.poll needs. NEEDED lists every private name used here; the
# unit test test_aio.test_the_private_asyncio_names_the_pump_uses_exist fails
# loudly (under MicroPython) the day an asyncio update renames one.
from asyncio import core as _core
from time import ticks_ms as _ticks, ticks_diff as _tdiff

NEEDED = ("cur_task", "_task_queue", "_io_queue", "_exc_context", "Loop", "CancelledError")


def missing():
    """The names of NEEDED that this interpreter's asyncio.core lacks."""
    return [n for n in NEEDED if not hasattr(_core, n)]


def foreground_running():
    """A foreground asyncio.run() (the REPL's) owns the scheduler now."""
    return _core.cur_task is not None


def clear_current():
    _core.cur_task = None


def due_in_ms():
    """ms until the first task is due (0: now), -1: only I/O can wake one."""
    t = _core._task_queue.peek()
    if not t:
        return -1
    d = _tdiff(t.ph_key, _ticks())
    return d if d > 0 else 0


def step(max_rounds, max_runs):
    """Run what is ready now, without blocking: poll the I/O queue with a zero
    timeout, then run due tasks, for at most max_rounds rounds."""
    try:
        for _ in range(max_rounds):
            ioq = _core._io_queue
            if ioq.map:
                ioq.wait_io_event(0)
            tq = _core._task_queue
            ran = 0
            while ran < max_runs:
                t = tq.peek()
                if not t or _tdiff(t.ph_key, _ticks()) > 0:
                    break
                tq.pop()
                _run(t, tq)
                ran += 1
            if ran == 0:
                break
    finally:
        _core.cur_task = None


def _run(t, tq):
    # asyncio.core.run_until_complete's loop body, for one task
    _core.cur_task = t
    try:
        exc = t.data
        if not exc:
            t.coro.send(None)
        else:
            t.data = None
            t.coro.throw(exc)
    except (_core.CancelledError, Exception) as er:
        if t.state:
            waiting = False
            if t.state is True:
                t.state = None
            elif callable(t.state):
                t.state(t, er)
                t.state = False
                waiting = True
            else:
                while t.state.peek():
                    tq.push(t.state.pop())
                    waiting = True
                t.state = False
            if not waiting and not isinstance(er, (_core.CancelledError, StopIteration)):
                tq.push(t)  # reported later unless something awaits it
            t.data = er
        elif t.state is None:
            t.data = exc
            ctx = _core._exc_context
            ctx["exception"] = exc
            ctx["future"] = t
            _core.Loop.call_exception_handler(ctx)


def wait_io(s, write):
    """What a task yields to wait until socket s is writable / readable."""
    if write:
        return _core._io_queue.queue_write(s)
    return _core._io_queue.queue_read(s)
