"""Soak tests against a booted echo image on a tap in a private namespace (the kernel's own
TCP as the client), bounded in count and time. `make test` runs them small, `make soak`
(ETHOX_UK_SOAK=1) at the hostile-peers issue's scale:
- 10,000 sequential connections to TCP echo, and 10,000 HTTP requests over keep-alive
  connections: the guest's free heap after (collected) within 1 % of before, no internal
  error, nothing left in the connection table."""

import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guest_on_link import GuestOnLink  # noqa: E402

from ethox_uk.build import image as image_mod  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FULL = os.environ.get("ETHOX_UK_SOAK") == "1"
CONNECTIONS = 10_000 if FULL else 300


@pytest.fixture(scope="module")
def image():
    return image_mod.build("images/echo", output=REPO / "build" / "test-soak" / "echo.elf",
                           quiet=True)


CLIENT = textwrap.dedent("""
    import socket, sys, time
    n = int(sys.argv[1])
    t0 = time.monotonic()
    for i in range(n):
        s = socket.create_connection(("10.0.2.15", 7), timeout=10)
        msg = b"%08d" % i * 8
        s.sendall(msg)
        got = b""
        while len(got) < len(msg):
            d = s.recv(4096)
            if not d:
                break
            got += d
        assert got == msg, (i, got[:20])
        s.close()
    t1 = time.monotonic()
    done = 0
    while done < n:
        s = socket.create_connection(("10.0.2.15", 80), timeout=10)
        f = s.makefile("rb")
        for k in range(min(50, n - done)):
            s.sendall(b"GET /bytes/%d HTTP/1.1\\r\\nHost: g\\r\\n\\r\\n" % (100 + k))
            head = b""
            while not head.endswith(b"\\r\\n\\r\\n"):
                head += f.read(1)
            assert head.startswith(b"HTTP/1.1 200"), head
            body = f.read(100 + k)
            assert body == bytes(range(256))[:100 + k], k
            done += 1
        s.close()
    t2 = time.monotonic()
    print("echo %.0f conn/s http %.0f req/s" % (n / (t1 - t0), n / (t2 - t1)))
""")

MEM = ("import gc; gc.collect(); c = net.counters.c; "
       "print(gc.mem_free(), c['internal_error'], len(net.tcp.keys()) if net.tcp else 0)")


def test_sequential_connections_leave_the_heap_as_they_found_it(image):
    with GuestOnLink(image, "tap") as g:
        # warm up: the service pools its rings, the first responses build their tables
        r = g.inside([sys.executable, "-c", CLIENT, "20"], timeout=120, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        time.sleep(0.5)
        free0, err0, conns0 = [int(x) for x in g.exec(MEM).split()]
        r = g.inside([sys.executable, "-c", CLIENT, str(CONNECTIONS)],
                     timeout=60 + CONNECTIONS * 0.1, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        time.sleep(0.5)
        free1, err1, conns1 = [int(x) for x in g.exec(MEM).split()]
        print("%d connections + %d keep-alive requests: %s; heap free %d -> %d"
              % (CONNECTIONS, CONNECTIONS, r.stdout.strip(), free0, free1))
        assert err0 == err1 == 0
        assert conns1 == 0, "%d connections left in the table" % conns1
        assert abs(free1 - free0) <= free0 // 100, (free0, free1)
