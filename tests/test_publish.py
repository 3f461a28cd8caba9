"""`--net user` and `-p/--publish` without QEMU: parsing, the QEMU line, the taken-port check,
the UDP forwarder's frames (the published ports themselves are reached in
tests/image/test_usernet.py)."""

import socket
import struct

import pytest
from click.testing import CliRunner

from ethox_uk import cli
from ethox_uk.netspec import NetOpts, parse_spec
from ethox_uk.publish import Publish, check_free, check_unique, parse_publish, port_taken
from ethox_uk.qemu import cmdline
from ethox_uk.qemu.udpfwd import UdpForwarder, _csum


def invoke(*args):
    return CliRunner().invoke(cli.main, list(args), prog_name="ethox-uk")


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_parse_publish_forms():
    p = parse_publish("8080:80")
    assert (p.host_ip, p.host_port, p.guest_port, p.proto) == ("127.0.0.1", 8080, 80, "tcp")
    assert p.hostfwd("10.0.2.15") == "tcp:127.0.0.1:8080-10.0.2.15:80"
    assert str(p) == "127.0.0.1:8080->80/tcp"
    p = parse_publish("0.0.0.0:5353:53/UDP")
    assert (p.host_ip, p.host_port, p.guest_port, p.proto) == ("0.0.0.0", 5353, 53, "udp")
    assert Publish.from_dict(p.as_dict()) == p


@pytest.mark.parametrize("text,message", [
    ("8080", "expected [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]"),
    ("1:2:3:4", "expected [HOSTIP:]HOSTPORT:GUESTPORT"),
    ("8080:80/sctp", "protocol 'sctp': expected /tcp or /udp"),
    ("0:80", "HOSTPORT '0' is not a port number 1-65535"),
    ("8080:70000", "GUESTPORT '70000' is not a port number"),
    ("x:80", "HOSTPORT 'x'"),
    ("localhost:8080:80", "HOSTIP 'localhost' is not an IPv4 address"),
])
def test_bad_publish_says_what_to_write(text, message):
    with pytest.raises(ValueError) as e:
        parse_publish(text)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_duplicate_host_port_refused_but_tcp_and_udp_may_share():
    check_unique([parse_publish("8080:80"), parse_publish("8080:80/udp")])
    with pytest.raises(ValueError, match="both take TCP port 127.0.0.1:8080"):
        check_unique([parse_publish("8080:80"), parse_publish("127.0.0.1:8080:81")])


def test_user_spec_and_host_mode_refuses_it():
    s = parse_spec("user")
    assert s.kind == "user" and s.text == "user"
    with pytest.raises(ValueError, match="ports are published with -p"):
        parse_spec("user:hostfwd=tcp::1-:2")
    r = invoke("host", "images/echo", "--net", "user")
    assert r.exit_code != 0 and "--net user is for VM images" in r.output


def test_user_qemu_line_is_restricted_and_follows_the_guest_network():
    net = NetOpts(parse_spec("user"), publish=[parse_publish("8080:80"),
                                               parse_publish("0.0.0.0:2222:22")])
    argv = cmdline.assemble("i.elf", accel="tcg", append="ip=10.0.2.15/24 gw=10.0.2.2",
                            net=net)
    i = argv.index("-netdev")
    assert argv[i + 1] == ("user,id=n0,restrict=on,net=10.0.2.0/24,host=10.0.2.2,"
                           "hostfwd=tcp:127.0.0.1:8080-10.0.2.15:80,"
                           "hostfwd=tcp:0.0.0.0:2222-10.0.2.15:22")
    assert "virtio-net-device,netdev=n0,mac=52:54:00:12:34:56" in argv
    # another guest network: slirp's follows it (--ip/--gw win over the recipe's words)
    net = NetOpts(parse_spec("user"), ip="192.168.7.20/24", gw="192.168.7.1")
    argv = cmdline.assemble("i.elf", accel="tcg", net=net,
                            append=net.boot_words("ip=10.0.2.15/24 gw=10.0.2.2"))
    assert "user,id=n0,restrict=on,net=192.168.7.0/24,host=192.168.7.1" in argv
    assert all("restrict=on" in a for a in argv if a.startswith("user,"))


def test_user_net_refuses_addresses_slirp_takes():
    for ip, gw, message in (("10.0.2.3/24", "10.0.2.2", "taken by QEMU's user network"),
                            ("10.0.2.15/30", "10.0.2.13", "too small")):
        net = NetOpts(parse_spec("user"), ip=ip, gw=gw)
        with pytest.raises(cmdline.QemuError, match=message):
            cmdline.assemble("i.elf", accel="tcg", net=net, append=net.boot_words(""))


