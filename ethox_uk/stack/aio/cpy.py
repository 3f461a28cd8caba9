# The one place the aio pump (aio/pump.py) looks into CPython's asyncio event loop
# (BaseEventLoop._ready and ._scheduled, CPython 3.11): whether a step has
# anything to run and when the next timer is due -- there is no public API for
# either. Each use falls back to "step anyway" / "no timer known" when the
# attribute is gone, and NEEDED lets test_aio fail loudly when that happens.
NEEDED = ("_ready", "_scheduled")


def missing(loop):
    """The names of NEEDED that this loop lacks."""
    return [n for n in NEEDED if not hasattr(loop, n)]


def due(loop):
    """Something to run now: a ready callback or a timer that has come."""
    ready = getattr(loop, "_ready", None)
    if ready is None:
        return True  # unknown loop internals: always step
    if ready:
        return True
    sch = getattr(loop, "_scheduled", None)
    return bool(sch) and sch[0].when() <= loop.time()


def due_in_ms(loop):
    """ms until something is due (0: now), -1: only I/O can wake a task."""
    if getattr(loop, "_ready", None):
        return 0
    sch = getattr(loop, "_scheduled", None)
    if sch:
        d = int((sch[0].when() - loop.time()) * 1000) + 1
        return d if d > 0 else 0
    return -1
