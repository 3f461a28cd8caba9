"""Soft reset (Ctrl-D at the REPL) of the echo image while a peer floods it with UDP.

The runtime frees the heap at a soft reset; the virtio device must not DMA into the old
receive buffers afterwards. ethox_uk.guest registers "device status = 0" with
_ethox.on_soft_reset when it finds the device, and the runtime performs that write before
the heap is freed. Here: several Ctrl-D under a UDP flood; each time the guest must print
the ready line again, and afterwards answer UDP echo with no internal error. Every wait is
bounded; no timing is asserted.
"""

import os
import re
import threading
import time

import pytest

from test_virtio_image import (GUEST_IP, KVM, READY, Vm, ether, image,  # noqa: F401
                               qemu_argv, sockdir)
from ethox_uk.host.dgram_peer import PEER_IP, DgramPeer

SOFT_REBOOT = re.compile(rb"MPY: soft reboot")
RESETS = 4


class Flood(threading.Thread):
    """UDP to the echo port as fast as the socket takes it, answers read and dropped."""

    def __init__(self, peer, frame):
        super().__init__(daemon=True)
        self.peer, self.frame = peer, frame
        self.stop = threading.Event()
        self.sent = self.got = 0

    def run(self):
        while not self.stop.is_set():
            if self.peer.try_send(self.frame):
                self.sent += 1
            while self.peer.read() is not None:
                self.got += 1
            time.sleep(0.0005)


@pytest.mark.parametrize("accel,machine", [(KVM, "microvm"), ("tcg", "q35")],
                         ids=["%s-microvm" % KVM, "tcg-q35"])
def test_soft_reset_under_udp_flood(image, sockdir, accel, machine):  # noqa: F811
    from scapy.layers.inet import IP, UDP

    local, remote = os.path.join(sockdir, "g.sock"), os.path.join(sockdir, "p.sock")
    peer = DgramPeer("dgram:%s,%s" % (local, remote))
    vm = Vm(qemu_argv(image, accel, machine, local, remote))
    flood = Flood(peer, bytes(ether() / IP(src=PEER_IP, dst=GUEST_IP)
                              / UDP(sport=42000, dport=7) / (b"f" * 512)))
    try:
        vm.wait_for(READY, 60)
        flood.start()
        for n in range(1, RESETS + 1):
            time.sleep(0.2 + 0.1 * n)
            vm.proc.stdin.write(b"\x04")  # Ctrl-D at the friendly REPL: soft reset
            vm.proc.stdin.flush()
            vm.wait_for(re.compile(rb"(?:MPY: soft reboot[\s\S]*?){%d}" % n), 30)
            vm.wait_for(re.compile(rb"(?:^ethox-uk: ready [^\n]*\n[\s\S]*?){%d}" % (n + 1), re.M),
                        60)
        time.sleep(0.3)
        flood.stop.set()
        flood.join(5)
        assert flood.sent > 100 and flood.got > 0, (flood.sent, flood.got)
        peer.drain()
        for k in range(3):
            data = b"after %d" % k
            peer.send(ether() / IP(src=PEER_IP, dst=GUEST_IP) / UDP(sport=43000 + k, dport=7)
                      / data)
            r = peer.expect(lambda p, s=43000 + k: UDP in p and p[UDP].dport == s, timeout=10)
            assert r is not None, "no UDP echo after the soft resets; console: %r" % bytes(vm.seen)
            assert bytes(r[UDP].payload)[:len(data)] == data
        assert vm.run("print('ST', net.counters.c['internal_error'])", "ST ") == "0"
        assert b"Traceback" not in vm.seen and b"fatal" not in vm.seen, bytes(vm.seen)
        assert vm.proc.poll() is None
    finally:
        flood.stop.set()
        vm.stop()
        peer.close()
