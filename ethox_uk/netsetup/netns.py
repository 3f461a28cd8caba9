"""Private Linux network namespaces with guaranteed cleanup (HOST-ONLY, CPython, root).

    with NetNS() as ns:                     # `ip netns add exuk-<pid>-<n>`; name in ns.name
        ns.ip("link", "set", "lo", "up")    # `ip -n NAME ...`, raises NetSetupError on failure
        r = ns.run(["curl", ...], timeout=30)       # `ip netns exec NAME ...` (bounded)
        p = ns.popen([sys.executable, ...])         # a long-lived process inside it
        with ns.entered():                  # the CALLING THREAD is inside the namespace:
            fd = open_tap("tap0")           # sockets / taps opened here belong to it
    # the namespace is deleted here, whatever happened (exception, SIGINT, SIGTERM)

Cleanup is layered so nothing outlives the process that made it:
- the context manager (or `close()`) deletes the namespace and kills the processes this
  object started (`popen`) in it;
- every live NetNS is registered; an atexit hook deletes what is left;
- SIGTERM and SIGHUP, when their handler is still the default one and we are in the main
  thread, are turned into SystemExit so context managers and atexit run;
- a process killed with SIGKILL cannot clean up: before making a namespace, NetNS() runs
  `cleanup_stale()`, which removes our namespaces whose creator is gone and ends what was
  left running inside them (a bridge run's QEMU, whose -runas cost it its parent-death
  signal; a relay), naming each on stderr.
Test addresses (10.0.2.0/24) live only inside such namespaces, never in the root one.
"""

import atexit
import ctypes
import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

PREFIX = "exuk"
NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
_NAME_RE = re.compile(r"^%s-(\d+)-\d+$" % PREFIX)
_counter = itertools.count(1)
_live = {}  # name -> NetNS, for the atexit / signal cleanup
_lock = threading.Lock()
_hooks_installed = False


class NetSetupError(RuntimeError):
    """A namespace, device or relay could not be set up; the message says what and why."""


def _ipcmd(args, timeout=20, check=True):
    try:
        r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise NetSetupError("`ip` (iproute2) is not installed: apt-get install iproute2") \
            from None
    except subprocess.TimeoutExpired:
        raise NetSetupError("`ip %s` did not finish within %s s" % (" ".join(args), timeout)) \
            from None
    if check and r.returncode != 0:
        hint = ""
        if "Operation not permitted" in r.stderr or "Permission denied" in r.stderr:
            hint = " (network namespaces need root / CAP_SYS_ADMIN and CAP_NET_ADMIN)"
        raise NetSetupError("`ip %s` failed (status %d): %s%s"
                            % (" ".join(args), r.returncode, r.stderr.strip(), hint))
    return r


