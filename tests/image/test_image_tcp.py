"""The booted echo image over `-netdev dgram`, with the Linux kernel's TCP as the client.

Layout: netsetup.KernelPeer makes a private namespace (removed afterwards) holding tap0 =
10.0.2.2/24 and a relay thread between tap0 and the dgram sockets (it binds REMOTE, sends to
LOCAL); QEMU (ethox_uk.qemu.vm.Vm, DESIGN §5's line) binds LOCAL and sends to REMOTE. Clients
run inside the namespace:
- TCP echo (port 7): N bytes sent while reading back, sha256 of both compared;
- curl GET /bytes/N: size and the 0x00..0xff pattern (sha256 against the expected body).
KVM on microvm (TCG when /dev/kvm is unusable, never skipped): 8 MiB echo and /bytes/8000000;
TCG on microvm and q35: 1 MiB echo and /bytes/1000000. Throughput is printed (-s shows it),
never asserted. Root is required (CI runs as root): missing it is a failure.
"""

import hashlib
import os
import shutil
import sys
import tempfile
import textwrap
import time

import pytest

from ethox_uk.build import elfinfo
from ethox_uk.build import image as image_mod
from ethox_uk.netsetup import KernelPeer, list_namespaces
from ethox_uk.netspec import NetOpts, parse_spec
from ethox_uk.qemu import kvm
from ethox_uk.qemu.options import VmOptions
from ethox_uk.qemu.session import READY
from ethox_uk.qemu.vm import Console, Vm

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUEST = "10.0.2.15"
BOOT_TIMEOUT = 40.0

KVM = "kvm" if kvm.usable() else "tcg"
CONFIGS = [(KVM, "microvm", 8 << 20, 8000000), ("tcg", "microvm", 1 << 20, 1000000),
           ("tcg", "q35", 1 << 20, 1000000)]
IDS = ["%s-microvm-8MiB" % KVM, "tcg-microvm-1MiB", "tcg-q35-1MiB"]

TCP_ECHO = textwrap.dedent("""
    import hashlib, socket, sys, threading, time
    host, size = sys.argv[1], int(sys.argv[2])
    data = hashlib.shake_256(b"ethox-uk image tcp echo").digest(size)
    s = socket.create_connection((host, 7), timeout=30)
    s.settimeout(60)
    err = []
    def send():
        try:
            s.sendall(data)
        except Exception as e:
            err.append(e)
    t0 = time.monotonic()
    th = threading.Thread(target=send)
    th.start()
    h = hashlib.sha256()
    got = 0
    while got < size:
        b = s.recv(262144)
        if not b:
            break
        h.update(b)
        got += len(b)
    dt = time.monotonic() - t0
    th.join(60)
    s.close()
    assert not err, err
    assert got == size, (got, size)
    assert h.hexdigest() == hashlib.sha256(data).hexdigest()
    print("echo %d %.3f" % (got, dt))
""")


def pattern_sha(n):
    return hashlib.sha256((bytes(range(256)) * (n // 256 + 1))[:n]).hexdigest()


@pytest.fixture(scope="module")
def image():
    return image_mod.build("images/echo", output=os.path.join(REPO, "build", "test-tcp",
                                                              "echo.elf"), quiet=True)


class Booted:
    def __init__(self, image, accel, machine):
        if os.geteuid() != 0:
            pytest.fail("this test needs root (network namespaces, /dev/net/tun); CI runs as "
                        "root")
        self.dir = tempfile.mkdtemp(prefix="exi", dir="/tmp")  # sun_path: keep it short
        self.local, self.remote = os.path.join(self.dir, "g"), os.path.join(self.dir, "p")
        spec = "dgram:%s,%s" % (self.local, self.remote)
        self.kp = self.vm = None
        try:
            self.kp = KernelPeer(spec, limit=600)
            self.vm = Vm(elfinfo.check(image), VmOptions(accel, machine),
                         NetOpts(parse_spec(spec)), console="socket", notice=False)
            self.vm.start()
            self.con = Console(self.vm.console)
            self.seen = bytearray()
            dl = time.monotonic() + BOOT_TIMEOUT
            while not READY.search(self.seen):
                if time.monotonic() > dl or self.con.eof:
                    raise AssertionError("no ready line within %gs (%s/%s); console: %r"
                                         % (BOOT_TIMEOUT, accel, machine, bytes(self.seen)))
                self.seen += self.con.read(0.5)
        except BaseException:
            self.close()
            raise

    def run(self, argv, timeout):
        r = self.kp.run(argv, timeout=timeout)
        assert r.returncode == 0, "client failed (%d):\n%s\n%s\nrelay %s\nconsole %r" % (
            r.returncode, r.stdout, r.stderr, self.kp.relay.stats(), bytes(self.seen[-500:]))
        return r.stdout

    def close(self):
        try:
            if self.vm is not None:
                self.seen += self.con.read(0) if self.vm.console else b""
                self.vm.close()
        finally:
            try:
                if self.kp is not None:
                    self.kp.close()
            finally:
                shutil.rmtree(self.dir, ignore_errors=True)


@pytest.mark.parametrize("accel,machine,echo_size,http_size", CONFIGS, ids=IDS)
def test_kernel_tcp_against_the_image(image, accel, machine, echo_size, http_size):
    b = Booted(image, accel, machine)
    try:
        out = b.run([sys.executable, "-c", TCP_ECHO, GUEST, str(echo_size)], timeout=300)
        got, dt = out.split()[1:3]
        print("\n[%s/%s] TCP echo %d bytes: %.2f s, %.1f Mbit/s each way"
              % (accel, machine, int(got), float(dt), int(got) * 8 / float(dt) / 1e6))

        path = os.path.join(b.dir, "body")
        t0 = time.monotonic()
        b.run(["curl", "-sS", "-m", "240", "-o", path, "-w", "%{size_download}",
               "http://%s/bytes/%d" % (GUEST, http_size)], timeout=300)
        dt = time.monotonic() - t0
        assert os.path.getsize(path) == http_size
        with open(path, "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == pattern_sha(http_size)
        print("[%s/%s] GET /bytes/%d: %.2f s, %.1f Mbit/s"
              % (accel, machine, http_size, dt, http_size * 8 / dt / 1e6))
        stats = b.kp.relay.stats()
        assert stats["sock_error"] == 0 and stats["tap_error"] == 0, stats
    finally:
        ns = b.kp.name
        b.close()
    assert ns not in list_namespaces(), "namespace %s left behind" % ns
    assert not os.path.exists(b.local) and not os.path.exists(b.remote)
    assert b"internal error" not in b.seen, bytes(b.seen)
