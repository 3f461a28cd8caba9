# The image's start-up (MicroPython only; the frozen boot.py calls it):
#
#   import ethox_uk.guest
#   net = ethox_uk.guest.start("app")
#
# 1. Config from the kernel command line (`Config.from_words(_ethox.cmdline())`).
# 2. The virtio-net device: `virtio_mmio.device=` boot words, else the
#    virtio-mmio slot scan, else virtio-pci on bus 0 (q35).
# 3. `Stack(VirtioNet(...), config)` -- the device's MAC wins over mac= --,
#    `socket.use(stack, clock=_ethox.ticks_ms, idle=nic.wait)` (the runtime's
#    millisecond clock never wraps, unlike time.ticks_ms).
#    With ip=dhcp the DHCP client runs here until a lease is bound (the app
#    then starts on a configured stack; the REPL is not up yet), or exits 5.
# 4. Import the recipe's app module and call `main(net)`; it sets up its
#    services and returns.
# 5. Print the ready line (DESIGN §5; ` ip6=` at its end unless ip6=off), then
#    install the poll hook: whenever the interpreter waits (REPL input,
#    select.poll, time.sleep, a blocking socket call) the hook polls the stack
#    and caps the halt at the stack's next timer (50 ms while the app has
#    pollers; no wake-up at all otherwise). The device interrupt ends a halt as
#    soon as a frame arrives. The hook runs once right away (frames that queued
#    up during boot). On q35 an empty line comes first: SeaBIOS leaves its last
#    line open, and the ready-line regex is anchored.
# 6. Return the stack, so boot.py ends and the REPL (and `ethox-uk exec`) sees
#    the live stack as `net`.
#
# reload() (a REPL global) starts the app again from the current sys.path --
# after `mpremote mount .` the host's copy, after a copy to /app.py the
# filesystem's -- on a fresh Stack over the same device.
#
# Exit statuses (through isa-debug-exit; `ethox-uk run` reports them as is):
#   1  the app raised (main() or one of its pollers; traceback on the console)
#   2  bad boot words (ip=/gw=/mac=)
#   3  no virtio-net device found
#   4  the device is unusable: legacy-only (virtio 0.9), required features
#      refused, queues missing, BARs not mapped
#   5  ip=dhcp and no lease within dhcp_timeout= seconds (stack/dhcp.py says
#      what was tried)
#   n  the app called sys.exit(n)
import sys

from ethox_uk.stack.compat import micropython

EXIT_APP_ERROR = 1
EXIT_BAD_WORDS = 2
EXIT_NO_DEVICE = 3
EXIT_DEVICE_UNUSABLE = 4

POLLER_WAIT_MS = 50  # longest halt while the app has pollers (DESIGN: <= ~100 Hz)
MAX_ERROR_REPORTS = 10

NO_DEVICE_HELP = (
    "no virtio-net device found (looked at the virtio_mmio.device= boot words, the "
    "virtio-mmio slots at 0xfeb00000 and PCI bus 0): start QEMU with "
    "-netdev dgram,id=n0,... -device virtio-net-device,netdev=n0 (-M microvm) or "
    "-device virtio-net-pci,netdev=n0,disable-legacy=on (-M q35); "
    "`ethox-uk run IMAGE --net dgram:LOCAL,REMOTE` does this")


def _print_exception(e):
    pe = getattr(sys, "print_exception", None)
    if pe is not None:
        pe(e)
    else:  # CPython (tests)
        import traceback

        traceback.print_exception(type(e), e, e.__traceback__)


def _exit_code(e):
    code = e.args[0] if e.args else None
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code)
    return EXIT_APP_ERROR


def find_nic(bus, cmdline, **kw):
    """VirtioNet on the first virtio-net device; VirtioError (with .status) if none."""
    from virtio import VirtioError, mmio, pci
    from virtio.net import VirtioNet

    t = mmio.find(bus, cmdline)
    if t is None:
        t = pci.find(bus)
    if t is None:
        raise VirtioError(NO_DEVICE_HELP, EXIT_NO_DEVICE)
    _stop_at_soft_reset(bus, t)
    return VirtioNet(t, bus, **kw)


def _stop_at_soft_reset(bus, t):
    """Have the runtime reset the device (status = 0) at a soft reset, before it frees the
    heap that holds the receive buffers (the runtime's _ethox.on_soft_reset)."""
    reg = getattr(bus, "on_soft_reset", None)
    if reg is None:  # a simulated bus
        return
    if t.kind == "pci":
        reg(t.common + 0x14, 0, 8)  # common cfg device_status
    else:
        reg(t.base + 0x70, 0, 32)  # virtio-mmio Status


class Service:
    """The poll hook: serve the stack while the interpreter waits."""

    def __init__(self, stack, nic, bus, log=print):
        self.log = log
        self.stack = stack
        self.nic = nic
        self.bus = bus
        self.clock = bus.ticks_ms
        self.errors_seen = 0

    @micropython.native
    def hook(self):
        stack = self.stack
        nic = self.nic
        try:
            now = self.clock()
            stack.poll(now)
        except SystemExit as e:  # sys.exit() in an app poller
            self.bus.exit(_exit_code(e))
        except Exception as e:  # an app poller raised: status 1 (DESIGN §5)
            self.log("ethox-uk: app raised %s: %s" % (type(e).__name__, e))
            _print_exception(e)
            self.bus.exit(EXIT_APP_ERROR)
        if stack.counters.c["internal_error"] != self.errors_seen:
            self._report()
        if nic.rx_ready():
            return 0
        t = stack.next_timeout(now)
        cap = POLLER_WAIT_MS if stack.has_pollers() else -1
        m = nic.max_wait_ms
        if m >= 0 and (cap < 0 or m < cap):
            cap = m
        if t >= 0 and (cap < 0 or t < cap):
            cap = t
        if not nic.prepare_wait():
            return 0
        return cap

    def _report(self):
        n = self.stack.counters.c["internal_error"]
        self.errors_seen = n
        if n <= MAX_ERROR_REPORTS:
            e = self.stack.last_error
            self.log("ethox-uk: internal error #%d (counted, still serving): %r" % (n, e))
            if n == MAX_ERROR_REPORTS:
                self.log("ethox-uk: further internal errors are only counted")


