"""ethox_uk.netsetup: namespaces with guaranteed cleanup, the tap <-> dgram relay and the
bridge layout. Needs root (CI runs as root): a missing capability fails, it never skips.
Every namespace is created and removed here; nothing touches the root namespace."""

import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.utils import rdpcap

from ethox_uk.host.process import HostProcess, child_env
from ethox_uk.netsetup import (BridgeNet, KernelPeer, NetNS, NetSetupError, Relay,
                               cleanup_stale, list_namespaces)
from ethox_uk.netsetup import netns as netns_mod

ROOT = Path(__file__).resolve().parent.parent
ECHO = str(ROOT / "images" / "echo")
MAC = "52:54:00:12:34:56"


@pytest.fixture(autouse=True)
def _root_only():
    if os.geteuid() != 0:
        pytest.fail("netsetup needs root (network namespaces, /dev/net/tun); CI runs as root")


@pytest.fixture
def sockdir():
    d = tempfile.mkdtemp(prefix="exn", dir="/tmp")
    yield d
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    os.rmdir(d)


def root_addrs():
    return subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True,
                          timeout=10).stdout


def net_ns_id():
    return os.stat("/proc/thread-self/ns/net").st_ino


# -- NetNS ----------------------------------------------------------------------------------

def test_namespace_is_private_unique_and_removed():
    with NetNS() as a, NetNS() as b:
        assert a.name != b.name
        assert a.name.startswith("exuk-%d-" % os.getpid())
        assert {a.name, b.name} <= set(list_namespaces())
        a.ip("link", "add", "d0", "type", "veth", "peer", "name", "d1")
        a.ip("addr", "add", "10.0.2.2/24", "dev", "d0")
        r = a.run(["ip", "-o", "addr"], timeout=10)
        assert r.returncode == 0 and "10.0.2.2/24" in r.stdout and "lo" in r.stdout
        assert "d0" not in b.run(["ip", "-o", "link"], timeout=10).stdout
        assert "10.0.2." not in root_addrs()
    assert a.name not in list_namespaces() and b.name not in list_namespaces()
    assert a.closed and b.closed
    a.close()  # idempotent


def test_namespace_removed_on_exception_and_failed_command_is_clear():
    with pytest.raises(ZeroDivisionError):
        with NetNS() as ns:
            name = ns.name
            1 / 0
    assert name not in list_namespaces()
    with NetNS() as ns:
        with pytest.raises(NetSetupError, match="ip -n %s link set nosuchdev up" % ns.name):
            ns.ip("link", "set", "nosuchdev", "up")


def test_popen_processes_are_killed_on_close():
    ns = NetNS()
    p = ns.popen(["sleep", "30"])
    ns.close()
    assert p.poll() is not None
    assert ns.name not in list_namespaces()


def test_entered_switches_only_the_calling_thread_and_comes_back():
    home = net_ns_id()
    with NetNS() as ns:
        with ns.entered():
            assert net_ns_id() != home
            assert [n for _, n in socket.if_nameindex()] == ["lo"]
            # a socket made here belongs to the namespace: 10.0.2.2 is bindable only here
            ns.ip("link", "add", "d0", "type", "veth", "peer", "name", "d1")
            ns.ip("addr", "add", "10.0.2.2/24", "dev", "d0")
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        assert net_ns_id() == home
        s.bind(("10.0.2.2", 0))
        s.close()
        with pytest.raises(RuntimeError):
            with ns.entered():
                raise RuntimeError("boom")
        assert net_ns_id() == home


def test_sysctl_changes_only_the_namespace():
    root = Path("/proc/sys/net/unix/max_dgram_qlen").read_text().strip()
    with NetNS() as ns:
        assert ns.sysctl("net.unix.max_dgram_qlen", 77) == "77"
        assert ns.sysctl("net.unix.max_dgram_qlen") == "77"
        assert Path("/proc/sys/net/unix/max_dgram_qlen").read_text().strip() == root


CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from ethox_uk.netsetup import NetNS
    ns = NetNS()
    print(ns.name, flush=True)
    if sys.argv[2] == "exit":
        sys.exit(3)      # never closed: the atexit hook removes it
    time.sleep(30)       # until SIGTERM / SIGHUP
""")


@pytest.mark.parametrize("how", ["exit", signal.SIGTERM, signal.SIGHUP])
def test_namespace_removed_when_the_process_exits_or_is_terminated(how):
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(ROOT),
                          "exit" if how == "exit" else "wait"],
                         stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        r, _, _ = select.select([p.stdout], [], [], 20)
        assert r, "child printed no namespace name"
        name = p.stdout.readline().strip()
        assert name.startswith("exuk-%d-" % p.pid)
        if how != "exit":
            assert name in list_namespaces()
            p.send_signal(how)
        status = p.wait(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
        p.stdout.close()
    assert status == (3 if how == "exit" else 128 + how)
    assert name not in list_namespaces()


def test_cleanup_stale_removes_only_namespaces_of_dead_creators():
    p = subprocess.Popen(["true"])
    p.wait(10)
    dead = "exuk-%d-1" % p.pid
    other = "exuk-other-%d" % os.getpid()
    try:
        with NetNS() as mine:
            for n in (dead, other):
                subprocess.run(["ip", "netns", "add", n], check=True, timeout=10)
            removed = cleanup_stale()
            assert dead in removed
            names = list_namespaces()
            assert dead not in names and other in names and mine.name in names
    finally:
        for n in (dead, other):
            subprocess.run(["ip", "netns", "del", n], capture_output=True, timeout=10)
    assert other not in list_namespaces()


def _dead_pid():
    p = subprocess.Popen(["true"])
    p.wait(10)
    return p.pid


def test_a_new_namespace_first_removes_stale_ones_and_what_runs_in_them(capfd):
    """Issue 11 item 13: what a SIGKILLed run left (its namespace, a process inside, like
    the QEMU of a bridge run that lost its parent-death signal to -runas) goes before the
    next namespace is made; a namespace whose pid was reused by a newer process is stale
    too; other names and live creators' namespaces stay."""
    dead = "exuk-%d-1" % _dead_pid()
    live = "exuk-%d-999" % os.getpid()  # ours, not in NetNS's table: its creator runs
    other = "exuk-other-%d" % os.getpid()
    reused = None
    tmp = "exuk-tmp-%d" % os.getpid()
    for n in (dead, live, other):
        subprocess.run(["ip", "netns", "add", n], check=True, timeout=10)
    leftover = subprocess.Popen(["ip", "netns", "exec", dead, "sleep", "300"],
                                start_new_session=True)
    try:
        # a namespace older than the process whose pid its name carries: made first, then
        # given that name by a second bind mount (ip netns names are just mount points)
        subprocess.run(["ip", "netns", "add", tmp], check=True, timeout=10)
        time.sleep(netns_mod.CREATOR_SLACK + 0.5)
        newer = subprocess.Popen(["sleep", "300"])
        reused = "exuk-%d-1" % newer.pid
        open(os.path.join("/run/netns", reused), "w").close()
        subprocess.run(["mount", "--bind", os.path.join("/run/netns", tmp),
                        os.path.join("/run/netns", reused)], check=True, timeout=10)
        subprocess.run(["ip", "netns", "del", tmp], check=True, timeout=10)
        with NetNS() as mine:
            names = list_namespaces()
            assert dead not in names and reused not in names
            assert live in names and other in names and mine.name in names
        assert leftover.wait(10) == -signal.SIGKILL
        assert newer.poll() is None  # the process itself is not ours: untouched
        err = capfd.readouterr().err
        assert "removed network namespace %s left by pid" % dead in err
        assert "ended what ran in it: sleep pid %d" % leftover.pid in err, err
    finally:
        if leftover.poll() is None:
            leftover.kill()
        for n in (dead, live, other, reused, tmp):
            if n:
                subprocess.run(["ip", "netns", "del", n], capture_output=True, timeout=10)
        if reused:
            newer.kill()
            newer.wait(10)


