"""QEMU's seccomp sandbox and privilege drop (issue 11 item 9): every QEMU line ethox-uk
builds carries `-sandbox on,obsolete=deny,...,spawn=deny,resourcecontrol=deny` (with
elevateprivileges=deny, except where QEMU must setuid for -runas), a booted image really runs
under the filter (the kernel's Seccomp field of the QEMU process), and the bridge line hands
QEMU its tap as an fd and drops root. tests/image/test_bridge.py boots that line as root."""

import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ethox_uk.bench.image import Guest
from ethox_uk.build import elfinfo
from ethox_uk.build import image as image_mod
from ethox_uk.netspec import NetOpts, parse_spec
from ethox_uk.qemu import cmdline, kvm
from ethox_uk.qemu.network import BridgeSpec
from ethox_uk.qemu.options import VmOptions
from ethox_uk.qemu.vm import Console, Vm

REPO = Path(__file__).resolve().parent.parent
SANDBOX = ["-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"]
ACCEL = "kvm" if kvm.usable() else "tcg"
BOOT_TIMEOUT = 60.0


def sandbox_of(argv):
    i = argv.index("-sandbox")
    return argv[i:i + 2]


NETS = [None, "dgram:/tmp/eusb-g.sock,/tmp/eusb-p.sock", "tap:tap0"]
SERIALS = [cmdline.Serial("stdio"), cmdline.Serial("pty"),
           cmdline.Serial("unix", path="/tmp/eusb-con.sock"), cmdline.Serial("fd", fd=5)]


@pytest.mark.parametrize("machine", ["microvm", "q35"])
@pytest.mark.parametrize("net", NETS, ids=["nonet", "dgram", "tap"])
def test_every_assembled_line_carries_the_sandbox(machine, net):
    nets = NetOpts(parse_spec(net)) if net else None
    for serial in SERIALS:
        argv = cmdline.assemble("i.elf", accel="tcg", machine=machine, net=nets,
                                serial=serial, qmp_fd=7)
        assert argv[1:3] == SANDBOX, argv
        assert argv.count("-sandbox") == 1


def test_user_net_published_ports_and_gdb_lines_carry_the_sandbox():
    from ethox_uk.publish import parse_publish

    pub = (parse_publish("8080:80"), parse_publish("5353:53/udp"))
    net = NetOpts(parse_spec("user"), publish=pub)
    argv = cmdline.assemble("i.elf", accel="tcg", net=net, serial=cmdline.Serial("pty"),
                            qmp_fd=7, udp_link=("/tmp/eusb-q.sock", "/tmp/eusb-f.sock"),
                            gdb=1234, gdb_wait=True)
    assert argv[1:3] == SANDBOX and argv.count("-sandbox") == 1, argv
    assert "-gdb" in argv and any("restrict=on" in a for a in argv)


def test_bench_guest_line_carries_the_sandbox():
    net = NetOpts(parse_spec("dgram:/tmp/eusb-g.sock,/tmp/eusb-p.sock"))
    assert sandbox_of(Guest("i.elf", "tcg", "microvm", net=net).argv) == SANDBOX


class FakeBridgeNet:
    """What BridgeSpec needs of netsetup.BridgeNet, without making a namespace."""

    def qemu_netdev(self, netdev_id, fd=None):
        return "tap,id=%s,fd=%d" % (netdev_id, fd)

    def prefix(self):
        return ["ip", "netns", "exec", "exuk-1-1"]


def test_bridge_line_passes_the_tap_fd_and_drops_root():
    net = NetOpts(BridgeSpec(FakeBridgeNet(), 9, "nobody"))
    argv = cmdline.assemble("i.elf", accel="kvm", net=net, qmp_fd=7)
    assert argv[:5] == ["ip", "netns", "exec", "exuk-1-1", "qemu-system-x86_64"]
    assert argv[5:7] == ["-sandbox", "on,obsolete=deny,elevateprivileges=allow,spawn=deny,"
                                      "resourcecontrol=deny"]
    line = " ".join(argv)
    assert "-netdev tap,id=n0,fd=9 " in line and "ifname" not in line
    assert argv[-2:] == ["-runas", "nobody"]
    assert net.spec.pass_fds() == (9,)