_started = None  # (app, bus, log, nic) of the last start(), for reload()
_before_app = None  # the modules loaded before the app was first imported


def reload():
    """Start the app again, imported afresh from the current sys.path (the app and
    every module imported since it first was), on a new Stack over the same device: the old app's
    connections, bindings and tasks are dropped. Rebinds the REPL's `net` and
    `config`; returns the new Stack."""
    if _started is None:
        raise RuntimeError("the network was never started (ethox_uk.guest.start)")
    app, bus, log, nic = _started
    bus.poll_hook(None)
    from ethox_uk.stack import aio

    aio.reset()
    for name in list(sys.modules):
        if name not in _before_app:  # the app's, and what it (or the REPL) imported
            del sys.modules[name]
    stack = start(app, bus=bus, log=log, nic=nic)
    try:
        import __main__

        __main__.net = stack
        __main__.config = stack.config
    except ImportError:
        pass
    return stack


def _has(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def _missing_feature(config):
    """The recipe's `features` may leave IPv6 or DHCP out of the image: IPv6 then stays
    off unless a boot word asks for it; a word asking for a part that is not there is a
    bad boot word (the message says what to do), None when all is well."""
    if config.ip6_mode != "off" and not _has("ethox_uk.stack.layer.ip6"):
        if "ip6" in config.words and config.words["ip6"] not in ("", "auto"):
            return ("ip6=%s: this image has no IPv6 (its recipe's features leave out "
                    "\"ipv6\"): add it and rebuild, or boot with ip6=off" % config.words["ip6"])
        config.ip6_mode = "off"
    if config.dhcp and not _has("ethox_uk.stack.dhcp"):
        return ("ip=dhcp: this image has no DHCP client (its recipe's features leave out "
                "\"dhcp\"): add it and rebuild, or give a static ip=A.B.C.D/PFX")
    return None


def start(app="app", bus=None, log=print, nic=None):
    """Bring up the network and the app; returns the Stack (see the header).
    app: the module name (or a module-like object); bus: the hardware accessor
    (default: the runtime's _ethox); log: where console lines go; nic: a device
    already brought up (reload())."""
    global _started, _before_app
    on_runtime = bus is None  # not a test's simulated machine
    if on_runtime:
        import _ethox as bus
    from ethox_uk.stack.config import Config

    words = bus.cmdline()
    try:
        config = Config.from_words(words)
    except ValueError as e:
        log("ethox-uk: bad boot words: %s (fix the recipe's cmdline or --ip/--gw/--mac)" % e)
        bus.exit(EXIT_BAD_WORDS)
    missing = _missing_feature(config)
    if missing is not None:
        log("ethox-uk: bad boot words: %s" % missing)
        bus.exit(EXIT_BAD_WORDS)
    from virtio import VirtioError

    if nic is None:
        try:
            nic = find_nic(bus, words)
        except VirtioError as e:
            log("ethox-uk: virtio-net: %s" % e)
            bus.exit(e.status)
    _started = (app, bus, log, nic)

    from ethox_uk.stack import socket
    from ethox_uk.stack.iface import Stack

    stack = Stack(nic, config)
    socket.use(stack, clock=bus.ticks_ms, idle=nic.wait)
    if on_runtime:
        # The runtime has no socket module of its own: `import socket` in the app or
        # at the REPL gets ours, so MicroPython network code runs unchanged.
        sys.modules["socket"] = socket
    stack.now = bus.ticks_ms()
    if config.dhcp:
        from ethox_uk.stack import dhcp

        client = dhcp.start(stack, stack.now, log)
        if not dhcp.wait_bound(stack, client, bus.ticks_ms, nic.wait):
            log(dhcp.failure_message(client))
            bus.exit(dhcp.EXIT_NO_LEASE)
    if _before_app is None:
        _before_app = set(sys.modules)
    main = None
    try:
        mod = __import__(app) if isinstance(app, str) else app
        main = getattr(mod, "main", None)
        if callable(main):
            main(stack)
    except SystemExit as e:
        bus.exit(_exit_code(e))
    except Exception as e:  # the app failed: status 1 (DESIGN §5)
        log("ethox-uk: app %s raised %s: %s" % (app, type(e).__name__, e))
        _print_exception(e)
        bus.exit(EXIT_APP_ERROR)
    if not callable(main):
        log("ethox-uk: the app module %r defines no main(net)" % (app,))
        bus.exit(EXIT_APP_ERROR)
    if not nic.link_up:
        log("ethox-uk: virtio-net reports the link down")
    if nic.t.kind == "pci":
        log("")  # SeaBIOS (q35) leaves "Booting from ROM.." without a newline: the
        # ready line must start a line of its own (DESIGN §5's regex is anchored)
    log(stack.ready_line())
    svc = Service(stack, nic, bus, log=log)
    stack.service = svc
    bus.poll_hook(svc.hook)
    svc.hook()  # answer what queued up during boot before the REPL starts
    return stack
