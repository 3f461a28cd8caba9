# Helpers shared by tests/unit (MicroPython-compatible: these tests also run under
# the MicroPython unix port through tests/mprun.py; no pytest imports here).
import sys

MICROPYTHON = sys.implementation.name == "micropython"


def raises(exc, fn, *args, **kw):
    """Call fn(*args, **kw) and assert it raises exc (pytest.raises is not available)."""
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("%s not raised by %r" % (exc.__name__, fn))


# -- Ethernet/ARP helpers (frame builders, a stub stack for eth+arp tests) -----
def mac(text):
    """b'...' for 'xx:xx:xx:xx:xx:xx' (group addresses allowed, unlike parse_mac)."""
    parts = text.split(":")
    assert len(parts) == 6, text
    return bytes([int(p, 16) for p in parts])


def ip4(text):
    from ethox_uk.stack.config import parse_ip

    return parse_ip(text)


BCAST_MAC = b"\xff\xff\xff\xff\xff\xff"


def eth_frame(dst, src, ethertype, payload=b""):
    """An Ethernet II frame as bytes (no padding, no FCS)."""
    return bytes(dst) + bytes(src) + bytes(((ethertype >> 8) & 255, ethertype & 255)) + bytes(payload)


def arp_body(op, sha, spa, tha, tpa, htype=1, ptype=0x0800, hlen=6, plen=4):
    """The 28-byte ARP packet (fields overridable to build malformed ones)."""
    head = bytes(((htype >> 8) & 255, htype & 255, (ptype >> 8) & 255, ptype & 255,
                  hlen, plen, (op >> 8) & 255, op & 255))
    return head + bytes(sha) + bytes(spa) + bytes(tha) + bytes(tpa)


def pair_release(end, view):
    """Hand an unsent tx buffer back to a pair end (stands in for Nic.release)."""
    bufs = end._tx_bufs
    for i in range(len(bufs)):
        if bufs[i] is view:
            if i not in end._tx_free:
                end._tx_free.append(i)
            return


def nic_pair(seed=1, loss=0, reorder=0, duplicate=0, corrupt=0):
    """make_pair(), with a release() on each end if the NIC lacks one."""
    from ethox_uk.stack.nic.pair import make_pair

    a, b = make_pair(seed, loss, reorder, duplicate, corrupt)
    for end in (a, b):
        if not hasattr(end, "release"):
            end.release = _releaser(end)
    return a, b


def _releaser(end):
    def release(view):
        pair_release(end, view)

    return release


def tx_free(end):
    """How many tx buffers a pair end has free (to catch leaks)."""
    return len(end._tx_free)


class StubIp:
    """Stands in for the IPv4 layer: records frames; `reply(view, length, now)`
    may answer in place."""

    def __init__(self, stack):
        self.stack = stack
        self.got = []
        self.reply = None

    def receive(self, view, length, now):
        self.got.append(bytes(view[0:length]))
        if self.reply is not None:
            return self.reply(view, length, now)
        return 0

    def poll(self, now):
        pass

    def next_timeout(self, now):
        return -1


class EthArpStack:
    """The slice of Stack the Ethernet and ARP layers use, with a StubIp."""

    def __init__(self, nic, config=None):
        from ethox_uk.stack.config import Config
        from ethox_uk.stack.counters import Counters
        from ethox_uk.stack.layer.arp import ArpLayer
        from ethox_uk.stack.layer.eth import EthLayer

        self.nic = nic
        self.config = config if config is not None else Config()
        self.mac = self.config.mac
        self.ip_addr = self.config.ip
        self.counters = Counters()
        self.now = 0
        self.last_error = None
        self.eth = EthLayer(self)
        self.arp = ArpLayer(self)
        self.ip = StubIp(self)
        self.icmp = None
        self.udp = None
        self.tcp = None
        self._cb = self._on_frame

    def _on_frame(self, view, length):  # as Stack._on_frame
        c = self.counters.c
        c["rx_frames"] += 1
        try:
            n = self.eth.receive(view, length, self.now)
        except Exception as e:
            c["internal_error"] += 1
            self.last_error = e
            return 0
        if n:
            c["tx_frames"] += 1
        return n

    def poll(self, now):
        self.now = now
        n = self.nic.receive(self._cb, 32)
        try:
            self.arp.poll(now)
        except Exception as e:
            self.counters.c["internal_error"] += 1
            self.last_error = e
        self.nic.flush()
        return n

    def rx(self, frame, now):
        """Deliver one frame to the stack and run a poll round at `now`."""
        self.nic.inject(frame)
        return self.poll(now)


def eth_arp_setup(config=None):
    """(stack, peer): an EthArpStack on one end of a NIC pair, the peer end."""
    a, b = nic_pair()
    return EthArpStack(a, config), b
