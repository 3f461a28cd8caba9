# TCP over IPv6 through the same TCP layer (the family in the connection's key,
# pseudo-header and frame template), the socket API with AF_INET6, asyncio
# streams, and the services of images/echo on both families: hand-made
# segments against one stack, then two stacks on a NIC pair.
import support
from support import OUR_MAC, PEER_MAC, csum16, nic_pair, u16
from support6 import (ALL_NODES, OUR_LL, PEER_LL, a6, frame6, icmp6, ip6_of, ipv6_pkt,
                      learn_peer, mcast_mac, pseudo6, rx, settled)

from ethox_uk.stack import aio, services, socket

B_LL = "fe80::5054:ff:fe00:2"


def _seg(src, dst, sport, dport, seq, ack, flags, data=b"", opts=b"", wnd=65535):
    hl = 20 + len(opts)
    t = bytearray(u16(sport) + u16(dport) + u16(seq >> 16) + u16(seq & 0xFFFF)
                  + u16(ack >> 16) + u16(ack & 0xFFFF) + bytes(((hl // 4) << 4, flags))
                  + u16(wnd) + b"\x00\x00\x00\x00" + opts + data)
    c = csum16(pseudo6(src, dst, 6, len(t)) + bytes(t))
    t[16] = c >> 8
    t[17] = c & 255
    return ipv6_pkt(src, dst, 6, t)


def _tcp_of(f):
    p = ip6_of(f)
    assert p[6] == 6
    t = p[40:]
    assert csum16(pseudo6(p[8:24], p[24:40], 6, len(t)) + bytes(t)) == 0, "bad TCP checksum"
    return p, t


def _served():
    s, peer, _ = settled()
    learn_peer(s, peer, 2050)
    services.serve_all(s)
    return s, peer


def test_syn_gets_a_syn_ack_with_the_ipv6_mss():
    s, peer = _served()
    out = rx(s, peer, frame6(_seg(PEER_LL, OUR_LL, 40000, 80, 1000, 0, 0x02,
                                  opts=b"\x02\x04\x05\xa0")), 2100)
    assert len(out) == 1
    p, t = _tcp_of(out[0])
    assert p[8:24] == OUR_LL and p[24:40] == PEER_LL and out[0][0:6] == PEER_MAC
    assert t[13] == 0x12 and t[0:2] == u16(80) and t[2:4] == u16(40000)
    assert t[8:12] == b"\x00\x00\x03\xe9"  # acknowledges the SYN
    assert t[20:24] == b"\x02\x04" + u16(1440)  # 1500 - 40 - 20
    assert s.counters["internal_error"] == 0


def test_closed_port_rst_and_group_destination_dropped():
    s, peer = _served()
    out = rx(s, peer, frame6(_seg(PEER_LL, OUR_LL, 40000, 4444, 5, 0, 0x02)), 2100)
    p, t = _tcp_of(out[0])
    assert t[13] == 0x14 and t[8:12] == b"\x00\x00\x00\x06" and p[8:24] == OUR_LL
    assert rx(s, peer, frame6(_seg(PEER_LL, ALL_NODES, 40000, 80, 5, 0, 0x02),
                              mcast_mac(ALL_NODES)), 2100) == []
    c = s.counters
    assert c["tcp_bad_address"] == 1 and c["tcp_no_listener"] == 1 and c["internal_error"] == 0


def test_bad_checksum_dropped():
    s, peer = _served()
    seg = bytearray(_seg(PEER_LL, OUR_LL, 40000, 80, 1000, 0, 0x02))
    seg[40 + 16] ^= 0x55
    assert rx(s, peer, frame6(bytes(seg)), 2100) == []
    assert s.counters["tcp_bad_checksum"] == 1


def test_a_connection_is_its_local_address_too():
    # the same remote address and ports to our other address is another connection
    s, peer = _served()
    g = a6("2001:db8::15")
    s.ip6.add_address(g, 64, 2100)
    s.poll(5000)
    peer.frames()
    out = rx(s, peer, frame6(_seg(PEER_LL, OUR_LL, 40000, 80, 1000, 0, 0x02)), 5000)
    p, t = _tcp_of(out[0])
    isn = (t[4] << 24) | (t[5] << 16) | (t[6] << 8) | t[7]
    # an ACK for it, sent to the other address, finds no connection: RST
    out = rx(s, peer, frame6(_seg(PEER_LL, g, 40000, 80, 1001, isn + 1, 0x10)), 5000)
    p, t = _tcp_of(out[0])
    assert t[13] & 0x04 and p[8:24] == g
    # to the right address it completes the handshake (no answer needed)
    assert rx(s, peer, frame6(_seg(PEER_LL, OUR_LL, 40000, 80, 1001, isn + 1, 0x10)), 5000) \
        == []
    assert s.counters["internal_error"] == 0 and len(s.tcp.keys()) == 1


def test_packet_too_big_shrinks_the_mss_of_connections_there():
    s, peer = _served()
    out = rx(s, peer, frame6(_seg(PEER_LL, OUR_LL, 40000, 80, 1000, 0, 0x02,
                                  opts=b"\x02\x04\x05\xa0")), 2100)
    p, t = _tcp_of(out[0])
    isn = (t[4] << 24) | (t[5] << 16) | (t[6] << 8) | t[7]
    rx(s, peer, frame6(_seg(PEER_LL, OUR_LL, 40000, 80, 1001, isn + 1, 0x10)), 2100)
    conn = s.tcp.connection(s.tcp.keys()[0])
    assert conn.mss == 1440
    ptb = icmp6(PEER_LL, OUR_LL, 2, 0, u16(0) + u16(1300) + bytes(p[:48]))
    rx(s, peer, frame6(ipv6_pkt(PEER_LL, OUR_LL, 58, ptb)), 2200)
    assert conn.mss == 1300 - 60
    # GET /bytes/3000: every segment fits the path MTU
    req = b"GET /bytes/3000 HTTP/1.1\r\nHost: x\r\n\r\n"
    out = rx(s, peer, frame6(_seg(PEER_LL, OUR_LL, 40000, 80, 1001, isn + 1, 0x18, req)), 2300)
    assert out and all(len(ip6_of(f)) <= 1300 for f in out)
    assert sum(len(_tcp_of(f)[1]) - 20 for f in out) > 1240


def _pair():
    from ethox_uk.stack.config import Config
    from ethox_uk.stack.iface import Stack

    aio.reset()
    na, nb = nic_pair(5)
    A = Stack(na, Config("10.0.2.15/24", None, "52:54:00:12:34:56", ip6="auto"), seed=5)
    B = Stack(nb, Config("10.0.2.2/24", None, "52:54:00:00:00:02", ip6="auto"), seed=6)
    clock = support.SimClock(step=1)

    def idle(ms):
        A.poll(clock.t)
        B.poll(clock.t)

    socket.use(A, clock=clock, idle=idle)
    while clock.t < 2100:
        idle(0)
        clock.t += 5
    return A, B, clock


def test_sockets_over_ipv6_reach_the_echo_services():
    A, B, clock = _pair()
    services.serve_all(B)
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect((B_LL, 80, 0, 0))  # a 4-tuple, as CPython programs write it
    assert s.getpeername() == (B_LL, 80)
    assert s.getsockname()[0] == "fe80::5054:ff:fe12:3456"
    s.sendall(b"GET /bytes/70000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = s.read()
    s.close()
    body = data.split(b"\r\n\r\n", 1)[1]
    assert len(body) == 70000 and body == (bytes(range(256)) * 274)[:70000]
    e = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    e.settimeout(10)
    e.connect((B_LL, 7))
    e.sendall(b"x" * 5000 + b"\n")
    got = b""
    while len(got) < 5001:
        got += e.recv(8192)
    e.close()
    assert got == b"x" * 5000 + b"\n"
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.settimeout(10)
    u.sendto(b"datagram", (B_LL, 7))
    assert u.recvfrom(100) == (b"datagram", (B_LL, 7))
    u.close()
    for S in (A, B):
        assert S.counters["internal_error"] == 0


def test_socket_errors_over_ipv6():
    A, B, clock = _pair()
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    assert support.raises(OSError, s.bind, ("2001:db8::99", 80)).args[0] == 22  # not ours
    assert support.raises(OSError, s.connect, ("1::2::3", 80)).args[0] == 22
    # a global destination with no router: unreachable
    assert support.raises(OSError, s.connect, ("2001:db8::1", 80)).args[0] == 113
    s.close()
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.bind(("", 5555))
    assert u.getsockname() == ("fe80::5054:ff:fe12:3456", 5555)
    u.close()
    assert socket.getaddrinfo("fe80::1%eth0", 80)[0][0] == socket.AF_INET6
    assert socket.getaddrinfo("fe80::1", 80)[0][-1] == ("fe80::1", 80)
    # a name, with no name server configured: the resolver's EAI_AGAIN, saying what to do
    e = support.raises(OSError, socket.getaddrinfo, "example.com", 80)
    assert e.args[0] == -3 and "no name server" in e.args[1]
    # refused: the RST comes back over IPv6
    B.tcp_mux()
    r = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    r.settimeout(5)
    assert support.raises(OSError, r.connect, (B_LL, 4444)).args[0] == socket.ECONNREFUSED


def test_asyncio_streams_over_ipv6():
    A, B, clock = _pair()
    holder = []

    async def echo(reader, writer):
        line = await reader.readline()
        writer.write(line.upper())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def serve():
        holder.append(await aio.start_server(echo, "::", 7000, net=B))

    aio.start(B, serve())
    B.poll(socket.current_stack().clock())
    assert holder

    async def client():
        r, w = await aio.open_connection(B_LL, 7000, net=A)
        peer = w.get_extra_info("peername")
        w.write(b"over six\n")
        await w.drain()
        line = await r.readline()
        w.close()
        await w.wait_closed()
        return peer, line

    peer, line = aio.run(client(), A, timeout_ms=10000)
    assert peer == (B_LL, 7000) and line == b"OVER SIX\n"
    for S in (A, B):
        assert S.counters["internal_error"] == 0
