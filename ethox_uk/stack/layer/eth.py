# The Ethernet layer: validates a received frame's header, keeps what is
# addressed to us (our MAC or broadcast), dispatches by EtherType, and turns an
# upper layer's in-place answer into a frame (header + padding). Sending fills
# the header, pads and hands the frame to the NIC.
#
# Works on the NIC's buffer in place with fixed offsets (header at 0, payload
# at 14) and allocates nothing. Siblings (arp, ip) are looked up through
# self.stack at call time: they are created after this layer.
from ..compat import const, micropython
from ..wire import ethernet as _eth

_HEADER_LEN = const(14)
_MIN_FRAME = const(60)
_TYPE_IPV4 = const(0x0800)
_TYPE_ARP = const(0x0806)
_TYPE_IPV6 = const(0x86DD)


class EthLayer:
    def __init__(self, stack):
        self.stack = stack
        self.c = stack.counters.c

    @micropython.native
    def receive(self, view, length, now):
        """Handle one received frame; returns the in-place reply's length or 0.
        (Every frame comes through here: the checks and the reply's header are
        written out rather than called, a few microseconds a frame under TCG.)"""
        stack = self.stack
        if length < _HEADER_LEN:
            self.c["eth_truncated"] += 1
            return 0
        mac = stack.mac
        if view[0] & 1:
            # group address: broadcast is ours, and IPv6 multicast (33:33, RFC
            # 2464 §7: the IPv6 layer checks the group); any other is not
            if (view[0] & view[1] & view[2] & view[3] & view[4] & view[5]) != 0xFF and not (
                    view[0] == 0x33 and view[1] == 0x33 and stack.ip6 is not None):
                self.c["eth_not_for_us"] += 1
                return 0
        elif not (view[5] == mac[5] and view[4] == mac[4] and view[3] == mac[3]
                  and view[2] == mac[2] and view[1] == mac[1] and view[0] == mac[0]):
            self.c["eth_not_for_us"] += 1
            return 0
        if view[6] & 1:
            # a group address is never a sender; answering it would broadcast
            self.c["eth_bad_source"] += 1
            return 0
        t = (view[12] << 8) | view[13]
        if t == _TYPE_IPV4:
            n = stack.ip.receive(view, length, now)
        elif t == _TYPE_ARP:
            n = stack.arp.receive(view, length, now)
        elif t == _TYPE_IPV6 and stack.ip6 is not None:
            n = stack.ip6.receive(view, length, now)
        else:
            self.c["eth_unknown_type"] += 1
            return 0
        if n <= 0:
            return 0
        # in-place reply: the upper layer wrote from offset 14 (and may have
        # set the EtherType); address it back to the sender
        view[0] = view[6]
        view[1] = view[7]
        view[2] = view[8]
        view[3] = view[9]
        view[4] = view[10]
        view[5] = view[11]
        view[6] = mac[0]
        view[7] = mac[1]
        view[8] = mac[2]
        view[9] = mac[3]
        view[10] = mac[4]
        view[11] = mac[5]
        if n < _MIN_FRAME:
            n = _eth.pad(view, n)
        return n

    def send(self, view, length, dst_mac, ethertype):
        """Fill the header of the frame in `view` (a tx buffer), pad, transmit."""
        stack = self.stack
        _eth.fill_header(view, dst_mac, stack.mac, ethertype)
        if length < _MIN_FRAME:
            length = _eth.pad(view, length)
        stack.nic.send(view, length)
        stack.counters.c["tx_frames"] += 1
        return length

    def poll(self, now):
        pass

    def next_timeout(self, now):
        return -1
