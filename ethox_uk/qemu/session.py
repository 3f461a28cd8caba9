"""What `ethox-uk run`, `exec`, `exec --attach` and `repl` do. Each returns the exit status
of DESIGN §5 (the guest's n, 120/124/125/126, 130 when the user interrupts); QemuError and
elfinfo.ImageError carry their status for the CLI to print as one line.

run      QEMU with the console on our terminal (stdio: the guest's output passes through us,
         which watches for the ready line when --timeout is given), a pty, or a listening unix
         socket for `exec --attach` / `repl`-like clients.
exec     boot with the console on a socketpair, wait until boot has finished (the REPL
         prompt; an image's ready line comes before it), run the code in the raw REPL,
         stream its output, then end the guest: sys.exit(n) in the code gives n, an
         exception 1, running to the end 0.
attach   the same raw-REPL exchange over the unix socket of a running `run --serial
         unix:PATH`; the image keeps running (0, or 1 after an exception).
repl     boot with the console on a socketpair and pass the terminal through (raw mode);
         Ctrl-] ends the session.
"""

import contextlib
import os
import re
import select
import signal
import socket
import sys
import termios
import time
import tty

from ..build import elfinfo
from . import rawrepl, status
from .network import bridged, default_net
from .cmdline import QemuError
from .vm import Console, Vm

# DESIGN §5: more fields may follow mac= (e.g. " ip6=fe80::..."): readers match the prefix
READY = re.compile(rb"^ethox-uk: ready ip=\d+(\.\d+){3} mac=[0-9a-f]{2}(:[0-9a-f]{2}){5}( \S+=\S+)*\r?$",
                   re.M)
PROMPT = b"\n>>> "
QUIT_KEY = b"\x1d"  # Ctrl-]
EXIT_WAIT = 10.0  # seconds for QEMU to end after the guest was told to exit
DEFAULT_BOOT_TIMEOUT = 60.0


def _out(data):
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _err(data):
    sys.stderr.buffer.write(data)
    sys.stderr.buffer.flush()


def _note(text):
    print("ethox-uk: " + text, file=sys.stderr, flush=True)


def load_image(path):
    """elfinfo.check, for the session functions (ImageError: status 126)."""
    return elfinfo.check(path)


