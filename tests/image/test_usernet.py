"""`--net user` with published ports, rootless: real curl and nc on 127.0.0.1 reach the echo
image's HTTP (TCP 80) and UDP echo (7); two VMs serve at once on their own ports; a taken
port is refused before QEMU starts. KVM on microvm (TCG when /dev/kvm is unusable)."""

import socket
import subprocess
import time

import pytest

from test_pipeline import KVM, READY, REPO, T_BOOT, eu, free_port, read_until, run_eu, stop


@pytest.fixture(scope="module")
def image():
    r = run_eu("build", "-q", timeout=900)
    assert r.returncode == 0, r.stderr.decode()[-4000:]
    return REPO / "build" / "echo.elf"


def boot(image, *publish):
    args = []
    for p in publish:
        args += ["-p", p]
    p = subprocess.Popen(eu() + ["run", str(image), "--accel", KVM] + args, cwd=REPO,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out = read_until(p.stdout, b"\n>>> ", T_BOOT)
    except AssertionError:
        stop(p)
        raise AssertionError(p.stderr.read().decode()[-2000:])
    assert READY.search(out)
    return p


def curl(port, path, timeout=30):
    return subprocess.run(["curl", "-sS", "--max-time", str(timeout),
                           "http://127.0.0.1:%d%s" % (port, path)],
                          capture_output=True, timeout=timeout + 10)


def test_published_tcp_and_udp_reached_by_curl_and_nc(image):
    tcp, udp = free_port(), free_port(socket.SOCK_DGRAM)
    p = boot(image, "%d:80" % tcp, "127.0.0.1:%d:7/udp" % udp)
    try:
        r = curl(tcp, "/bytes/100000")
        assert r.returncode == 0, r.stderr.decode()
        assert r.stdout == (bytes(range(256)) * 400)[:100000]
        got = b""
        for attempt in range(3):  # UDP may lose the first datagram while ARP resolves
            r = subprocess.run(["nc", "-u", "-w", "2", "127.0.0.1", str(udp)],
                               input=b"hello over udp\n", capture_output=True, timeout=20)
            got = r.stdout
            if got:
                break
        assert got == b"hello over udp\n", r.stderr.decode()
        # the guest reaches nothing outside (restrict=on): a connection to the host side fails
        code = ("import socket\ns = socket.socket()\ns.settimeout(3)\nr = 'connected'\n"
                "try:\n    s.connect(('10.0.2.2', %d))\n"
                "except OSError as e:\n    r = 'refused'\n\n"
                "print('=%%s=' %% r)\n" % tcp)
        p.stdin.write(code.replace("\n", "\r").encode())
        p.stdin.flush()
        out = read_until(p.stdout, b"ed=", T_BOOT)
        assert b"=refused=" in out and b"=connected=" not in out
    finally:
        stop(p)


def test_two_vms_at_once_on_their_own_ports(image):
    a, b = free_port(), free_port()
    pa = boot(image, "%d:80" % a)
    try:
        pb = boot(image, "%d:80" % b)
        try:
            for port in (a, b):
                r = curl(port, "/bytes/1000")
                assert r.returncode == 0 and len(r.stdout) == 1000, r.stderr.decode()
        finally:
            stop(pb)
        r = curl(a, "/bytes/10")  # the other one serves on
        assert r.returncode == 0 and r.stdout == bytes(range(10))
        assert curl(b, "/", timeout=3).returncode != 0
    finally:
        stop(pa)


def test_taken_port_refused_before_qemu_starts(image):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        t0 = time.monotonic()
        r = run_eu("run", image, "-p", "%d:80" % port, "--accel", KVM)
        assert r.returncode == 2
        err = r.stderr.decode()
        assert "TCP 127.0.0.1:%d is already in use" % port in err, err
        assert "pick another host port" in err
        assert b"ready" not in r.stdout and b"MicroPython" not in r.stdout
        assert time.monotonic() - t0 < 30
    finally:
        s.close()


def test_sigterm_ends_run_with_its_forwarder_and_ports_released(image):
    udp, tcp = free_port(socket.SOCK_DGRAM), free_port()
    p = boot(image, "%d:7/udp" % udp, "%d:80" % tcp)
    try:
        p.send_signal(15)
        assert p.wait(30) == 130  # as Ctrl-C: QEMU stopped, clean-up done
    finally:
        stop(p)
    from ethox_uk.publish import parse_publish, port_taken

    assert port_taken(parse_publish("%d:7/udp" % udp)) is None
    assert port_taken(parse_publish("%d:80" % tcp)) is None
    leftovers = [l for l in subprocess.run(["pgrep", "-af", "qemu-system"], capture_output=True,
                                           text=True).stdout.splitlines()
                 if "127.0.0.1:%d-" % tcp in l]
    assert not leftovers
