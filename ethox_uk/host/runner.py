"""`ethox-uk host RECIPE [NETOPTS]`: run a recipe's app on the stack under CPython.

Steps: NIC from --net (dgram or tap; wrapped in a PcapNic with --pcap), Config from the
recipe's cmdline words with --ip/--gw/--mac winning, Stack, `socket.use(stack, clock=now_ms,
idle=wait on the NIC)`,
import the app module from the recipe folder, `main(net)` (it sets up its services and
returns), print the ready line on stdout, then loop: `stack.poll(now_ms)` and wait in select
on the NIC for min(next timer, 50 ms).

asyncio apps: main(net) calls `ethox_uk.stack.aio.start(net, coro)` and returns; the aio
pump (a stack poller) steps asyncio's scheduler without blocking in every poll round, and
the wait above is also capped by the pump's next due task (a Stack timer source). A main()
that returns a coroutine is refused (status 1) with that advice: the image's runtime
ignores main's value, so such an app would serve in host mode only.

Exit status: 0 after SIGINT/SIGTERM (socket file removed); 1 when the app raises (message and
traceback on stderr); n when the app calls sys.exit(n); 2 for unusable options or recipes
(HostError / RecipeError: one line on stderr); 5 with ip=dhcp when no lease came within
dhcp_timeout= seconds (as the image: the stack's DHCP client runs before the app starts).

ETHOX_UK_FAULTS=a,b (test-only negative controls, ethox_uk/stack/faults.py): the stack
misbehaves as those switches say; an unknown name is refused (status 2); the active ones are
named on stderr. The conformance suite sets it (HostTarget(faults=...)); never in normal use.
"""

import importlib
import os
import select
import signal
import sys
import time
import traceback

from ..build import recipe as recipe_mod
from ..netspec import DGRAM_EXAMPLE
from ..stack import faults as stack_faults
from ..stack.counters import Counters
from ..stack.iface import Stack
from ..stack.nic.dgram import DgramNic
from ..capture import open_capture_file
from ..stack.nic.pcap import PcapNic
from ..stack.nic.tap import TapNic

MAX_WAIT_MS = 50  # the loop wakes at least this often (signals, app pollers)
BACKLOG_WAIT_MS = 1  # while the peer's queue is full: retry this soon
MAX_ERROR_REPORTS = 10  # internal errors reported on stderr before going quiet
FAULTS_ENV = "ETHOX_UK_FAULTS"  # test-only fault switches (negative controls)


class HostError(Exception):
    """Options host mode cannot use; str() is one line saying what to do instead."""


def now_ms():
    return int(time.monotonic() * 1000)


def build_nic(net):
    spec = net.spec
    if spec is None:
        raise HostError("host mode needs --net: e.g. ethox-uk host images/echo --net %s "
                        "(the stack binds the first socket; a peer binds the second)"
                        % DGRAM_EXAMPLE)
    if spec.kind in ("bridge", "user"):
        raise HostError("--net %s is for VM images (ethox-uk run); in host mode use "
                        "--net dgram:LOCAL,REMOTE, or --net tap:IFNAME inside a network "
                        "namespace (ip netns exec NS ethox-uk host RECIPE --net tap:tap0)"
                        % spec.kind)
    try:
        if spec.kind == "dgram":
            nic = DgramNic(spec.local, spec.remote)
        else:
            nic = TapNic(spec.ifname)
    except (OSError, ValueError) as e:
        raise HostError("--net %s: %s" % (spec.text, e)) from None
    if net.pcap:
        try:
            nic = PcapNic(nic, open_capture_file(net.pcap))
        except OSError as e:
            nic.close()
            raise HostError("--pcap %s: %s" % (net.pcap, e.strerror or e)) from None
    return nic


def import_app(recipe):
    """Import the recipe's app module from its folder (the same file the image freezes)."""
    paths = [str(recipe.dir)]
    for m in recipe.modules:  # extra modules outside the folder import by their parent
        parent = str(m.parent)
        if parent not in paths:
            paths.append(parent)
    for p in reversed(paths):
        if p in sys.path:
            sys.path.remove(p)
        sys.path.insert(0, p)
    for name in [recipe.app] + [m.stem for m in recipe.modules]:
        sys.modules.pop(name, None)  # a module of the same name from another recipe
    return importlib.import_module(recipe.app)


