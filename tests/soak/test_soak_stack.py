"""Soak and flood tests of the stack itself (host mode, no VM), bounded in count and time.

`make test` runs them at a small scale; `make soak` (ETHOX_UK_SOAK=1) at the issue's:
- 1,000,000 mutated frames (a seeded mutator over valid ARP, ICMP, UDP, TCP and fragment
  frames) into a stack serving images/echo's services: no internal error, and a clean ping
  and a TCP echo still answered afterwards;
- 64 MiB each way between two stacks over a link losing 5 %, reordering 5 %, duplicating
  1 % and corrupting 1 % of the frames: both streams' sha256 intact, no internal error.
Figures go to stdout (-s shows them)."""

import hashlib
import os
import random
import sys
import time
from pathlib import Path

UNIT = str(Path(__file__).resolve().parents[1] / "unit")
if UNIT not in sys.path:
    sys.path.insert(0, UNIT)

import support as S  # noqa: E402
import tcp_support as T  # noqa: E402

from ethox_uk.stack import services  # noqa: E402

FULL = os.environ.get("ETHOX_UK_SOAK") == "1"
MUTATED = 1_000_000 if FULL else 40_000
BULK = (64 << 20) if FULL else (2 << 20)


def _seed_frames():
    """Valid frames to the stack (10.0.2.15) from the peer (10.0.2.2)."""
    P, O = S.PEER_IP, S.OUR_IP
    out = [
        S.eth_frame(S.BCAST_MAC, S.PEER_MAC, 0x0806,
                    S.arp_body(1, S.PEER_MAC, P, b"\0" * 6, O)),
        S.frame_in(S.ipv4_pkt(P, O, 1, S.echo_req(7, 1, b"x" * 56))),
        S.frame_in(S.ipv4_pkt(P, O, 17, S.udp_dgram(P, O, 40000, 7, b"hello"))),
        S.frame_in(S.ipv4_pkt(P, O, 17, S.udp_dgram(P, O, 40000, 9999, b"closed"))),
    ]
    for port, flags, payload in ((80, T.SYN, b""), (7, T.SYN, b""), (9, T.ACK, b"data"),
                                 (80, T.ACK | T.PSH, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
                                 (7, T.RST, b""), (19, T.FIN | T.ACK, b"")):
        r = T.R(40001, port, 1000, 5000, flags, payload=payload, mss=1460 if flags & T.SYN
                else None, wscale=7 if flags & T.SYN else None,
                sack_perm=bool(flags & T.SYN), timestamp=(5, 0) if flags & T.SYN else None)
        seg = bytearray(r.buffer_len())
        r.emit(seg, P, O)
        out.append(S.frame_in(S.ipv4_pkt(P, O, 6, bytes(seg))))
    for f in S.frag_pkts(P, O, 1, S.echo_req(9, 2, bytes(3000)), size=1000):
        out.append(S.frame_in(f))
    return out


def _fix_checksums(b):
    """Recompute the IPv4 header and TCP/UDP/ICMP checksums of a mutated frame where its
    lengths allow, so the mutation reaches the layers above the checksum tests."""
    if len(b) < 34 or b[12] != 8 or b[13] != 0 or b[14] >> 4 != 4:
        return
    hl = (b[14] & 15) * 4
    total = (b[16] << 8) | b[17]
    if hl < 20 or 14 + hl > len(b) or total < hl or 14 + total > len(b):
        return
    b[24] = b[25] = 0
    c = S.csum16(bytes(b[14:14 + hl]))
    b[24], b[25] = c >> 8, c & 255
    if (b[20] & 0x3F) | b[21]:
        return  # a fragment: its L4 checksum spans the other fragments
    o, n, proto = 14 + hl, total - hl, b[23]
    at = {6: 16, 17: 6, 1: 2}.get(proto)
    if at is None or n < at + 2:
        return
    b[o + at] = b[o + at + 1] = 0
    pseudo = bytes(b[26:34]) + bytes((0, proto, n >> 8, n & 255)) if proto != 1 else b""
    c = S.csum16(pseudo + bytes(b[o:o + n]))
    b[o + at], b[o + at + 1] = c >> 8, c & 255


def _mutate(rng, frame):
    b = bytearray(frame)
    kind = rng.random()
    if kind < 0.6:
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b))
            b[i] = rng.randrange(256)
    elif kind < 0.75:
        del b[rng.randrange(14, len(b)):]  # truncated
    elif kind < 0.85:
        b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))  # trailing junk
    elif kind < 0.95:
        i = rng.randrange(14, min(len(b), 60))  # a header field set to an extreme
        b[i] = rng.choice((0, 0xFF, 0x80, 0x7F))
    else:
        b = bytearray(rng.randrange(256) for _ in range(rng.randint(0, 1514)))
    b = b[:2048]
    if rng.random() < 0.5:
        _fix_checksums(b)
    return bytes(b)


def test_a_million_mutated_frames_leave_the_stack_serving():
    stack, peer = S.ip_stack(seed=3)
    from ethox_uk.stack import socket as sock

    sock.use(stack, clock=lambda: stack.now)
    services.serve_all(stack)
    S.prime_arp(stack, peer)
    rng = random.Random(20261204)
    seeds = _seed_frames()
    t0 = time.monotonic()
    now = 0
    for i in range(MUTATED):
        stack.nic.inject(_mutate(rng, rng.choice(seeds)))
        if i % 16 == 15:
            now += 1
            stack.poll(now)
            peer.frames()
    stack.poll(now + 1)
    peer.frames()
    took = time.monotonic() - t0
    c = stack.counters
    assert c["internal_error"] == 0, stack.last_error
    print("%d mutated frames in %.1f s; drops: %s" % (MUTATED, took, c.drops()))
    # still serving: a clean ping, and a TCP echo through a fresh handshake
    out = S.stack_rx(stack, peer, S.frame_in(S.ipv4_pkt(S.PEER_IP, S.OUR_IP, 1,
                                                          S.echo_req(77, 1, b"alive"))), now + 2)
    assert any(f[23] == 1 and f[34] == 0 and S.ip_of(f).endswith(b"alive") for f in out), out
    assert c["internal_error"] == 0


def test_64mib_each_way_over_a_lossy_reordering_duplicating_corrupting_link():
    t0 = time.monotonic()
    n, ab, ba, ok = T.bulk(7, BULK, loss=0.05, reorder=0.05, duplicate=0.01, corrupt=0.01,
                           limit=10 ** 9)
    took = time.monotonic() - t0
    assert ok, "not done: %d and %d of %d bytes" % (ab.got, ba.got, BULK)
    want = T.stream_sha256(BULK)
    assert ab.h.digest() == want and ba.h.digest() == want
    assert n.errors() == 0
    c = n.a.counters
    print("%d MiB each way over the faulty link: %.1f s wall, %.1f s simulated, "
          "%d retransmissions, %d RTOs, %d checksum drops"
          % (BULK >> 20, took, n.now / 1000, c["tcp_retrans_sent"], c["tcp_timeouts"],
             c["tcp_bad_checksum"] + n.b.counters["tcp_bad_checksum"]))
