"""A raw-socket ICMP echo client for the tests' namespaces (ping(8) is not among the Debian
packages we install): COUNT echoes of 56 bytes to ADDR, each reply checked for its source
address, identifier, sequence, data and checksum. Host-only; run it inside a namespace:

    ip netns exec NS python -m ethox_uk.netsetup.ping ADDR [COUNT]

Prints `ping N` after N good replies; an AssertionError or socket.timeout means a bad or
missing reply (non-zero status).
"""

import os
import socket
import sys

from ..checksum import inet_checksum as csum


def ping(addr, count=20, timeout=3.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(timeout)
    ident = (os.getpid() & 0xFFFF).to_bytes(2, "big")
    data = bytes(i & 255 for i in range(56))
    for seq in range(count):
        hdr = bytes([8, 0, 0, 0]) + ident + seq.to_bytes(2, "big")
        c = csum(hdr + data)
        s.sendto(hdr[:2] + c.to_bytes(2, "big") + hdr[4:] + data, (addr, 0))
        while True:
            pkt = s.recv(65535)
            icmp = pkt[(pkt[0] & 15) * 4:]
            if icmp[0] == 0 and icmp[4:6] == ident:
                break
        assert icmp[6:8] == seq.to_bytes(2, "big") and icmp[8:] == data and csum(icmp) == 0
        assert pkt[12:16] == socket.inet_aton(addr)
    return count


if __name__ == "__main__":
    n = ping(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20)
    print("ping", n)