class Runner:
    def __init__(self, recipe, net, out=None, err=None):
        self.recipe = recipe
        self.net = net
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.stack = None
        self.nic = None
        self.stopping = False
        self._errors_seen = 0

    def log(self, msg):
        print("ethox-uk: " + msg, file=self.err, flush=True)

    def setup(self):
        """NIC, config and stack (HostError on bad options); does not start the app."""
        try:
            config = self.net.config(self.recipe.cmdline)
        except ValueError as e:
            raise HostError(str(e)) from None
        try:
            faults = stack_faults.parse(os.environ.get(FAULTS_ENV))
        except ValueError as e:
            raise HostError("%s: %s" % (FAULTS_ENV, e)) from None
        self.nic = build_nic(self.net)
        self.stack = Stack(self.nic, config, Counters(), faults=faults)
        if faults:
            self.log("TEST-ONLY faults active: %s" % ", ".join(sorted(faults)))
        from ..stack import socket as stack_socket

        stack_socket.use(self.stack, clock=now_ms, idle=self.idle)
        self.stack.now = now_ms()
        return self.stack

    def idle(self, ms):
        """Wait up to ms milliseconds for the NIC (blocking socket calls of the app)."""
        fd = self.nic.fileno() if self.nic is not None else None
        if fd is None:
            time.sleep(ms / 1000)
        else:
            select.select([fd], [], [], ms / 1000)

    def acquire(self):
        """ip=dhcp: run the DHCP client until a lease is bound (True), it gives
        up (False) or a signal stops us (None)."""
        from ..stack import dhcp

        self.dhcp = dhcp.start(self.stack, now_ms(), lambda line: print(line, file=self.err,
                                                                        flush=True))
        return dhcp.wait_bound(self.stack, self.dhcp, now_ms, self.idle,
                               stop=lambda: self.stopping)

    def exit_no_lease(self):
        from ..stack import dhcp

        print(dhcp.failure_message(self.dhcp), file=self.err, flush=True)
        return dhcp.EXIT_NO_LEASE

    def start_app(self):
        app = import_app(self.recipe)
        main = getattr(app, "main", None)
        if not callable(main):
            raise HostError("%s: the app module defines no main(net)" % self.recipe.app_path)
        r = main(self.stack)
        if r is not None and hasattr(r, "send") and hasattr(r, "throw"):
            r.close()  # never started: no "never awaited" warning
            raise TypeError("main(net) returned a coroutine: call "
                            "ethox_uk.stack.aio.start(net, coro) in main() and return")

    def ready(self):
        print(self.stack.ready_line(), file=self.out, flush=True)

    def _report_errors(self):
        n = self.stack.counters.c["internal_error"]
        if n == self._errors_seen:
            return
        self._errors_seen = n
        if n <= MAX_ERROR_REPORTS:
            e = self.stack.last_error
            self.log("internal error #%d (counted, still serving): %r" % (n, e))
            if e is not None and e.__traceback__ is not None:
                traceback.print_exception(type(e), e, e.__traceback__, file=self.err)
            if n == MAX_ERROR_REPORTS:
                self.log("further internal errors are only counted")

    def serve(self):
        stack = self.stack
        nic = self.nic
        fd = nic.fileno()
        pending = getattr(nic, "tx_pending", None)
        while not self.stopping:
            now = now_ms()
            stack.poll(now)
            self._report_errors()
            if self.stopping:
                break
            now = now_ms()
            t = stack.next_timeout(now)
            wait = MAX_WAIT_MS if t < 0 else min(t, MAX_WAIT_MS)
            if pending is not None and pending():
                wait = min(wait, BACKLOG_WAIT_MS)
            if fd is None:
                time.sleep(wait / 1000)
            else:
                select.select([fd], [], [], wait / 1000)

    def stop(self, *_):
        self.stopping = True

    def summary(self):
        c = self.stack.counters
        out = "stopped: rx %d tx %d frames, drops %s" % (
            c["rx_frames"], c["tx_frames"], c.drops() or "none")
        st = getattr(self.nic, "stats", None)
        st = st() if st is not None else {}
        if st.get("offloads"):
            out += "; offloads %s: %d merged frames in, %d segmentation frames out" % (
                st["offloads"], st.get("rx_gso", 0), st.get("tx_tso", 0))
        return out

    def close(self):
        if self.nic is not None:
            self.nic.close()
            self.nic = None


def _install_signals(handler):
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            old[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread: the caller stops us instead
            pass
    return old


def run(recipe_arg, net, out=None, err=None):
    """The whole `host` command; returns the exit status."""
    err = err or sys.stderr
    try:
        recipe = recipe_mod.load(recipe_arg)
    except recipe_mod.RecipeError as e:
        print("ethox-uk: error: %s" % e, file=err, flush=True)
        return 2
    r = Runner(recipe, net, out, err)
    old = _install_signals(r.stop)
    try:
        try:
            r.setup()
        except HostError as e:
            r.log("error: %s" % e)
            return 2
        if r.stack.config.dhcp:
            bound = r.acquire()
            if not bound:
                return 0 if bound is None else r.exit_no_lease()
        try:
            r.start_app()
        except HostError as e:
            r.log("error: %s" % e)
            return 2
        except SystemExit as e:
            return _exit_code(e)
        except BaseException as e:  # the app failed: status 1 (DESIGN §5)
            if isinstance(e, KeyboardInterrupt):
                return 0
            r.log("app %s raised %s: %s" % (recipe.app, type(e).__name__, e))
            traceback.print_exception(type(e), e, e.__traceback__, file=err)
            return 1
        r.ready()
        if net.pcap:
            r.log("recording frames to %s" % net.pcap)
        try:
            r.serve()
        except SystemExit as e:  # sys.exit() in an app's poller
            return _exit_code(e)
        except Exception as e:  # an app poller raised: status 1 (DESIGN §5)
            r.log("app %s raised %s: %s" % (recipe.app, type(e).__name__, e))
            traceback.print_exception(type(e), e, e.__traceback__, file=err)
            return 1
        r.log(r.summary())
        return 0
    finally:
        r.close()
        for sig, h in old.items():
            signal.signal(sig, h)


def _exit_code(e):
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
