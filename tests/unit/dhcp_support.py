# A DHCP server played by a test (MicroPython-compatible): reads the client's
# messages from the peer end of a NIC pair and answers with frames built from
# wire/model/dhcp.py's Repr. Simulated time throughout.
import support
from support import PEER_IP, PEER_MAC, BCAST_MAC, ALL_ONES
from ethox_uk.stack.wire.model.dhcp import Repr

OFFERED = b"\x0a\x00\x02\x63"  # 10.0.2.99
MASK24 = b"\xff\xff\xff\x00"
ZERO4 = b"\x00\x00\x00\x00"


def u32b(v):
    return bytes(((v >> 24) & 255, (v >> 16) & 255, (v >> 8) & 255, v & 255))


def dhcp_stack(words="ip=dhcp acd=700", seed=3):
    """(stack, peer): a Stack configured from boot words, not started."""
    from ethox_uk.stack.config import Config
    from ethox_uk.stack.iface import Stack

    a, b = support.nic_pair(seed)
    # IPv6 off: the frame counts here are DHCP's (IPv6 would add its MLD/NDP frames)
    return Stack(a, Config.from_words(words + " ip6=off"), seed=seed), b


def start(stack, now=0, log=None):
    from ethox_uk.stack import dhcp

    return dhcp.start(stack, now, log)


def messages(frames):
    """[(frame, ip bytes, Repr)] of the DHCP messages (UDP 68 -> 67) in frames."""
    return [(f, ip, Repr.parse(payload))
            for f, ip, sport, dport, payload in support.udp_datagrams(frames)
            if sport == 68 and dport == 67]


def arp_frames(frames):
    return [f for f in frames if f[12:14] == b"\x08\x06"]


def reply(req, kind, yiaddr=OFFERED, options=None, lease=3600, server=PEER_IP,
          mask=MASK24, router=PEER_IP, dns=(PEER_IP,), xid=None, chaddr=None,
          dst_ip=ALL_ONES, dst_mac=BCAST_MAC, extra=(), src_ip=None, pad_to=300):
    """The frame of a server's answer (OFFER 2, ACK 5, NAK 6) to Repr req."""
    if options is None:
        options = [(53, bytes((kind,)))]
        if server is not None:
            options.append((54, bytes(server)))
        if kind != 6:
            if lease is not None:
                options.append((51, u32b(lease)))
            if mask is not None:
                options.append((1, bytes(mask)))
            if router is not None:
                options.append((3, bytes(router)))
            if dns:
                options.append((6, b"".join([bytes(d) for d in dns])))
        options += list(extra)
    r = Repr(op=2, xid=req.xid if xid is None else xid,
             chaddr=req.chaddr if chaddr is None else chaddr,
             yiaddr=yiaddr if kind != 6 else ZERO4, options=options)
    body = r.emit(pad_to)
    src = PEER_IP if src_ip is None else src_ip
    udp = support.udp_dgram(src, dst_ip, 67, 68, body)
    return support.frame_in(support.ipv4_pkt(src, dst_ip, 17, udp), dst_mac=dst_mac,
                            src_mac=PEER_MAC)


def run(stack, peer, start_ms, end_ms, step=10, answer_arp=True):
    """Poll the stack from start_ms to end_ms; every frame it sent, with the
    time. The server answers ARP requests for its address (answer_arp)."""
    out = []
    t = start_ms
    while t <= end_ms:
        stack.poll(t)
        for f in peer.frames():
            out.append((t, f))
            if (answer_arp and f[12:14] == b"\x08\x06" and f[21] == 1
                    and f[38:42] == PEER_IP and f[28:32] != b"\x00\x00\x00\x00"):
                body = support.arp_body(2, PEER_MAC, PEER_IP, f[22:28], f[28:32])
                stack.nic.inject(support.eth_frame(f[6:12], PEER_MAC, 0x0806, body))
        t += step
    return out


def deliver(stack, peer, frame, now):
    return support.stack_rx(stack, peer, frame, now)


def bind(stack, peer, now=0, lease=3600, extra=(), mask=MASK24, router=PEER_IP,
         dns=(PEER_IP,)):
    """Run DISCOVER/OFFER/REQUEST/ACK and the address check; returns the time
    the client is bound and the frames it sent after the ACK."""
    c = start(stack, now)
    d = messages(peer.frames())[0][2]
    sent = deliver(stack, peer, reply(d, 2, lease=lease, mask=mask, router=router, dns=dns),
                   now + 5)
    req = messages(sent)[0][2]
    sent = deliver(stack, peer, reply(req, 5, lease=lease, extra=extra, mask=mask,
                                      router=router, dns=dns), now + 10)
    t = now + 10
    after = list(sent)
    while c.state != 4 and t < now + 20000:
        t += 10
        stack.poll(t)
        after += peer.frames()
    assert c.state == 4, c.state_name()
    return t, after
