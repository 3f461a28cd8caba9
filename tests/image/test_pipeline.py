"""The image pipeline end to end: `ethox-uk build`, `inspect`, `run`, `exec`, `exec --attach`,
`repl`, and mpremote over `run --serial pty`, on the echo recipe.

Boots: KVM on microvm (TCG when /dev/kvm is unusable: never skipped), TCG on microvm and TCG
on q35. Every wait is bounded. The commands are run as a user runs them (a subprocess of the
CLI).
"""

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ethox_uk.qemu import cmdline, kvm, status
from ethox_uk.netspec import NetOpts, parse_spec

REPO = Path(__file__).resolve().parents[2]
KVM = "kvm" if kvm.usable() else "tcg"
BOOTS = [(KVM, "microvm"), ("tcg", "microvm"), ("tcg", "q35")]
BOOT_IDS = ["%s-microvm" % KVM, "tcg-microvm", "tcg-q35"]
BANNER = b"MicroPython v1.25.0"
PROMPT = b">>> "
READY = re.compile(rb"^ethox-uk: ready ip=\d+(\.\d+){3} mac=[0-9a-f]{2}(:[0-9a-f]{2}){5}( \S+=\S+)*\r?$", re.M)
T_BOOT = 60  # seconds for a boot to reach the REPL (q35 under KVM would need ~6)
T_CMD = 120  # seconds for a whole command


def eu():
    """argv prefix of the CLI, run as a user runs it."""
    return [sys.executable, "-m", "ethox_uk.cli"]


def free_port(kind=socket.SOCK_STREAM):
    """A 127.0.0.1 port of that kind nobody holds just now (for -p, --gdb)."""
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_eu(*args, cwd=REPO, timeout=T_CMD, **kw):
    return subprocess.run(eu() + [str(a) for a in args], cwd=cwd, capture_output=True,
                          timeout=timeout, **kw)


@pytest.fixture(scope="module")
def image():
    """`ethox-uk build` of images/echo into build/echo.elf (incremental after the first)."""
    r = run_eu("build", "-q", timeout=900)
    assert r.returncode == 0, r.stderr.decode()[-4000:]
    path = REPO / "build" / "echo.elf"
    assert path.is_file()
    return path


@pytest.fixture
def sockdir():
    d = tempfile.mkdtemp(prefix="eup", dir="/tmp")  # short: sun_path < 100 bytes
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def read_until(stream, marker, timeout):
    """Bytes from a pipe until marker (bounded); AssertionError with what came on timeout."""
    fd = stream.fileno()
    got = b""
    end = time.monotonic() + timeout
    while marker not in got:
        left = end - time.monotonic()
        assert left > 0, "no %r within %s s; got %r" % (marker, timeout, got[-500:])
        r, _, _ = select.select([fd], [], [], left)
        if r:
            data = os.read(fd, 65536)
            assert data, "EOF before %r; got %r" % (marker, got[-500:])
            got += data
    return got


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


# -- command line and statuses (no QEMU) -------------------------------------------------

def test_canonical_qemu_line():
    net = NetOpts(parse_spec("dgram:/tmp/eu-guest.sock,/tmp/eu-peer.sock"))
    argv = cmdline.assemble("build/echo.elf", accel="kvm", mem="64M",
                            append=net.boot_words("ip=10.0.2.15/24 gw=10.0.2.2"), net=net)
    assert argv == [
        "qemu-system-x86_64",
        "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
        "-M", "microvm,acpi=off", "-accel", "kvm", "-m", "64M",
        "-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-serial", "stdio",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-global", "virtio-mmio.force-legacy=false",
        "-kernel", "build/echo.elf", "-append", "ip=10.0.2.15/24 gw=10.0.2.2",
        "-netdev", "dgram,id=n0,local.type=unix,local.path=/tmp/eu-guest.sock,"
                   "remote.type=unix,remote.path=/tmp/eu-peer.sock",
        "-device", "virtio-net-device,netdev=n0,mac=52:54:00:12:34:56"]
    assert not any(a.startswith("user") for a in argv) and "-cpu" not in argv