def test_the_unprivileged_user(monkeypatch):
    monkeypatch.delenv(cmdline.ENV_QEMU_USER, raising=False)
    assert cmdline.unprivileged_user() == "nobody"
    monkeypatch.setenv(cmdline.ENV_QEMU_USER, "daemon")
    assert cmdline.unprivileged_user() == "daemon"
    monkeypatch.setenv(cmdline.ENV_QEMU_USER, "no-such-user-here")
    with pytest.raises(cmdline.QemuError, match="no user 'no-such-user-here'.*ETHOX_UK_QEMU_USER"):
        cmdline.unprivileged_user()
    monkeypatch.setenv(cmdline.ENV_QEMU_USER, "root")
    with pytest.raises(cmdline.QemuError, match="uid 0"):
        cmdline.unprivileged_user()


@pytest.fixture(scope="module")
def image():
    return image_mod.build("images/echo", output=REPO / "build" / "echo.elf", quiet=True)


def seccomp_mode(pid):
    """The Seccomp field of /proc/PID/status: 0 off, 1 strict, 2 filter."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Seccomp:"):
                return int(line.split()[1])
    raise AssertionError("no Seccomp line in /proc/%d/status" % pid)


def test_a_booted_image_runs_under_the_seccomp_filter(image):
    d = tempfile.mkdtemp(prefix="eusb", dir="/tmp")
    net = NetOpts(parse_spec("dgram:%s/g,%s/p" % (d, d)))
    vm = Vm(elfinfo.check(image), VmOptions(ACCEL, "microvm"), net, console="socket")
    try:
        vm.start()
        con = Console(vm.console)
        seen = bytearray()
        deadline = time.monotonic() + BOOT_TIMEOUT
        while b">>> " not in seen and time.monotonic() < deadline and not con.eof:
            seen += con.read(0.5)
        assert b"ethox-uk: ready ip=" in seen and b">>> " in seen, bytes(seen[-300:])
        assert vm.running()
        assert seccomp_mode(vm.proc.pid) == 2
    finally:
        vm.close()
        for name in os.listdir(d):
            os.unlink(os.path.join(d, name))
        os.rmdir(d)


def test_inspect_prints_a_sandboxed_line_that_boots(image):
    """`inspect` shows the plain QEMU line (as the README does); pasted into a shell with
    $d set, it boots the image to its ready line."""
    r = subprocess.run([sys.executable, "-m", "ethox_uk.cli", "inspect", str(image)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    line = r.stdout.splitlines()[-1].strip()
    assert line.startswith("qemu-system-x86_64 -sandbox " + SANDBOX[1] + " -M microvm")
    assert '"dgram,id=n0,local.type=unix,local.path=$d/guest.sock,' in line
    if ACCEL != "kvm":
        line = line.replace("-accel kvm", "-accel tcg")
    with tempfile.TemporaryDirectory(prefix="eusb", dir="/tmp") as d:
        p = subprocess.Popen(["sh", "-c", "exec " + line], env=dict(os.environ, d=d),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        try:
            seen = bytearray()
            deadline = time.monotonic() + BOOT_TIMEOUT
            while b"ethox-uk: ready ip=10.0.2.15 mac=52:54:00:12:34:56" not in seen \
                    and time.monotonic() < deadline:
                r, _, _ = select.select([p.stdout], [], [], 0.5)
                data = os.read(p.stdout.fileno(), 4096) if r else b""
                if r and not data:
                    break
                seen += data
            assert b"ethox-uk: ready ip=10.0.2.15 mac=52:54:00:12:34:56" in seen, \
                bytes(seen[-300:])
            assert seccomp_mode(p.pid) == 2
            assert os.path.exists(os.path.join(d, "guest.sock"))
        finally:
            p.kill()
            p.wait(10)
            p.stdin.close()
            p.stdout.close()
