"""The echo image on QEMU's real virtio-net, over `-netdev dgram` unix sockets, checked with scapy.

Every configuration boots the same image: KVM on microvm (TCG when /dev/kvm is unusable: never
skipped), TCG on microvm and TCG on q35 (virtio-pci). Per configuration: the ready line, an ARP
reply, 100 pings with identical payloads, UDP echo of several sizes, no internal error in the
guest and the driver's register accesses (kicks + interrupt acknowledgements) bounded by the
frames moved. Without a network device the image says so and exits with status 3.

The image: `ethox-uk build`'s own pipeline once its generated boot.py starts the network through
ethox_uk.guest; until then this test freezes the same modules itself (image.frozen_entries plus
ethox_uk/guest.py) with the boot.py the pipeline is to generate, and runs `make -C vm`.
No timing is asserted; every wait is bounded.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from ethox_uk.build import image as image_mod
from ethox_uk.host.dgram_peer import PEER_IP, PEER_MAC, DgramPeer
from ethox_uk.qemu import kvm
from ethox_uk.qemu.cmdline import SANDBOX
from ethox_uk.qemu.vm import Console

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / "build" / "test-virtio"
GUEST_MAC = "52:54:00:12:34:56"
GUEST_IP = "10.0.2.15"
# up to the newline: the serial line may arrive in pieces (ip6= after mac=)
READY = re.compile(rb"^ethox-uk: ready ip=\d+(\.\d+){3} mac=[0-9a-f]{2}(:[0-9a-f]{2}){5}( \S+=\S+)*\r?\n", re.M)
BOOT_TIMEOUT = 30.0  # TCG on a loaded 2-core host, q35 through SeaBIOS

KVM = "kvm" if kvm.usable() else "tcg"
CONFIGS = [(KVM, "microvm"), ("tcg", "microvm"), ("tcg", "q35")]
IDS = ["%s-microvm" % KVM, "tcg-microvm", "tcg-q35"]


@pytest.fixture(scope="module")
def image():
    return image_mod.build("images/echo", output=WORK / "echo.elf", quiet=True)


def qemu_argv(elf, accel, machine, local=None, remote=None):
    """DESIGN §5's canonical line (q35: virtio-net-pci, disable-legacy=on)."""
    argv = [shutil.which("qemu-system-x86_64") or "qemu-system-x86_64",
            "-sandbox", SANDBOX, "-M", "microvm,acpi=off" if machine == "microvm" else machine,
            "-accel", accel, "-m", "64M", "-nodefaults", "-no-user-config", "-nographic",
            "-no-reboot", "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    if machine == "microvm":
        argv += ["-global", "virtio-mmio.force-legacy=false"]
    argv += ["-kernel", str(elf), "-append", "ip=%s/24 gw=%s" % (GUEST_IP, PEER_IP)]
    if local:
        argv += ["-netdev", "dgram,id=n0,local.type=unix,local.path=%s,remote.type=unix,"
                 "remote.path=%s" % (local, remote)]
        dev = "virtio-net-device" if machine == "microvm" else "virtio-net-pci,disable-legacy=on"
        argv += ["-device", "%s,netdev=n0,mac=%s" % (dev, GUEST_MAC)]
    return argv


class Vm:
    """One QEMU on the line above (written out here, not taken from qemu/cmdline.py), its
    console on our pipes through qemu/vm.py's Console."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.con = Console(self.proc.stdout, self.proc.stdin, keep=True)
        self.seen = self.con.seen

    def wait_for(self, pattern, timeout=BOOT_TIMEOUT):
        if self.con.wait_for(pattern, timeout) is None:
            raise AssertionError("no %r within %gs (QEMU status %r); console: %r"
                                 % (pattern.pattern, timeout, self.proc.poll(),
                                    bytes(self.seen)))
        return pattern.search(self.seen)

    def run(self, line, marker, timeout=15.0):
        """Type one line at the REPL; the text after `marker` up to the end of that line."""
        start = len(self.seen)
        self.con.write(line.encode() + b"\r")
        pat = re.compile(re.escape(marker.encode()) + rb"(.*)\r?\n")
        deadline = time.monotonic() + timeout
        while True:
            m = pat.search(self.seen, start)
            if m and not self.seen[start:m.start()].endswith(b"print('"):
                return m.group(1).decode(errors="replace").strip()
            left = deadline - time.monotonic()
            if left <= 0 or self.con.eof:
                raise AssertionError("no answer to %r; console: %r" % (line, bytes(self.seen)))
            self.con.read(min(left, 0.5))

    def exit_status(self, timeout=BOOT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.con.read(0.2)
        while self.con.read(0):
            pass
        return self.proc.poll()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.con.close()


@pytest.fixture
def sockdir():
    d = tempfile.mkdtemp(prefix="evt-", dir="/tmp")  # sun_path: keep it short
    yield d
    shutil.rmtree(d, ignore_errors=True)


def ether():
    from scapy.layers.l2 import Ether

    return Ether(dst=GUEST_MAC, src=PEER_MAC)


@pytest.mark.parametrize("accel,machine", CONFIGS, ids=IDS)
def test_echo_image_answers_arp_ping_and_udp(image, sockdir, accel, machine):
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.l2 import ARP, Ether

    local, remote = os.path.join(sockdir, "g.sock"), os.path.join(sockdir, "p.sock")
    peer = DgramPeer("dgram:%s,%s" % (local, remote))
    vm = Vm(qemu_argv(image, accel, machine, local, remote))
    try:
        m = vm.wait_for(READY)
        assert m.group(0).strip() == ("ethox-uk: ready ip=%s mac=%s ip6=fe80::5054:ff:fe12:3456/64"
                                      % (GUEST_IP, GUEST_MAC)).encode()

        peer.send(Ether(dst="ff:ff:ff:ff:ff:ff", src=PEER_MAC)
                  / ARP(op=1, hwsrc=PEER_MAC, psrc=PEER_IP, pdst=GUEST_IP))
        r = peer.expect(lambda p: ARP in p and p[ARP].op == 2, timeout=10)
        assert r is not None, "no ARP reply; console: %r" % bytes(vm.seen)
        assert r[ARP].hwsrc == GUEST_MAC and r[ARP].psrc == GUEST_IP
        assert r[ARP].hwdst == PEER_MAC and r[ARP].pdst == PEER_IP

        payload = bytes(range(56))
        for seq in range(100):
            peer.send(ether() / IP(src=PEER_IP, dst=GUEST_IP) / ICMP(id=0x4242, seq=seq) / payload)
            r = peer.expect(lambda p, s=seq: ICMP in p and p[ICMP].type == 0 and p[ICMP].seq == s,
                            timeout=5)
            assert r is not None, "no reply to ping %d; console: %r" % (seq, bytes(vm.seen))
            assert r[ICMP].id == 0x4242 and r[ICMP].load == payload
            assert r[IP].src == GUEST_IP and r[IP].dst == PEER_IP and r.dst == PEER_MAC

        for n, size in enumerate((1, 18, 512, 1472)):
            data = bytes((n + k) & 255 for k in range(size))
            peer.send(ether() / IP(src=PEER_IP, dst=GUEST_IP) / UDP(sport=40000 + n, dport=7) / data)
            r = peer.expect(lambda p, s=40000 + n: UDP in p and p[UDP].dport == s, timeout=5)
            assert r is not None, "no UDP echo of %d bytes" % size
            assert r[UDP].sport == 7 and r[UDP].len == 8 + size
            assert bytes(r[UDP].payload)[:size] == data

        # a burst: no reply lost
        for k in range(64):
            peer.send(ether() / IP(src=PEER_IP, dst=GUEST_IP) / UDP(sport=41000, dport=7)
                      / (b"b%d" % k))
        got = 0
        while got < 64 and peer.expect(lambda p: UDP in p and p[UDP].dport == 41000, timeout=5):
            got += 1
        assert got == 64

        st = vm.run("print('ST', net.counters.c['internal_error'], net.nic.rx_frames, "
                    "net.nic.tx_frames, net.nic.tx_kicks + net.nic.irq_acks + net.nic.rx_kicks)",
                    "ST ")
        errors, rx, tx, regs = (int(x) for x in st.split())
        assert errors == 0
        assert rx >= 1 + 100 + 4 + 64 and tx >= rx - 1
        # ping-pong wakes the guest for each frame (one acknowledgement, one kick);
        # never more than that, whatever the load
        assert regs <= 2 * rx + 2, (regs, rx)
    finally:
        vm.stop()
        peer.close()


@pytest.mark.parametrize("accel,machine", CONFIGS[:1], ids=IDS[:1])
def test_no_device_is_a_clear_message_and_status_3(image, accel, machine):
    vm = Vm(qemu_argv(image, accel, machine))
    try:
        rc = vm.exit_status()
        assert rc == 33 + 2 * 3, (rc, bytes(vm.seen))  # isa-debug-exit 0x10 + 3
        assert b"no virtio-net device found" in vm.seen
        assert b"ethox-uk: ready" not in vm.seen
    finally:
        vm.stop()