def test_qemu_line_variants():
    net = NetOpts(parse_spec("tap:tap0"), ip="10.0.3.5/24", gw="10.0.3.1",
                  mac="52:54:00:aa:bb:cc", pcap="/tmp/x.pcap")
    append = net.boot_words("ip=10.0.2.15/24 gw=10.0.2.2 greeting=hi")
    argv = cmdline.assemble("i.elf", accel="tcg", machine="q35", mem="1G", append=append,
                            net=net, serial=cmdline.Serial("unix", path="/tmp/c.sock"),
                            qmp_fd=7, pcap_fd=8)
    line = " ".join(argv)
    assert argv[3:5] == ["-M", "q35"] and "-m 1024M" in line
    assert "virtio-mmio" not in line
    assert append == "greeting=hi ip=10.0.3.5/24 gw=10.0.3.1 mac=52:54:00:aa:bb:cc"
    assert "-netdev tap,id=n0,ifname=tap0,script=no,downscript=no" in line
    assert "-device virtio-net-pci,netdev=n0,disable-legacy=on,mac=52:54:00:aa:bb:cc" in line
    assert "-object filter-dump,id=f0,netdev=n0,file=/proc/self/fd/8" in line
    assert "/tmp/x.pcap" not in line  # QEMU writes to the file we opened, never by name
    assert "-chardev socket,id=s0,path=/tmp/c.sock,server=on,wait=off -serial chardev:s0" in line
    assert "-chardev socket,id=qmp,fd=7 -mon chardev=qmp,mode=control" in line
    assert cmdline.assemble("i", accel="tcg", serial=cmdline.Serial("pty"))[13:15] == \
        ["-serial", "pty"]
    # the MAC of a mac= boot word when --mac is not given
    argv = cmdline.assemble("i", accel="tcg", append="mac=52:54:00:00:00:07",
                            net=NetOpts(parse_spec("tap:tap1")))
    assert "virtio-net-device,netdev=n0,mac=52:54:00:00:00:07" in argv


def test_exit_status_mapping():
    for n in range(0, status.GUEST_MAX + 1):
        assert status.map_status(((0x10 + n) << 1) | 1) == n
    assert status.map_status(1) == status.QEMU_FAILED == 120
    assert status.map_status(0) == status.CRASHED == 125  # reset / triple fault
    assert status.map_status(0, shutdown_reason="guest-reset") == 125
    assert status.map_status(0, fatal="internal-error") == 125
    assert status.map_status(33, fatal="internal-error") == 125
    assert status.map_status(0, shutdown_reason="host-signal") == 130
    assert status.map_status(-signal.SIGKILL) == 125


# -- build and inspect -------------------------------------------------------------------

def test_inspect_json(image):
    r = run_eu("inspect", image, "--json")
    assert r.returncode == 0, r.stderr.decode()
    info = json.loads(r.stdout)
    for key in ("entry", "pvh_entry", "size", "sections", "frozen_modules",
                "micropython_version", "source_sha256", "recipe", "revision"):
        assert key in info, key
    assert info["size"] == image.stat().st_size
    assert info["pvh_entry"] > 0 and info["entry"] > 0
    names = {s["name"] for s in info["sections"]}
    assert {".text", ".rodata", ".ethox_meta"} <= names
    assert all(set(s) == {"name", "addr", "size"} for s in info["sections"])
    mods = set(info["frozen_modules"])
    assert {"boot", "app", "asyncio", "ethox_uk.stack.config", "ethox_uk.stack.iface",
            "ethox_uk.stack.wire.checksum"} <= mods
    assert "ethox_uk.stack.nic.tap" not in mods  # host-only NICs stay out
    assert not [m for m in mods if ".wire.model" in m]  # and the tests' packet models
    assert not [m for m in mods if m.startswith("virtio.sim")]  # and simulated machine
    assert info["recipe"] == "echo" and info["micropython_version"] == "1.25.0"
    assert re.fullmatch(r"[0-9a-f]{64}", info["source_sha256"])
    assert info["revision"]
    text = run_eu("inspect", image)
    assert text.returncode == 0 and b"pvh_entry" in text.stdout and b"ethox_uk.stack" in text.stdout


def test_frozen_names_match_the_image(image):
    """The build's list (META) is what the runtime really froze: ask the guest."""
    r = run_eu("inspect", image, "--json")
    mods = [m for m in json.loads(r.stdout)["frozen_modules"] if m != "boot"]
    code = ("ok = []\nfor m in %r:\n    __import__(m)\n    ok.append(m)\n"
            "print(len(ok))\n" % mods)
    r = run_eu("exec", image, code, "--accel", KVM)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.strip() == str(len(mods)).encode()


