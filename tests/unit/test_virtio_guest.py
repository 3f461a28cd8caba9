# The image's start-up (ethox_uk/guest.py) on the simulated machine: exit
# statuses for a missing or unusable device, the ready line, and the poll hook
# serving ARP, ICMP echo and UDP echo through the real stack and driver.
from support import (BCAST_MAC, OUR_IP, OUR_MAC, PEER_IP, PEER_MAC, arp_body, echo_req,
                     eth_frame, frame_in, ipv4_pkt, udp_dgram)

from ethox_uk import guest
from virtio import sim
from virtio.net import VirtioNet

READY = "ethox-uk: ready ip=10.0.2.15 mac=52:54:00:12:34:56 ip6=fe80::5054:ff:fe12:3456/64"
READY_V4 = "ethox-uk: ready ip=10.0.2.15 mac=52:54:00:12:34:56"


class App:
    def __init__(self, fail=None, exit_with=None, poller_fail=False):
        self.net = None
        self.fail = fail
        self.exit_with = exit_with
        self.poller_fail = poller_fail

    def main(self, net):
        self.net = net
        if self.fail is not None:
            raise self.fail
        if self.exit_with is not None:
            raise SystemExit(self.exit_with)
        net.udp.bind(7, lambda view, off, n, src, sport, now: n)
        if self.poller_fail:
            net.add_poller(self.poll)

    def poll(self, now):
        raise ValueError("poller broke")


def boot(app=None, bus=None, dev=None):
    if bus is None:
        bus, dev = sim.mmio_machine()
    lines = []
    app = app or App()
    try:
        net = guest.start(app, bus=bus, log=lines.append)
    except sim.SimExit:
        net = None
    return bus, dev, net, lines, app


def test_start_brings_up_stack_app_ready_line_and_hook():
    bus, dev, net, lines, app = boot()
    assert net is not None and app.net is net
    assert isinstance(net.nic, VirtioNet)
    assert lines == [READY]
    assert bus.hook is not None and bus.exits == []
    from ethox_uk.stack import socket

    assert socket.current_stack() is net


def test_the_device_mac_wins_over_the_boot_word():
    bus, dev = sim.mmio_machine(mac=b"\x52\x54\x00\xab\xcd\xef")
    bus.cmdline_text += " mac=52:54:00:00:00:01"
    bus, dev, net, lines, app = boot(bus=bus, dev=dev)
    assert lines == ["ethox-uk: ready ip=10.0.2.15 mac=52:54:00:ab:cd:ef "
                     "ip6=fe80::5054:ff:feab:cdef/64"]


def test_ip6_words_set_the_ready_line():
    for words, tail in ((" ip6=off", ""), (" ip6=2001:db8::15/64", " ip6=2001:db8::15/64"),
                        (" ip6=auto gw6=fe80::1", " ip6=fe80::5054:ff:fe12:3456/64")):
        bus, dev = sim.mmio_machine()
        bus.cmdline_text += words
        bus, dev, net, lines, app = boot(bus=bus, dev=dev)
        assert lines == [READY_V4 + tail], lines
    bus, dev = sim.mmio_machine()
    bus.cmdline_text += " ip6=2001:db8::1::2"
    bus, dev, net, lines, app = boot(bus=bus, dev=dev)
    assert bus.exits == [guest.EXIT_BAD_WORDS] and "ip6=2001:db8::1::2" in lines[0], lines


def v4_machine():
    """The simulated machine booting with ip6=off (tests that count IPv4 frames)."""
    bus, dev = sim.mmio_machine()
    bus.cmdline_text += " ip6=off"
    return bus, dev


def test_no_device_exits_3_with_a_clear_message():
    bus = sim.SimBus()
    sim.SimPciHost(bus)
    bus.cmdline_text = sim.BOOT_WORDS
    bus, dev, net, lines, app = boot(bus=bus)
    assert bus.exits == [guest.EXIT_NO_DEVICE] == [3]
    assert "no virtio-net device found" in lines[0] and "virtio-net-device" in lines[0]
    assert app.net is None


def test_refused_features_exit_4():
    bus, dev = sim.mmio_machine(refuse=True)
    bus, dev, net, lines, app = boot(bus=bus, dev=dev)
    assert bus.exits == [guest.EXIT_DEVICE_UNUSABLE] == [4]
    assert "refused" in lines[0]


def test_bad_boot_words_exit_2():
    bus, dev = sim.mmio_machine()
    bus.cmdline_text = "ip=300.1.1.1/24 " + bus.cmdline_text.split(" ", 2)[2]
    bus, dev, net, lines, app = boot(bus=bus, dev=dev)
    assert bus.exits == [2]
    assert "bad boot words" in lines[0]


def test_app_exceptions_and_sys_exit_become_statuses():
    bus, dev, net, lines, app = boot(App(fail=ValueError("boom")))
    assert bus.exits == [1] and "boom" in lines[0]
    bus, dev, net, lines, app = boot(App(exit_with=7))
    assert bus.exits == [7]
    bus, dev, net, lines, app = boot(object())
    assert bus.exits == [1] and "main(net)" in lines[0]


