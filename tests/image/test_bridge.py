"""`ethox-uk run IMAGE --net bridge`: the echo image on a bridge in a private namespace, reached
by the Linux kernel's own TCP/IP from inside that namespace (DESIGN §5).

`ethox-uk run` runs in a subprocess (the CLI as users run it); it prints the namespace's name;
from inside that namespace (`ip netns exec NAME`):
- ping: a raw-socket ICMP echo client in Python (the kernel's own ICMP socket; iputils-ping is
  not installed and not in DESIGN's package list), 20 echoes with identical payloads, checked;
- curl http://10.0.2.15/ (the counters page) and /bytes/1000000 (size and 0x00..0xff pattern);
- nc -N: 4 MiB into discard (port 9), and 1 MiB through TCP echo (port 7), sha256 compared
  (iperf3 is not possible: the guest runs no iperf3 server).
Then `run` gets SIGTERM: the namespace must be gone and no QEMU left. Runs as root (CI): a
failure to make namespaces is a failure with the reason, never a skip. Every wait is bounded.
"""

import hashlib
import os
import pwd
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ethox_uk.build import image as image_mod
from ethox_uk.netsetup import list_namespaces

REPO = Path(__file__).resolve().parents[2]
GUEST = "10.0.2.15"
# up to the newline: the line may arrive in pieces, and fields (ip6=) follow mac=
# a pty turns the guest's "\r\n" into "\r\r\n"
READY = re.compile(rb"^ethox-uk: ready ip=10\.0\.2\.15 mac=52:54:00:12:34:56( \S+=\S+)*\r*\n", re.M)
NS_LINE = re.compile(rb"network namespace (exuk-\d+-\d+)")
BOOT_TIMEOUT = 30.0

# the shared raw-socket ping client (ethox_uk/netsetup/ping.py), run inside the namespace
PING = "import sys; from ethox_uk.netsetup.ping import ping; print('ping', ping(sys.argv[1]))"


