"""Two booted echo images against each other (issue 11 item 6): a datagram from one
image's UDP echo port to the other's used to bounce between them for ever (each echo
answered the other's echo). The images are joined directly by their dgram sockets (no host
network involved); code runs in each through `ethox-uk exec --attach` on its console socket.
"""

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ethox_uk.qemu import kvm

REPO = Path(__file__).resolve().parents[2]
KVM = "kvm" if kvm.usable() else "tcg"
T_BOOT = 60


def eu(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "ethox_uk.cli"] + [str(a) for a in args],
                          cwd=REPO, capture_output=True, timeout=timeout)


@pytest.fixture(scope="module")
def image():
    r = eu("build", "-q", timeout=900)
    assert r.returncode == 0, r.stderr.decode()[-4000:]
    return REPO / "build" / "echo.elf"


@pytest.fixture
def sockdir():
    d = Path(tempfile.mkdtemp(prefix="euh", dir="/tmp"))  # short: sun_path < 100 bytes
    yield d
    shutil.rmtree(d, ignore_errors=True)


def boot(image, d, name, local, remote, ip, mac):
    con = d / ("c" + name)
    p = subprocess.Popen([sys.executable, "-m", "ethox_uk.cli", "run", str(image),
                          "--net", "dgram:%s,%s" % (d / local, d / remote), "--ip", ip,
                          "--mac", mac, "--serial", "unix:%s" % con, "--accel", KVM],
                         cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    return p, "unix:%s" % con, con


def run_in(attach, code):
    r = eu("exec", "--attach", attach, code)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


def counts(attach):
    out = run_in(attach, "c = net.counters\nprint(c['udp_rx'], c['udp_tx'], "
                         "c['udp_echo_refused'], c['internal_error'])")
    return [int(x) for x in out.split()]


def test_udp_echo_loop_between_two_images_is_gone(image, sockdir):
    a = boot(image, sockdir, "a", "a", "b", "10.0.2.15/24", "52:54:00:12:34:56")
    b = boot(image, sockdir, "b", "b", "a", "10.0.2.16/24", "52:54:00:12:34:57")
    try:
        end = time.monotonic() + T_BOOT
        for p, _, con in (a, b):
            while not con.exists():
                assert time.monotonic() < end and p.poll() is None, p.stderr.read()
                time.sleep(0.05)
        time.sleep(0.5)  # let the guests reach their REPLs
        # A sends from its own echo port 7 to B's: before, B echoed to A:7, A echoed
        # that back to B:7, ... for ever
        run_in(a[1], "net.udp.send(bytes((10, 0, 2, 16)), 7, 7, b'bounce?', net.now)")
        time.sleep(2)
        rx_b, tx_b, refused_b, err_b = counts(b[1])
        rx_a, tx_a, refused_a, err_a = counts(a[1])
        assert (rx_b, tx_b, refused_b) == (1, 0, 1), (rx_b, tx_b, refused_b)
        assert (rx_a, tx_a) == (0, 1), (rx_a, tx_a)
        # an ordinary client port is still answered
        run_in(a[1], "got = []\n"
                     "net.udp.bind(40000, lambda v, o, n, s, p, t: got.append(bytes(v[o:o + n])))\n"
                     "net.udp.send(bytes((10, 0, 2, 16)), 7, 40000, b'hello', net.now)")
        time.sleep(1)
        assert run_in(a[1], "print(got)").strip() == "[b'hello']"
        assert err_a == 0 and err_b == 0
        assert a[0].poll() is None and b[0].poll() is None
    finally:
        for p, attach, _ in (a, b):
            if p.poll() is None:
                eu("exec", "--attach", attach, "import sys; sys.exit(0)", timeout=30)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