def test_a_failing_poller_exits_1_from_the_hook():
    bus, dev, net, lines, app = boot(App(poller_fail=True))
    # start() runs the hook once (frames queued during boot): the poller fails there
    assert bus.exits == [1] and "poller broke" in lines[-1]
    assert lines[0] == READY


def test_the_hook_serves_arp_ping_and_udp_echo():
    bus, dev = v4_machine()
    bus, dev, net, lines, app = boot(bus=bus, dev=dev)
    body = arp_body(1, PEER_MAC, PEER_IP, b"\x00" * 6, OUR_IP)
    dev.deliver(eth_frame(BCAST_MAC, PEER_MAC, 0x0806, body))
    payload = b"\x42" * 56
    dev.deliver(frame_in(ipv4_pkt(PEER_IP, OUR_IP, 1, echo_req(7, 1, payload))))
    dev.deliver(frame_in(ipv4_pkt(PEER_IP, OUR_IP, 17,
                                  udp_dgram(PEER_IP, OUR_IP, 5555, 7, b"hello"))))
    r = bus.hook()
    out = dev.take_sent()
    assert len(out) == 3
    arp, ping, udp = out
    assert arp[12:14] == b"\x08\x06" and arp[21] == 2 and arp[22:28] == OUR_MAC
    assert ping[0:6] == PEER_MAC and ping[23] == 1 and ping[34] == 0
    assert ping[42:42 + 56] == payload
    assert udp[23] == 17 and udp[42:47] == b"hello"
    assert net.counters.c["internal_error"] == 0
    assert r == -1 or r > 0  # idle afterwards: the hook lets the CPU halt
    assert dev.notifies[1] == 1  # three replies, one kick


def test_the_hook_keeps_polling_while_frames_wait_and_halts_when_idle():
    bus, dev = v4_machine()
    bus, dev, net, lines, app = boot(bus=bus, dev=dev)
    for i in range(40):  # more than one poll round's budget (32)
        dev.deliver(frame_in(ipv4_pkt(PEER_IP, OUR_IP, 17,
                                      udp_dgram(PEER_IP, OUR_IP, 5555, 7, b"x%d" % i))))
    assert bus.hook() == 0  # frames left: do not halt
    assert bus.hook() == -1  # all served, no timer, no poller: halt until a frame
    assert len(dev.take_sent()) == 40
    # a blocking socket call waits through nic.wait -> bus.idle (hook, then halt)
    net.nic.wait(5)
    assert bus.halts == [5]


def test_q35_boot_puts_the_ready_line_on_a_line_of_its_own():
    bus, dev, host, fn = sim.pci_machine()
    bus, dev, net, lines, app = boot(bus=bus, dev=dev)
    assert lines == ["", READY]  # after SeaBIOS's "Booting from ROM.." (no newline)
    assert net.nic.t.kind == "pci" and bus.exits == []


def test_reload_starts_the_app_again_on_a_new_stack_over_the_same_device():
    import sys

    bus, dev, net, lines, app = boot()
    sys.modules["user_helper_mod"] = sys  # stands for a module the app imported
    old_hook = bus.hook
    new = guest.reload()
    assert new is not net and new.nic is net.nic and app.net is new
    assert lines == [READY, READY]  # ready again once the app is up
    assert bus.hook is not old_hook
    assert "user_helper_mod" not in sys.modules  # imported afresh next time
    assert "ethox_uk.guest" in sys.modules  # the image's own stay
    from ethox_uk.stack import socket

    assert socket.current_stack() is new
    # the new stack serves (its app bound UDP echo again)
    body = arp_body(1, PEER_MAC, PEER_IP, b"\x00" * 6, OUR_IP)
    dev.deliver(eth_frame(BCAST_MAC, PEER_MAC, 0x0806, body))
    dev.deliver(frame_in(ipv4_pkt(PEER_IP, OUR_IP, 17,
                                  udp_dgram(PEER_IP, OUR_IP, 5555, 7, b"again"))))
    bus.hook()
    out = [f for f in dev.take_sent() if f[12:14] != b"\x86\xdd"]  # (IPv6's own aside)
    assert len(out) == 2 and out[1][42:47] == b"again"
    assert new.counters.c["internal_error"] == 0


def test_an_image_without_ipv6_or_dhcp_turns_ipv6_off_and_refuses_words_asking_for_them():
    from ethox_uk.stack.config import Config

    real = guest._has
    guest._has = lambda m: False  # as in an image whose recipe's features are []
    try:
        c = Config.from_words("ip=10.0.2.15/24")
        assert c.ip6_mode == "auto" and guest._missing_feature(c) is None
        assert c.ip6_mode == "off"  # IPv6 left off quietly: nobody asked for it
        msg = guest._missing_feature(Config.from_words("ip6=fd00::5/64"))
        assert "no IPv6" in msg and "ip6=off" in msg
        msg = guest._missing_feature(Config.from_words("ip=dhcp ip6=off"))
        assert "no DHCP client" in msg and "static ip=" in msg
    finally:
        guest._has = real
    assert guest._missing_feature(Config.from_words("ip=dhcp ip6=fd00::5/64")) is None