def pattern(n):
    """GET /bytes/N's body: the repeating 0x00..0xff pattern."""
    return (bytes(range(256)) * (n // 256 + 1))[:n]


@pytest.fixture(scope="module")
def image():
    return image_mod.build("images/echo", output=REPO / "build" / "test-bridge" / "echo.elf",
                           quiet=True)


class Run:
    """`ethox-uk run IMAGE --net bridge` in a subprocess; console and stderr collected."""

    def __init__(self, image):
        if os.geteuid() != 0:
            pytest.fail("--net bridge needs root (network namespaces, /dev/net/tun); CI runs "
                        "as root")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ethox_uk.cli", "run", str(image), "--net", "bridge",
             "--timeout", str(BOOT_TIMEOUT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
        self.out = bytearray()
        self.err = bytearray()
        self.ns = None

    def pump(self, wait):
        fds = [f for f in (self.proc.stdout, self.proc.stderr) if not f.closed]
        r, _, _ = select.select(fds, [], [], max(0.0, wait))
        got = False
        for f in r:
            data = os.read(f.fileno(), 65536)
            if data:
                (self.out if f is self.proc.stdout else self.err).extend(data)
                got = True
        return got

    def wait_ready(self):
        dl = time.monotonic() + BOOT_TIMEOUT + 10
        while not (READY.search(self.out) and NS_LINE.search(self.err)):
            if time.monotonic() > dl or (self.proc.poll() is not None and not self.pump(0)):
                pytest.fail("no ready line / namespace name (status %r)\nstdout: %r\nstderr: %s"
                            % (self.proc.poll(), bytes(self.out), self.err.decode(errors="replace")))
            self.pump(0.2)
        self.ns = NS_LINE.search(self.err).group(1).decode()
        return self.ns

    def inside(self, argv, timeout=60, **kw):
        return subprocess.run(["ip", "netns", "exec", self.ns, *argv], timeout=timeout,
                              capture_output=True, **kw)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        dl = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < dl:
            self.pump(0.1)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
            pytest.fail("ethox-uk run did not end within %gs of signal %d" % (timeout, sig))
        while self.pump(0):
            pass
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            f.close()
        return self.proc.returncode


@pytest.fixture
def bridge_run(image):
    run = Run(image)
    try:
        yield run
    finally:
        run.stop()
        if run.ns is not None:
            assert run.ns not in list_namespaces(), "namespace %s left behind" % run.ns
        assert b"internal error" not in run.out, bytes(run.out)


def test_kernel_reaches_the_guest_on_the_bridge(bridge_run, tmp_path):
    run = bridge_run
    ns = run.wait_ready()
    err = run.err.decode()
    assert "ip netns exec %s ping %s" % (ns, GUEST) in err, err
    assert ns in list_namespaces()
    # nothing of the test network in the root namespace
    root = subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True, timeout=10)
    assert "10.0.2." not in root.stdout

    r = run.inside([sys.executable, "-c", PING, GUEST], timeout=60, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ping 20", (r.stdout, r.stderr)

    r = run.inside(["curl", "-sS", "-m", "20", "http://%s/" % GUEST])
    assert r.returncode == 0, r.stderr
    assert b"ethox-uk" in r.stdout and b"rx_frames" in r.stdout, r.stdout[:300]

    n = 1000000
    r = run.inside(["curl", "-sS", "-m", "60", "http://%s/bytes/%d" % (GUEST, n)])
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == n and r.stdout == pattern(n)

    blob = tmp_path / "blob"
    blob.write_bytes(hashlib.shake_256(b"ethox-uk bridge").digest(4 << 20))
    with open(blob, "rb") as f:
        t0 = time.monotonic()
        r = run.inside(["nc", "-N", "-w", "20", GUEST, "9"], stdin=f, timeout=120)
    assert r.returncode == 0, r.stderr
    mbit = 4 * 8 * 1.048576 / (time.monotonic() - t0)
    print("nc -> discard 4 MiB: %.1f Mbit/s" % mbit)

    data = blob.read_bytes()[: 1 << 20]
    small = tmp_path / "small"
    small.write_bytes(data)
    with open(small, "rb") as f:
        r = run.inside(["nc", "-N", "-w", "20", GUEST, "7"], stdin=f, timeout=120)
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(r.stdout).hexdigest() == hashlib.sha256(data).hexdigest(), \
        len(r.stdout)


def qemu_child(pid, timeout=10):
    """The QEMU process `ethox-uk run` started (ip netns exec execs QEMU in place)."""
    dl = time.monotonic() + timeout
    while time.monotonic() < dl:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/status" % entry) as f:
                    status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
            except OSError:
                continue
            if status.get("PPid") == str(pid) and status.get("Name", "").startswith("qemu"):
                return status
        time.sleep(0.1)
    pytest.fail("no QEMU child of pid %d" % pid)


def console_line(run, code, tag, timeout=20):
    """Type code at the guest's REPL (run's stdin is QEMU's console); the line starting
    with tag that it prints."""
    run.proc.stdin.write(code.encode() + b"\r")
    run.proc.stdin.flush()
    pat = re.compile(rb"^" + re.escape(tag.encode()) + rb"[^\r\n]*\r?\n", re.M)
    dl = time.monotonic() + timeout
    while not pat.search(run.out) and time.monotonic() < dl:
        run.pump(0.2)
    m = pat.search(run.out)
    assert m, bytes(run.out[-500:])
    return m.group(0).decode().strip()


def test_qemu_drops_root_keeps_the_tap_and_offers_offloads(bridge_run, tmp_path):
    """Issue 11 item 9: in bridge mode QEMU gets the tap as an fd (opened with a vnet
    header), runs as nobody with no capabilities under the seccomp filter, and the guest
    still negotiates TSO both ways and serves ping and TCP over that tap."""
    run = bridge_run
    run.wait_ready()
    status = qemu_child(run.proc.pid)
    nobody = pwd.getpwnam("nobody")
    assert status["Uid"].split() == [str(nobody.pw_uid)] * 4, status["Uid"]
    assert status["Gid"].split() == [str(nobody.pw_gid)] * 4, status["Gid"]
    assert int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0
    assert status["Seccomp"] == "2"
    offloads = console_line(run, "print('offl', net.nic.offloads())", "offl [")
    assert "'host_tso4'" in offloads and "'guest_tso4'" in offloads, offloads

    r = run.inside([sys.executable, "-c", PING, GUEST], timeout=60, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ping 20", (r.stdout, r.stderr)
    data = hashlib.shake_256(b"ethox-uk runas").digest(256 << 10)
    blob = tmp_path / "blob"
    blob.write_bytes(data)
    with open(blob, "rb") as f:
        r = run.inside(["nc", "-N", "-w", "20", GUEST, "7"], stdin=f, timeout=120)
    assert r.returncode == 0 and r.stdout == data, (len(r.stdout), r.stderr)


def test_a_sigkilled_run_is_cleaned_up_by_the_next_one(image):
    """Issue 11 item 13: SIGKILL leaves the namespace and, since -runas clears QEMU's
    parent-death signal, the QEMU in it; the next command that makes a namespace removes
    both and says so."""
    run = Run(image)
    try:
        ns = run.wait_ready()
        qemu = int(qemu_child(run.proc.pid)["Pid"])
    finally:
        run.stop(signal.SIGKILL)
    try:
        assert ns in list_namespaces()
        r = subprocess.run([sys.executable, "-m", "ethox_uk.cli", "exec", str(image),
                            "print(6*7)", "--net", "bridge"], cwd=REPO, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0 and r.stdout == "42\n", r.stderr
        assert "removed network namespace %s left by pid %d, which is gone; ended what ran " \
               "in it: qemu-system-x86 pid %d" % (ns, run.proc.pid, qemu) in r.stderr, r.stderr
        assert ns not in list_namespaces()
        dl = time.monotonic() + 5  # killed; its new parent reaps it
        while os.path.exists("/proc/%d" % qemu) and time.monotonic() < dl:
            time.sleep(0.1)
        assert not os.path.exists("/proc/%d" % qemu)
    finally:
        if os.path.exists("/proc/%d" % qemu):
            os.kill(qemu, signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def test_sigterm_removes_the_namespace(image):
    run = Run(image)
    try:
        ns = run.wait_ready()
        assert ns in list_namespaces()
    finally:
        run.stop(signal.SIGTERM)
    assert ns not in list_namespaces(), "namespace %s left behind after SIGTERM" % ns
    assert subprocess.run(["pgrep", "-f", "%s.*%s" % ("ip netns exec", ns)],
                          capture_output=True, timeout=10).returncode == 1


def test_run_on_a_terminal_without_net_picks_bridge_and_says_so(image):
    """`ethox-uk run IMAGE` with no --net on a terminal (a pty here), as root: --net bridge,
    announced in one line; the guest's sys.exit(3) ends it with 3 and the namespace goes."""
    import pty

    if os.geteuid() != 0:
        pytest.fail("needs root (CI runs as root)")
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec at once, nothing else
        os.chdir(str(REPO))
        os.execv(sys.executable, [sys.executable, "-m", "ethox_uk.cli", "run", str(image)])
    buf = bytearray()
    status = None
    try:
        def read_until(pred, timeout):
            dl = time.monotonic() + timeout
            while not pred() and time.monotonic() < dl:
                r, _, _ = select.select([fd], [], [], 0.2)
                if r:
                    try:
                        data = os.read(fd, 4096)
                    except OSError:
                        return
                    if not data:
                        return
                    buf.extend(data)

        read_until(lambda: READY.search(buf) and buf.rstrip().endswith(b">>>"), BOOT_TIMEOUT)
        assert READY.search(buf) and buf.rstrip().endswith(b">>>"), bytes(buf[-500:])
        assert b"no --net given: using --net bridge" in buf, bytes(buf)
        m = NS_LINE.search(buf)
        assert m and m.group(1).decode() in list_namespaces(), bytes(buf)
        ns = m.group(1).decode()
        os.write(fd, b"import sys; sys.exit(3)\r")
        dl = time.monotonic() + 20
        while status is None and time.monotonic() < dl:
            read_until(lambda: False, 0.2)
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = os.waitstatus_to_exitcode(st)
        assert status == 3, (status, bytes(buf[-500:]))
        assert ns not in list_namespaces(), "namespace %s left behind" % ns
    finally:
        if status is None:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        os.close(fd)