def test_udp_publish_puts_the_guest_on_a_hub_with_the_forwarder():
    net = NetOpts(parse_spec("user"), publish=[parse_publish("8080:80"),
                                               parse_publish("5353:53/udp")])
    with pytest.raises(cmdline.QemuError, match="forwarder"):
        cmdline.assemble("i.elf", accel="tcg", append="", net=net)
    argv = cmdline.assemble("i.elf", accel="tcg", append="", net=net,
                            udp_link=("/tmp/q.sock", "/tmp/f.sock"))
    nets = [argv[i + 1] for i, a in enumerate(argv) if a == "-netdev"]
    assert nets[0].startswith("user,id=u0,restrict=on,") and "udp" not in nets[0]
    assert "hostfwd=tcp:127.0.0.1:8080-10.0.2.15:80" in nets[0]
    assert nets[1:] == ["hubport,id=n0,hubid=0", "hubport,id=h0u,hubid=0,netdev=u0",
                        "dgram,id=fw0,local.type=unix,local.path=/tmp/q.sock,remote.type=unix,"
                        "remote.path=/tmp/f.sock", "hubport,id=h0f,hubid=0,netdev=fw0"]


def test_publish_with_another_net_is_a_usage_error(tmp_path):
    r = invoke("run", "build/echo.elf", "--net", "tap:tap0", "-p", "8080:80")
    assert r.exit_code == 2 and "drop --net tap:tap0 or write --net user" in r.output
    r = invoke("run", "build/echo.elf", "-p", "80")
    assert r.exit_code == 2 and "HOSTPORT:GUESTPORT" in r.output


def test_taken_ports_are_named_before_qemu_starts():
    for kind, proto in ((socket.SOCK_STREAM, "tcp"), (socket.SOCK_DGRAM, "udp")):
        s = socket.socket(socket.AF_INET, kind)
        s.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            s.listen(1)
        port = s.getsockname()[1]
        try:
            p = parse_publish("%d:80/%s" % (port, proto))
            assert port_taken(p) == "already in use"
            with pytest.raises(ValueError) as e:
                check_free([p], owner=lambda q: "VM web")
            assert ("%s 127.0.0.1:%d is already in use (by VM web): pick another host port"
                    % (proto.upper(), port)) in str(e.value)
        finally:
            s.close()
        assert port_taken(p) is None
    p = parse_publish("10.255.255.254:%d:80" % free_port())
    with pytest.raises(ValueError, match="not an address of this machine"):
        check_free([p])


def test_udp_forwarder_frames_both_ways():
    port = free_port(socket.SOCK_DGRAM)
    guest_ip, gw_ip, mac = bytes([10, 0, 2, 15]), bytes([10, 0, 2, 2]), bytes.fromhex(
        "525400123456")
    fwd = UdpForwarder([parse_publish("%d:7/udp" % port)], guest_ip, mac, gw_ip).open()
    qemu = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # plays QEMU's end of the link
    qemu.bind(fwd.link[0])
    qemu.settimeout(5)
    fwd.start()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(5)
    try:
        client.sendto(b"ping", ("127.0.0.1", port))
        f = qemu.recv(2048)
        assert f[:6] == mac and f[6:12] == b"\x52\x55" + gw_ip and f[12:14] == b"\x08\x00"
        assert f[26:30] == gw_ip and f[30:34] == guest_ip and f[23] == 17
        assert _csum(f[14:34]) == 0
        sport, dport, ulen = struct.unpack("!HHH", f[34:40])
        assert dport == 7 and ulen == 12 and f[42:] == b"ping"
        pseudo = gw_ip + guest_ip + struct.pack("!BBH", 0, 17, ulen)
        assert _csum(pseudo + f[34:]) == 0
        # the guest's answer (padded to 60 bytes as on a wire) goes back to the client
        ip = bytearray(f[14:34])
        ip[12:16], ip[16:20] = guest_ip, gw_ip
        udp = struct.pack("!HHHH", 7, sport, 12, 0) + b"pong"
        reply = f[6:12] + f[:6] + b"\x08\x00" + bytes(ip) + udp + b"\0" * 14
        qemu.sendto(reply, fwd.link[1])
        data, addr = client.recvfrom(100)
        assert data == b"pong" and addr[1] == port
        # a fragment and an answer to a port no client holds are dropped and counted
        frag = bytearray(reply)
        frag[20] = 0x20  # MF
        qemu.sendto(bytes(frag), fwd.link[1])
        other = bytearray(reply)
        other[36:38] = b"\x00\x01"
        qemu.sendto(bytes(other), fwd.link[1])
        client.settimeout(0.5)
        with pytest.raises(socket.timeout):
            client.recvfrom(100)
        assert fwd.stats["dropped_fragment"] == 1 and fwd.stats["dropped_unknown_port"] == 1
        assert fwd.stats["to_guest"] == 1 and fwd.stats["to_host"] == 1
    finally:
        client.close()
        qemu.close()
        fwd.close()
    assert port_taken(parse_publish("%d:7/udp" % port)) is None  # released