# -- boots -------------------------------------------------------------------------------

@pytest.mark.parametrize("accel,machine", BOOTS, ids=BOOT_IDS)
def test_run_banner_and_exit(image, accel, machine):
    p = subprocess.Popen(eu() + ["run", str(image), "--accel", accel, "--machine", machine],
                         cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out = read_until(p.stdout, PROMPT, T_BOOT)
        assert BANNER in out
        assert READY.search(out)  # no --net: the guest still gets a (private) link
        p.stdin.write(b"import sys; sys.exit(5)\r")
        p.stdin.flush()
        assert p.wait(T_BOOT) == 5
        err = p.stderr.read()
        assert b"pni" not in err  # the harmless warning of this KVM is filtered
        if accel == "tcg" and KVM == "kvm":
            assert b"TCG" not in err  # asked for: no notice
    finally:
        stop(p)


@pytest.mark.parametrize("accel,machine", BOOTS, ids=BOOT_IDS)
def test_exec_prints_42(image, accel, machine):
    r = run_eu("exec", image, "print(6*7)", "--accel", accel, "--machine", machine)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout == b"42\n"


def test_exec_sys_exit_and_exception(image):
    r = run_eu("exec", image, "import sys\nprint('bye')\nsys.exit(3)", "--accel", KVM)
    assert (r.returncode, r.stdout) == (3, b"bye\n"), r.stderr.decode()
    r = run_eu("exec", image, "x = 1\n1/0", "--accel", KVM)
    assert r.returncode == 1
    assert b"ZeroDivisionError" in r.stderr and r.stdout == b""
    r = run_eu("exec", image, "raise SystemExit", "--accel", KVM)
    assert r.returncode == 0


def test_exec_file_boot_words_and_memory(image, tmp_path):
    f = tmp_path / "code.py"
    f.write_text("from ethox_uk.stack.config import format_ip\n"
                 "import _ethox\n"
                 "lo, hi = _ethox.heap()\n"
                 "print(format_ip(config.ip), config.prefix, format_ip(config.gw))\n"
                 "print(hi - lo < 16 << 20, sum(i for i in range(1000)))\n")
    r = run_eu("exec", image, "-f", f, "--ip", "10.0.3.7/25", "--gw", "10.0.3.1",
               "--mem", "16M", "--accel", KVM)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout == b"10.0.3.7 25 10.0.3.1\nTrue 499500\n"


def test_exec_with_dgram_net_and_pcap(image, sockdir):
    local, remote = sockdir / "g.sock", sockdir / "p.sock"
    local.write_bytes(b"")  # a stale regular file is refused, a stale socket removed
    pcap = sockdir / "t.pcap"
    args = ["--net", "dgram:%s,%s" % (local, remote), "--pcap", pcap, "--accel", KVM]
    r = run_eu("exec", image, "print(1)", *args)
    assert r.returncode == 2 and b"not a socket" in r.stderr
    local.unlink()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(str(local))
    stale.close()
    r = run_eu("exec", image, "print(1)", *args)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout == b"1\n"
    assert not local.exists()  # QEMU's socket file is removed after the run
    assert pcap.read_bytes()[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4")


def test_import_socket_is_the_stack_socket_api(image, sockdir):
    # MicroPython network code says `import socket`: in the image that is our stack's API.
    code = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            "s.bind(('0.0.0.0', 5555)); print(socket.__name__, s.getsockname()[1])")
    net = "dgram:%s,%s" % (sockdir / "g.sock", sockdir / "p.sock")
    r = run_eu("exec", image, code, "--net", net, "--accel", KVM)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout == b"ethox_uk.stack.socket 5555\n"


def test_exec_attach(image, sockdir):
    con = sockdir / "con.sock"
    p = subprocess.Popen(eu() + ["run", str(image), "--serial", "unix:%s" % con,
                                 "--accel", KVM],
                         cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + T_BOOT
        while not con.exists():
            assert time.monotonic() < end and p.poll() is None, p.stderr.read()
            time.sleep(0.05)
        time.sleep(0.2)  # let the guest reach its REPL
        a = "unix:%s" % con
        r = run_eu("exec", "--attach", a, "x = 6 * 7")
        assert r.returncode == 0, r.stderr.decode()
        r = run_eu("exec", "--attach", a, "print(x)")  # the same live interpreter
        assert (r.returncode, r.stdout) == (0, b"42\n"), r.stderr.decode()
        r = run_eu("exec", "--attach", a, "1/0")
        assert r.returncode == 1 and b"ZeroDivisionError" in r.stderr
        assert p.poll() is None  # an exception does not end the image
        run_eu("exec", "--attach", a, "import sys; sys.exit(9)")
        assert p.wait(T_BOOT) == 9
        assert not con.exists()
    finally:
        stop(p)


def test_mpremote_over_pty(image):
    p = subprocess.Popen(eu() + ["run", str(image), "--serial", "pty", "--accel", KVM],
                         cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        err = read_until(p.stderr, b" (e.g. mpremote", T_BOOT)
        m = re.search(rb"serial console on (/dev/pts/\d+)", err)
        assert m, err
        pty = m.group(1).decode()
        mpremote = str(Path(sys.executable).parent / "mpremote")
        for _ in range(2):  # plain exec soft-resets first: twice in a row
            r = subprocess.run([mpremote, "connect", pty, "exec", "print(6*7)"],
                               capture_output=True, timeout=T_CMD)
            assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()
            assert r.stdout.strip() == b"42"
        subprocess.run([mpremote, "connect", pty, "exec", "import sys; sys.exit(6)"],
                       capture_output=True, timeout=T_CMD)
        assert p.wait(T_BOOT) == 6
    finally:
        stop(p)


def test_repl_piped(image):
    p = subprocess.Popen(eu() + ["repl", str(image), "--accel", KVM], cwd=REPO,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out = read_until(p.stdout, PROMPT, T_BOOT)
        assert BANNER in out
        p.stdin.write(b"print(6*7)\r")
        p.stdin.flush()
        read_until(p.stdout, b"42", T_BOOT)
        p.stdin.write(b"import sys; sys.exit(2)\r")
        p.stdin.close()
        assert p.wait(T_BOOT) == 2
        assert b"Ctrl-]" in p.stderr.read()
    finally:
        stop(p)


# -- reproducibility and rebuild speed ---------------------------------------------------

def _copy_tree(dest):
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, check=True, timeout=60).stdout.split(b"\0")
    for f in files:
        if not f:
            continue
        src = REPO / os.fsdecode(f)
        if src.is_file():
            (dest / os.fsdecode(f)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / os.fsdecode(f))


def test_two_cold_builds_identical_and_app_rebuild_fast(tmp_path):
    """Two copies of the tree at different depths, each built cold with its own code
    (python -m from the copy): byte-identical images. Then an app-only edit rebuilds in
    seconds and the image has the new app."""
    a = tmp_path / "a"
    b = tmp_path / "deeper" / "b"
    for d in (a, b):
        d.mkdir(parents=True)
        _copy_tree(d)
    argv = [sys.executable, "-m", "ethox_uk.cli", "build", "-q"]
    for d in (a, b):
        r = subprocess.run(argv, cwd=d, capture_output=True, timeout=900)
        assert r.returncode == 0, r.stderr.decode()[-4000:]
    ia, ib = a / "build" / "echo.elf", b / "build" / "echo.elf"
    assert ia.read_bytes() == ib.read_bytes()
    data = ia.read_bytes()
    assert str(tmp_path).encode() not in data and str(REPO).encode() not in data

    app = a / "images" / "echo" / "app.py"
    app.write_text(app.read_text() + "\nREBUILD_MARK = 1234\n")
    t0 = time.monotonic()
    r = subprocess.run(argv, cwd=a, capture_output=True, timeout=300)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr.decode()[-4000:]
    assert took < 20, "app-only rebuild took %.1f s" % took
    r = subprocess.run([sys.executable, "-m", "ethox_uk.cli", "exec", str(ia),
                        "import app; print(app.REBUILD_MARK)", "--accel", KVM],
                       cwd=a, capture_output=True, timeout=T_CMD)
    assert (r.returncode, r.stdout) == (0, b"1234\n"), r.stderr.decode()