def test_existing_name_is_refused():
    with NetNS() as ns:
        with pytest.raises(NetSetupError, match="already exists"):
            NetNS(ns.name)
        assert ns.name in list_namespaces()  # the refusal did not delete the other one
    assert not netns_mod._live


# -- Relay / KernelPeer ---------------------------------------------------------------------

class FakeStack:
    """Our own end of the dgram spec: binds LOCAL, sends to REMOTE, with scapy frames."""

    def __init__(self, local, remote):
        self.remote = remote
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(local)
        self.s.settimeout(0.2)

    def send(self, pkt):
        self.s.sendto(bytes(pkt), self.remote)

    def expect(self, pred, timeout=5.0, resend=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if resend is not None:
                self.send(resend)
            try:
                f = Ether(self.s.recv(65536))
            except socket.timeout:
                continue
            if pred(f):
                return f
        raise AssertionError("no matching frame within %.1f s" % timeout)

    def close(self):
        self.s.close()


def kernel_round_trip(stack, kp_run, tester="10.0.2.2"):
    """ARP both ways and a UDP datagram from the kernel to the fake stack."""
    r = stack.expect(lambda f: ARP in f and f[ARP].op == 2,
                     resend=Ether(dst="ff:ff:ff:ff:ff:ff", src=MAC)
                     / ARP(op=1, hwsrc=MAC, psrc="10.0.2.15", pdst=tester))
    assert r[ARP].psrc == tester and r.dst == MAC
    kmac = r[ARP].hwsrc
    p = subprocess.Popen(kp_run + [sys.executable, "-c",
                                   "import socket; s = socket.socket(2, 2); "
                                   "s.sendto(b'hello relay', ('10.0.2.15', 4242))"])
    try:
        # the kernel learnt our MAC from our request (RFC 826 merge), so it may or may not
        # ask again: answer a request if one comes, and wait for the datagram
        def udp_or_arp(f):
            if ARP in f and f[ARP].op == 1 and f[ARP].pdst == "10.0.2.15":
                assert f.src == kmac
                stack.send(Ether(dst=kmac, src=MAC) / ARP(op=2, hwsrc=MAC, psrc="10.0.2.15",
                                                           hwdst=kmac, pdst=tester))
                return False
            return UDP in f and f[UDP].dport == 4242
        u = stack.expect(udp_or_arp)
        assert u[IP].src == tester and u.src == kmac and u.dst == MAC
        assert bytes(u[UDP].payload) == b"hello relay"
    finally:
        p.wait(10)
    assert p.returncode == 0


def test_kernel_peer_relays_frames_both_ways(sockdir):
    local, remote = os.path.join(sockdir, "s"), os.path.join(sockdir, "p")
    kp = KernelPeer("dgram:%s,%s" % (local, remote), limit=60)
    try:
        assert os.path.exists(remote)
        addrs = kp.run(["ip", "-o", "addr", "show", "tap0"], timeout=10).stdout
        assert "10.0.2.2/24" in addrs
        assert kp.ns.sysctl("net.ipv6.conf.all.disable_ipv6") == "1"
        stack = FakeStack(local, remote)
        try:
            kernel_round_trip(stack, kp.ns.prefix())
        finally:
            stack.close()
        st = kp.relay.stats()
        assert st["to_stack"] >= 2 and st["to_tap"] >= 1 and st["sock_error"] == 0, st
        assert kp.relay.running()
    finally:
        kp.close()
    assert kp.name not in list_namespaces()
    assert not os.path.exists(remote)
    assert not kp.relay.running()
    assert "10.0.2." not in root_addrs()


ECHO_SERVER = textwrap.dedent("""
    import socket
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("10.0.2.15", 7))
    l.listen()
    l.settimeout(20)
    print("listening", flush=True)
    c, _ = l.accept()
    c.settimeout(20)
    while True:
        b = c.recv(65536)
        if not b:
            break
        c.sendall(b)
    c.close()
""")

ECHO_CLIENT = textwrap.dedent("""
    import hashlib, socket, sys, threading
    data = hashlib.shake_256(b"relay pair").digest(int(sys.argv[1]))
    s = socket.create_connection(("10.0.2.15", 7), timeout=20)
    s.settimeout(20)
    threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)),
                     daemon=True).start()
    h, n = hashlib.sha256(), 0
    while True:
        b = s.recv(65536)
        if not b:
            break
        h.update(b)
        n += len(b)
    print(n, h.hexdigest() == hashlib.sha256(data).hexdigest())
""")


def test_two_kernels_back_to_back_through_two_relays(sockdir):
    """The harness itself, without ethox: kernel TCP <-> relay <-> dgram <-> relay <->
    kernel TCP, 8 MiB each way with sha256 (back-pressure on full unix queues included)."""
    local, remote = os.path.join(sockdir, "s"), os.path.join(sockdir, "p")
    pcap = os.path.join(sockdir, "c.pcap")
    with KernelPeer("dgram:%s,%s" % (local, remote), limit=60) as a, \
            KernelPeer("dgram:%s,%s" % (remote, local), ip="10.0.2.15/24", limit=60,
                       pcap=pcap) as b:
        srv = b.popen([sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE, text=True)
        r, _, _ = select.select([srv.stdout], [], [], 20)
        assert r and srv.stdout.readline() == "listening\n"
        r = a.run([sys.executable, "-c", ECHO_CLIENT, str(8 << 20)], timeout=60)
        assert r.stdout.split() == [str(8 << 20), "True"], r.stderr
        assert srv.wait(10) == 0
        srv.stdout.close()
        deadline = time.monotonic() + 5  # let the last ACKs cross: the path is lossless
        while True:
            sa, sb = a.relay.stats(), b.relay.stats()
            if sa["to_stack"] == sb["to_tap"] and sb["to_stack"] == sa["to_tap"]:
                break
            assert time.monotonic() < deadline, (sa, sb)
            time.sleep(0.05)
    assert sa["to_stack"] > (8 << 20) // 1500, sa
    for st in (sa, sb):
        assert st["sock_error"] == st["tap_error"] == st["oversize"] == 0, st
    frames = rdpcap(pcap)
    sb = b.relay.stats()
    assert len(frames) == sb["to_stack"] + sb["to_tap"]
    assert max(len(f) for f in frames) == 1514


def test_relay_counts_frames_without_a_stack_and_stops_at_its_limit(sockdir):
    local, remote = os.path.join(sockdir, "s"), os.path.join(sockdir, "p")
    with NetNS() as ns:
        with ns.entered():
            from ethox_uk.netsetup import open_tap
            fd = open_tap("tap0")
        ns.ip("addr", "add", "10.0.2.2/24", "dev", "tap0")
        ns.ip("link", "set", "tap0", "up")
        relay = Relay((local, remote), fd).start(limit=1.5)
        t = time.monotonic()
        try:
            ns.run([sys.executable, "-c", "import socket; s = socket.socket(2, 2); "
                    "s.sendto(b'x', ('10.0.2.15', 9))"], timeout=10)
            while relay.running() and time.monotonic() - t < 10:
                time.sleep(0.05)
            assert not relay.running()
            assert 1.4 < time.monotonic() - t < 5
            assert relay.stats()["no_peer"] >= 1  # the kernel's ARP request had nowhere to go
        finally:
            relay.stop()
        assert not os.path.exists(remote)
        with pytest.raises(OSError):
            os.fstat(fd)  # the relay owned and closed the tap


def test_relay_refuses_bad_specs(sockdir):
    with pytest.raises(ValueError, match="dgram"):
        Relay("tap:tap0", -1)
    with pytest.raises(ValueError, match="under 100"):
        Relay(("/tmp/" + "x" * 120, "/tmp/p"), -1)
    path = os.path.join(sockdir, "plain")
    Path(path).write_text("not a socket")
    with pytest.raises(ValueError, match="not a socket"):
        Relay(("/tmp/exn-l", path), -1)


def test_relay_as_a_process_inside_a_namespace(sockdir):
    local, remote = os.path.join(sockdir, "s"), os.path.join(sockdir, "p")
    spec = "dgram:%s,%s" % (local, remote)
    with NetNS() as ns:
        p = ns.popen([sys.executable, "-m", "ethox_uk.netsetup.relay", "--tap", "tap0",
                      "--net", spec, "--limit", "60"], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True, env=child_env())
        try:
            r, _, _ = select.select([p.stdout], [], [], 20)
            assert r and p.stdout.readline().strip() == "relay: ready", p.stderr.read()
            ns.ip("addr", "add", "10.0.2.2/24", "dev", "tap0")
            ns.ip("link", "set", "tap0", "up")
            stack = FakeStack(local, remote)
            try:
                kernel_round_trip(stack, ns.prefix())
            finally:
                stack.close()
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate(timeout=10)
        assert p.returncode == 0, err
        assert out.startswith("relay: stopped to_stack=") and "sock_error=0" in out, out
        assert not os.path.exists(remote)


# -- BridgeNet ------------------------------------------------------------------------------

def test_bridge_layout_serves_a_stack_on_its_tap():
    with BridgeNet() as br:
        name = br.name
        links = br.run(["ip", "-o", "link"], timeout=10).stdout
        for dev in ("br0", "tap0", "veth0", "vbr0"):
            assert dev in links, links
        for dev in ("tap0", "vbr0"):
            assert "master br0" in br.ns.ip("-o", "link", "show", dev).stdout
        assert "master" not in br.ns.ip("-o", "link", "show", "veth0").stdout
        assert "10.0.2.2/24" in br.ns.ip("-o", "addr", "show", "veth0").stdout
        assert "10.0.2." not in root_addrs()
        assert br.qemu_netdev() == "tap,id=n0,ifname=tap0,script=no,downscript=no"
        assert br.qemu_netdev(fd=7) == "tap,id=n0,fd=7"
        assert name in br.describe() and "10.0.2.2/24" in br.describe()
        # the host-mode stack stands in for the guest on the bridge's tap
        h = HostProcess(ECHO, "tap:tap0", prefix=br.prefix()).start()
        try:
            assert h.wait_ready(30) == ("10.0.2.15", MAC)
            br.wait_guest_link()
            r = br.run([sys.executable, "-c", textwrap.dedent("""
                import socket
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.settimeout(3)
                for i in range(20):
                    s.sendto(b"over the bridge %d" % i, ("10.0.2.15", 7))
                    assert s.recvfrom(2048) == (b"over the bridge %d" % i, ("10.0.2.15", 7))
                print("ok")
            """)], timeout=30)
            assert r.stdout == "ok\n", r.stderr
            neigh = br.run(["ip", "neigh", "show", "10.0.2.15"], timeout=10).stdout
            assert MAC in neigh and "veth0" in neigh
        finally:
            status = h.stop()
            _, err = h.communicate()
        assert status == 0, err
    assert name not in list_namespaces()


def test_bridge_tap_fd_for_qemu_brings_the_link_up():
    with BridgeNet() as br:
        fd = br.open_tap()
        try:
            br.wait_guest_link(5)
            assert "LOWER_UP" in br.ns.ip("-o", "link", "show", "tap0").stdout
        finally:
            os.close(fd)
        name = br.name
    assert name not in list_namespaces()