@contextlib.contextmanager
def ended_cleanly():
    """SIGTERM/SIGHUP end the session as Ctrl-C does: SystemExit(130) unwinds through every
    finally, so QEMU is stopped and socket files, forwarders and temporary folders go
    (Python's default would die on the spot and leave them)."""
    def leave(signum, frame):
        raise SystemExit(status.INTERRUPTED)

    old = {sig: signal.signal(sig, leave) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


# -- run --------------------------------------------------------------------------------

def run(image, net, vm_opts, serial="stdio", timeout=None):
    """`--net bridge` gets its namespace for the guest's life; without --net the guest still
    gets a link (bridge.default_net), named on a terminal (stdin a tty, console stdio)."""
    info = load_image(image)
    interactive = serial == "stdio" and os.isatty(0)
    with ended_cleanly(), default_net(net, interactive) as net, \
            bridged(net, info.get("cmdline", "")) as net:
        return _run(info, net, vm_opts, serial, timeout)


def announce_gdb(info, vm_opts):
    """The gdb command line for a VM started with --gdb (the unstripped image carries the
    symbols: `ethox-uk build` writes it so)."""
    port = getattr(vm_opts, "gdb", None)
    if port is None:
        return
    import shlex

    _note("gdb stub on 127.0.0.1:%d (%s): gdb %s -ex 'target remote 127.0.0.1:%d'"
          % (port, "the guest waits for gdb to continue it" if vm_opts.gdb_wait else
             "the guest runs; attach whenever you like", shlex.quote(str(info.path)), port))


def _run(info, net, vm_opts, serial, timeout):
    if serial == "stdio":
        return _run_stdio(info, net, vm_opts, timeout)
    vm = Vm(info, vm_opts, net, console=serial)
    old = signal.getsignal(signal.SIGINT)
    try:
        vm.start()
        announce_gdb(info, vm_opts)
        if serial == "pty":
            pty = vm.wait_pty()
            if pty:
                _note("serial console on %s (e.g. mpremote connect %s repl)" % (pty, pty))
        else:
            path = serial[len("unix:"):]
            _note("serial console on unix:%s (ethox-uk exec --attach unix:%s CODE)"
                  % (path, path))
        try:
            vm.wait()
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            vm.stop()
            return status.INTERRUPTED
        return vm.status()
    finally:
        vm.close()
        signal.signal(signal.SIGINT, old)


def _run_stdio(info, net, vm_opts, timeout):
    """QEMU reads our stdin itself (the terminal, raw, Ctrl-C ends QEMU as with plain QEMU);
    its stdout comes through a pipe so the ready line can be watched for."""
    import subprocess

    vm = Vm(info, vm_opts, net, console="stdio")
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # QEMU handles the terminal's Ctrl-C
    try:
        vm.start(stdin=None, stdout=subprocess.PIPE, new_session=False)
        announce_gdb(info, vm_opts)
        fd = vm.proc.stdout.fileno()
        dl = None if timeout is None else time.monotonic() + timeout
        seen = bytearray()
        ready = timeout is None
        while True:
            wait = 0.5 if ready else max(0.0, min(0.5, dl - time.monotonic()))
            r, _, _ = select.select([fd], [], [], wait)
            if r:
                data = os.read(fd, 65536)
                if not data:
                    break
                _out(data)
                if not ready:
                    seen += data
                    if READY.search(seen):
                        ready = True
                    else:
                        del seen[:-256]
            elif not ready and time.monotonic() >= dl:
                _note("no ready line within %g s: stopping the guest (status 124)" % timeout)
                vm.stop()
                return status.TIMEOUT
        vm.wait()
        return vm.status()
    finally:
        vm.close()
        signal.signal(signal.SIGINT, old)


# -- exec -------------------------------------------------------------------------------

def _wait_boot(con, vm, timeout):
    """Read the console until the REPL prompt; returns what boot printed (or a status)."""
    dl = time.monotonic() + timeout
    seen = bytearray()
    while True:
        left = dl - time.monotonic()
        if left <= 0:
            tail = bytes(seen[-200:]).decode(errors="replace").strip().splitlines()
            _note("the image did not reach its REPL within %g s%s: stopping it (status 124)"
                  % (timeout, "; last console line: %r" % tail[-1] if tail else
                     " (no console output)"))
            vm.stop()
            return None, status.TIMEOUT
        data = con.read(min(left, 0.5))
        if data:
            seen += data
            if seen.endswith(PROMPT) or seen == PROMPT[1:]:
                return bytes(seen), None
        elif con.eof:
            vm.wait(EXIT_WAIT)
            vm.stop()
            st = vm.status()
            _err(bytes(seen))
            _note("the image ended before its REPL started (status %d)" % st)
            return None, st


def exec_code(image, code, net, vm_opts, timeout=DEFAULT_BOOT_TIMEOUT):
    info = load_image(image)
    with ended_cleanly(), default_net(net, False) as net, \
            bridged(net, info.get("cmdline", "")) as net:
        return _exec_code(info, code, net, vm_opts, timeout)


def _exec_code(info, code, net, vm_opts, timeout):
    vm = Vm(info, vm_opts, net, console="socket")
    try:
        vm.start()
        con = Console(vm.console)
        boot, st = _wait_boot(con, vm, timeout)
        if st is not None:
            return st
        repl = rawrepl.RawRepl(con)
        try:
            repl.enter(timeout=10.0, interrupt=False)
            text = repl.exec(code, _out, _err)
            n = 1 if text else 0
            # The guest ends itself for sys.exit(n) (the runtime maps SystemExit); for any
            # other end tell it which status to leave with.
            try:
                repl.send(b"import _ethox\n_ethox.exit(%d)\n" % n, timeout=5.0)
            except rawrepl.RawReplError:
                pass
        except rawrepl.Timeout as e:
            _note("the guest stopped answering (%s): stopping it" % e)
            vm.stop()
            return status.CRASHED
        except rawrepl.Eof:
            pass
        except rawrepl.RawReplError as e:
            _note(str(e))
            vm.stop()
            return 1
        if vm.wait(EXIT_WAIT) is None:
            _note("the guest did not exit within %g s: stopping it" % EXIT_WAIT)
            vm.stop()
            return status.CRASHED
        return vm.status()
    except KeyboardInterrupt:
        return status.INTERRUPTED
    finally:
        vm.close()


def parse_attach(spec):
    kind, sep, path = spec.partition(":")
    if kind != "unix" or not sep or not path:
        raise ValueError("%r: expected unix:PATH, the --serial of `ethox-uk run`" % spec)
    return path


def _connect(path, timeout, hint=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise QemuError("cannot connect to %s: %s: %s" % (
            path, e.strerror or e, hint or "is an image running with `ethox-uk run IMAGE "
            "--serial unix:%s`?" % path)) from None
    s.settimeout(None)
    return s


def exec_attach(spec, code, timeout=10.0, hint=None):
    path = parse_attach(spec)
    s = _connect(path, timeout, hint)
    con = Console(s)
    repl = rawrepl.RawRepl(con)
    try:
        repl.enter(timeout=timeout, interrupt=True)
        text = repl.exec(code, _out, _err)
        try:
            repl.leave()
        except rawrepl.Eof:
            pass
        return 1 if text else 0
    except rawrepl.Timeout:
        _note("no raw REPL answer on %s within %g s: is the image at its REPL?" % (path, timeout))
        return status.TIMEOUT
    except rawrepl.Eof:
        _note("the image closed the console (it exited or another client took it)")
        return status.CRASHED
    finally:
        s.close()


# -- repl -------------------------------------------------------------------------------

@contextlib.contextmanager
def _raw_stdin():
    """(stdin's fd, whether it is a terminal). A terminal is in raw mode inside (each key
    goes to the guest as typed, Ctrl-C too) and gets its mode back, then a new line, on the
    way out."""
    stdin = sys.stdin.fileno()
    saved = termios.tcgetattr(stdin) if os.isatty(stdin) else None
    try:
        if saved is not None:
            tty.setraw(stdin)
        yield stdin, saved is not None
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
            sys.stderr.write("\n")


def repl_attach(path, what, hint=None, quiet_s=1.0):
    """The terminal on the console socket of a running image (a background VM's): Ctrl-]
    leaves it running (0). Returns None when the console closed (the VM exited: the caller
    knows its status). With stdin not a terminal, its end leaves once the console has been
    quiet for quiet_s seconds."""
    s = _connect(path, 10.0, hint)
    con = Console(s)
    try:
        _note("console of %s; Ctrl-] leaves it running" % what)
        with _raw_stdin() as (stdin, is_tty):
            return _attached(s, con, stdin, is_tty, quiet_s)
    except KeyboardInterrupt:
        return status.INTERRUPTED
    finally:
        s.close()


def _attached(s, con, stdin, is_tty, quiet_s):
    """repl_attach's loop: the console to stdout, stdin to the console."""
    con.write(b"\r")  # a fresh prompt to start from
    watch = [s, stdin]
    stdin_done = None
    while True:
        r, _, _ = select.select(watch, [], [], 0.2)
        if s in r:
            data = con.read(0)
            if data:
                _out(data)
                if stdin_done is not None:
                    stdin_done = time.monotonic()
            elif con.eof:
                return None
        if stdin in r:
            data = os.read(stdin, 1024)
            if not data:
                watch = [s]
                stdin_done = time.monotonic()
                continue
            if QUIT_KEY in data:
                con.write(data[:data.index(QUIT_KEY)])
                return 0
            if not is_tty:  # piped lines: Enter is \r on a serial console
                data = data.replace(b"\n", b"\r")
            if not con.write(data):
                return None
        if stdin_done is not None and time.monotonic() - stdin_done > quiet_s:
            return 0


def repl(image, net, vm_opts):
    info = load_image(image)
    with ended_cleanly(), default_net(net, os.isatty(0)) as net, \
            bridged(net, info.get("cmdline", "")) as net:
        return _repl(info, net, vm_opts)


def _repl(info, net, vm_opts):
    vm = Vm(info, vm_opts, net, console="socket")
    try:
        vm.start()
        con = Console(vm.console)
        _note("console of %s; Ctrl-] quits" % info.path)
        with _raw_stdin() as (stdin, _):
            watch = [vm.console, stdin]
            quit_asked = False
            while True:
                r, _, _ = select.select(watch, [], [], 0.5)
                if vm.console in r:
                    data = con.read(0)
                    if data:
                        _out(data)
                    elif con.eof:
                        break
                if stdin in r:
                    data = os.read(stdin, 1024)
                    if not data:  # stdin ended (not a terminal): wait for the guest to end
                        watch = [vm.console]
                        continue
                    if QUIT_KEY in data:
                        con.write(data[:data.index(QUIT_KEY)])
                        quit_asked = True
                        break
                    if not con.write(data):
                        break
                if not vm.running() and not con.read(0):
                    break
            if quit_asked:
                vm.stop()
                return 0
            vm.wait(EXIT_WAIT)
            vm.stop()
            return vm.status()
    except KeyboardInterrupt:
        return status.INTERRUPTED
    finally:
        vm.close()
