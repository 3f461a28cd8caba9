"""host/dgram_peer.py: the one peer end of a dgram SPEC, which the demo, the tests, `bench
--image` (raw) and the conformance suite's DgramLink stand on."""

import os
import socket
import time

import pytest
from scapy.layers.l2 import ARP, Ether

from ethox_uk.conformance.links import DgramLink
from ethox_uk.conformance.peer import Peer
from ethox_uk.host.dgram_peer import (PEER_IP, PEER_MAC, DgramPeer, RawDgramPeer, TargetGone,
                                      arp_reply, ip_bytes, mac_bytes)

GUEST_IP = "10.0.2.15"
GUEST_MAC = "52:54:00:12:34:56"


def target(path):
    """The guest's end of the link: a bound dgram socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(2.0)
    return s


def who_has(ip, sha=GUEST_MAC, eth_src=GUEST_MAC):
    return bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=eth_src)
                 / ARP(op=1, hwsrc=sha, psrc=GUEST_IP, pdst=ip))


def test_arp_reply_is_the_frame_scapy_builds():
    req = who_has(PEER_IP, eth_src="52:54:00:aa:bb:cc")
    mine = arp_reply(req, mac_bytes(PEER_MAC), ip_bytes(PEER_IP))
    assert mine == bytes(Ether(dst="52:54:00:aa:bb:cc", src=PEER_MAC)
                         / ARP(op=2, hwsrc=PEER_MAC, psrc=PEER_IP, hwdst=GUEST_MAC,
                               pdst=GUEST_IP))
    # the conformance peer answers the ARP sender's hardware address
    to_sha = arp_reply(req, mac_bytes(PEER_MAC), ip_bytes(PEER_IP), to=req[22:28])
    assert to_sha[:6] == mac_bytes(GUEST_MAC) and to_sha[6:] == mine[6:]


def test_raw_peer_answers_arp_for_its_address_only(tmp_path):
    local, remote = str(tmp_path / "g"), str(tmp_path / "p")
    guest = target(local)
    with RawDgramPeer(local, remote) as peer:
        guest.sendto(who_has("10.0.2.99"), remote)
        assert peer.recv_frame(2.0) == who_has("10.0.2.99")
        guest.sendto(who_has(PEER_IP), remote)
        assert peer.recv_frame(2.0) == who_has(PEER_IP)  # returned all the same
        reply = Ether(guest.recv(2048))
        assert reply[ARP].op == 2 and reply[ARP].psrc == PEER_IP
        assert reply[ARP].hwsrc == PEER_MAC and reply.dst == GUEST_MAC
        assert peer.sent == 1
        guest.settimeout(0.2)
        with pytest.raises(socket.timeout):  # nothing answered for 10.0.2.99
            guest.recv(2048)
        assert peer.recv_frame(0.05) is None
    assert not os.path.exists(remote)
    guest.close()


def test_raw_peer_without_target_refuses_clearly(tmp_path):
    with RawDgramPeer(str(tmp_path / "nobody"), str(tmp_path / "p")) as peer:
        assert peer.try_send(b"x" * 60) is False
        with pytest.raises(TargetGone, match="nothing is bound at"):
            peer.send(b"x" * 60)
        assert peer.sent == 0


def test_send_gives_up_on_a_target_that_stopped_reading(tmp_path):
    local = str(tmp_path / "g")
    guest = target(local)
    with RawDgramPeer(local, str(tmp_path / "p")) as peer:
        t0 = time.monotonic()
        with pytest.raises(TargetGone, match="stays full"):
            for _ in range(100000):
                peer.send(b"y" * 1500, give_up=time.monotonic() + 0.3)
        assert time.monotonic() - t0 < 10
        assert peer.try_send(b"y") is False  # full: the bench's send never waits
    guest.close()


def test_read_never_blocks_even_on_a_blocking_socket(tmp_path):
    with RawDgramPeer(str(tmp_path / "g"), str(tmp_path / "p")) as peer:
        peer.sock.setblocking(True)
        t0 = time.monotonic()
        assert peer.read() is None
        assert time.monotonic() - t0 < 1.0


def test_stale_remote_is_replaced_a_live_one_refused(tmp_path):
    remote = str(tmp_path / "p")
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(remote)
    dead.close()  # the file stays behind
    with RawDgramPeer(str(tmp_path / "g"), remote):
        with pytest.raises(ValueError, match="live socket"):
            RawDgramPeer(str(tmp_path / "g"), remote)


def test_scapy_peer_keeps_what_it_did_not_expect(tmp_path):
    local = str(tmp_path / "g")
    guest = target(local)
    with DgramPeer("dgram:%s,%s" % (local, tmp_path / "p")) as peer:
        for ip in ("10.0.2.7", "10.0.2.8"):
            guest.sendto(who_has(ip), peer.path)
        p = peer.expect(lambda p: p[ARP].pdst == "10.0.2.8", timeout=2.0)
        assert p is not None and p[ARP].pdst == "10.0.2.8"
        assert peer.recv(1.0)[ARP].pdst == "10.0.2.7"  # from the backlog
        guest.sendto(who_has(PEER_IP), peer.path)
        assert peer.recv(2.0)[ARP].pdst == PEER_IP
        assert Ether(guest.recv(2048))[ARP].op == 2  # answered
    guest.close()


def test_conformance_link_is_the_raw_peer_and_its_peer_answers_arp(tmp_path):
    local, remote = str(tmp_path / "g"), str(tmp_path / "p")
    guest = target(local)
    link = DgramLink(local, remote)
    assert isinstance(link, RawDgramPeer) and not link.answer_arp
    assert link.describe() == "dgram:%s,%s" % (local, remote)
    with Peer(link, PEER_MAC, PEER_IP) as peer:
        # an ARP sender whose Ethernet source differs: the answer goes to the ARP sender
        guest.sendto(who_has(PEER_IP, sha="52:54:00:00:00:99"), remote)
        assert peer.recv(2.0) is not None
        reply = Ether(guest.recv(2048))
        assert reply.dst == "52:54:00:00:00:99" and reply[ARP].op == 2
        assert reply[ARP].psrc == PEER_IP
        assert any("answered by the peer" in line for line in peer.transcript())
    assert not os.path.exists(remote)
    guest.close()