def list_namespaces():
    """Names of the network namespaces `ip netns` knows."""
    out = _ipcmd(["netns", "list"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def exists(name):
    return name in list_namespaces()


CREATOR_SLACK = 1.0  # seconds: a creator starts before its namespace, give or take clocks


def _started_at(pid):
    """Wall-clock start time of pid, or None when it is gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()  # comm may hold spaces
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    if fields[0] == "Z":
        return None
    ticks = int(fields[19])  # field 22 of stat(5), starttime in clock ticks after boot
    return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")


def _creator_alive(pid, name):
    """Whether the process that made namespace `name` still runs: pid is there, not a
    zombie, and not a newer process that got the pid again (pid_max may be 32768)."""
    started = _started_at(pid)
    if started is None:
        return False
    try:
        made = os.stat(os.path.join(NETNS_DIR, name)).st_mtime
    except OSError:
        return True  # cannot tell: leave it alone
    return started <= made + CREATOR_SLACK


def _end_processes_inside(name, timeout=5.0):
    """SIGKILL what runs inside namespace `name`; ["comm pid", ...] of what was there."""
    pids = [int(p) for p in _ipcmd(["netns", "pids", name], check=False).stdout.split()]
    ended = []
    for pid in pids:
        try:
            with open("/proc/%d/comm" % pid) as f:
                ended.append("%s pid %d" % (f.read().strip(), pid))
            os.kill(pid, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue
    deadline = time.monotonic() + timeout
    while any(_started_at(p) is not None for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return ended


def cleanup_stale(report=None):
    """Delete namespaces this module made (exuk-<pid>-<n>) whose creator is gone (e.g.
    SIGKILLed), ending the processes left inside first. Returns the names removed and
    calls report(name, creator_pid, ended) for each. Never touches other names, nor a
    namespace whose creator still runs."""
    removed = []
    for name in list_namespaces():
        m = _NAME_RE.match(name)
        if not m or name in _live or _creator_alive(int(m.group(1)), name):
            continue
        ended = _end_processes_inside(name)
        if _ipcmd(["netns", "del", name], check=False).returncode == 0:
            removed.append(name)
            if report is not None:
                report(name, int(m.group(1)), ended)
    return removed


def _report_stale(name, creator, ended):
    print("ethox-uk: removed network namespace %s left by pid %d, which is gone%s"
          % (name, creator, "; ended what ran in it: " + ", ".join(ended) if ended else ""),
          file=sys.stderr, flush=True)


def _cleanup_all():
    with _lock:
        items = list(_live.values())
    for ns in items:
        if ns.owner_pid != os.getpid():  # a forked child must not delete its parent's
            continue
        try:
            ns.close()
        except Exception:  # atexit / signal path: keep going, remove what we can
            pass


def _on_signal(sig, frame):
    # Unwind through context managers (which delete the namespaces); atexit is the backstop.
    raise SystemExit(128 + sig)


def _install_hooks():
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_cleanup_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) == signal.SIG_DFL:
                signal.signal(sig, _on_signal)


_libc = None


def _setns(fd):
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if hasattr(os, "setns"):  # Python 3.12+
        os.setns(fd, CLONE_NEWNET)
        return
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: %s" % os.strerror(e))


@contextmanager
def enter(path):
    """The calling thread runs inside the network namespace whose file is `path` (e.g.
    /run/netns/NAME or /proc/PID/ns/net) for the with-block, then returns."""
    try:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise NetSetupError("cannot open namespace %s: %s" % (path, e.strerror)) from None
    try:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        os.close(target)
        raise
    try:
        try:
            _setns(target)
        except OSError as e:
            raise NetSetupError("setns into %s failed: %s (needs CAP_SYS_ADMIN)"
                                % (path, e.strerror)) from None
        try:
            yield
        finally:
            _setns(home)  # failing here would leave the thread inside: let it raise
    finally:
        os.close(target)
        os.close(home)


class NetNS:
    """One private network namespace; see the module docstring."""

    def __init__(self, name=None, lo_up=True):
        if name is None:
            cleanup_stale(report=_report_stale)  # what SIGKILLed runs left behind
            name = "%s-%d-%d" % (PREFIX, os.getpid(), next(_counter))
        self.name = name
        self.owner_pid = os.getpid()
        self.closed = False
        self._procs = []
        _install_hooks()
        if exists(name):
            raise NetSetupError("network namespace %s already exists" % name)
        with _lock:
            _live[name] = self
        try:
            _ipcmd(["netns", "add", name])
            if lo_up:
                self.ip("link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise

    # -- running things inside ---------------------------------------------------------
    def prefix(self):
        """argv prefix that runs a command inside: ["ip", "netns", "exec", NAME]."""
        return ["ip", "netns", "exec", self.name]

    def ip(self, *args, check=True, timeout=20):
        """`ip -n NAME ARGS` (CompletedProcess, text); NetSetupError when it fails."""
        return _ipcmd(["-n", self.name, *args], timeout=timeout, check=check)

    def run(self, argv, timeout=60, check=False, **kw):
        """Run argv inside to completion, bounded: CompletedProcess with text output.
        subprocess.TimeoutExpired (the child is killed) when it takes longer."""
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(self.prefix() + list(argv), timeout=timeout, check=check, **kw)

    def popen(self, argv, **kw):
        """Start argv inside; the process is killed (if still running) on close()."""
        p = subprocess.Popen(self.prefix() + list(argv), **kw)
        self._procs.append(p)
        return p

    def entered(self):
        """The calling thread runs inside the namespace for the with-block (setns), then
        returns to the namespace it was in. Sockets and tap devices opened inside stay
        bound to this namespace after the block."""
        return enter(os.path.join(NETNS_DIR, self.name))

    def sysctl(self, key, value=None):
        """Read (value None) or write a per-namespace sysctl such as "net.unix.max_dgram_qlen"
        inside this namespace only (through /proc/sys from a thread that entered it)."""
        path = "/proc/sys/" + key.replace(".", "/")
        with self.entered():
            if value is None:
                with open(path) as f:
                    return f.read().strip()
            with open(path, "w") as f:
                f.write(str(value))
        return str(value)

    # -- teardown ------------------------------------------------------------------------
    def close(self, timeout=10.0):
        """Kill what popen() started, delete the namespace (retrying while it is busy)."""
        if self.closed:
            return
        self.closed = True
        for p in self._procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)
        self._procs = []
        deadline = time.monotonic() + timeout
        err = ""
        while True:
            r = _ipcmd(["netns", "del", self.name], check=False)
            if r.returncode == 0 or not os.path.exists(os.path.join(NETNS_DIR, self.name)):
                break
            err = r.stderr.strip()
            if time.monotonic() > deadline:
                with _lock:
                    _live.pop(self.name, None)
                raise NetSetupError("could not delete namespace %s: %s" % (self.name, err))
            time.sleep(0.1)
        with _lock:
            _live.pop(self.name, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "NetNS(%r%s)" % (self.name, ", closed" if self.closed else "")


def wait_link_up(ns, ifname, timeout=5.0):
    """Wait until IFNAME inside `ns` reports state UP (a tap only does once its fd is open
    and the kernel's link watch ran; frames sent before are dropped)."""
    deadline = time.monotonic() + timeout
    while True:
        out = ns.ip("-o", "link", "show", ifname).stdout
        if "state UP" in out or ("LOWER_UP" in out and "state UNKNOWN" in out):
            return
        if time.monotonic() > deadline:
            raise NetSetupError("%s in %s did not come up within %.1f s: %s"
                                % (ifname, ns.name, timeout, out.strip()))
        time.sleep(0.02)

