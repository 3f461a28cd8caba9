"""Published UDP ports of `--net user` (`-p HOSTPORT:GUESTPORT/udp`).

Why not slirp's own `hostfwd=udp:...`: with `restrict=on` (which `--net user` always uses)
libslirp drops every UDP datagram the guest sends, replies to a hostfwd included (udp_input
gives up on a restricted network before it looks for the socket), so a published UDP port
would receive and never answer. TCP hostfwd is unaffected and stays with slirp.

So for UDP the guest's NIC sits on a QEMU hub that joins slirp and a unix datagram link to
this forwarder (running beside QEMU, in `run` or a detached VM's supervisor):

    guest virtio-net -- hub 0 --+-- slirp (restrict=on, TCP hostfwds)
                                +-- dgram link -- UdpForwarder -- 127.0.0.1:HOSTPORT/udp

A datagram from a host client becomes an Ethernet/IPv4/UDP frame from the gateway address
(slirp's own MAC and IP, so the guest needs no new neighbour) to the guest's port; the hub
hands it to the guest. The guest's answer to the gateway reaches slirp (which drops it) and
the forwarder, which matches its destination port to the client and sends the payload back
from the published socket. The hub floods every frame to the link: the forwarder looks at
a few header bytes of each and drops the rest. Bounded: 1024 clients at a time (the oldest
idle one makes room), idle entries forgotten after 120 s; fragments and datagrams larger
than one frame are dropped and counted (`stats`).
"""

import os
import selectors
import socket
import struct
import tempfile
import threading
import time

MAX_CLIENTS = 1024
IDLE_S = 120.0
FIRST_PORT = 49152  # the gateway-side ports clients are mapped to
MAX_PAYLOAD = 1500 - 20 - 8


def _csum(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def slirp_mac(ip):
    """The MAC slirp answers ARP with for its own addresses: 52:55 + the IPv4 address."""
    return b"\x52\x55" + bytes(ip)


class UdpForwarder:
    def __init__(self, publishes, guest_ip, guest_mac, gw_ip):
        """publishes: the UDP publish.Publish entries; addresses as 4/6-byte bytes."""
        self.publishes = [p for p in publishes if p.proto == "udp"]
        self.guest_ip = bytes(guest_ip)
        self.guest_mac = bytes(guest_mac)
        self.gw_ip = bytes(gw_ip)
        self.gw_mac = slirp_mac(gw_ip)
        self.stats = {"to_guest": 0, "to_host": 0, "dropped_too_big": 0,
                      "dropped_fragment": 0, "dropped_unknown_port": 0, "evicted": 0}
        self._dir = None
        self.link = None  # (QEMU's path, ours): QEMU binds the first and sends to the second
        self._socks = []
        self._link_sock = None
        self._by_port = {}  # gateway-side port -> [host sock, client addr, guest port, t]
        self._by_client = {}  # (sock index, client addr) -> gateway-side port
        self._next = FIRST_PORT
        self._ip_id = 0
        self._stop = threading.Event()
        self._thread = None
        self._wake = None

    # -- life ------------------------------------------------------------------------------
    def open(self):
        """Bind the host ports (OSError when one is taken) and the link socket."""
        try:
            for p in self.publishes:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._socks.append(s)
                s.bind((p.host_ip, p.host_port))
                s.setblocking(False)
            self._dir = tempfile.mkdtemp(prefix="euf", dir="/tmp")  # short: sun_path
            qemu_side = os.path.join(self._dir, "q.sock")
            ours = os.path.join(self._dir, "f.sock")
            self._link_sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._link_sock.bind(ours)
            self._link_sock.setblocking(False)
            self.link = (qemu_side, ours)
        except BaseException:
            self.close()
            raise
        return self

    def start(self):
        self._wake = socket.socketpair()
        self._thread = threading.Thread(target=self._run, name="udp-forward", daemon=True)
        self._thread.start()
        return self

    def close(self):
        self._stop.set()
        if self._wake is not None:
            try:
                self._wake[0].send(b"x")
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(2.0)
        for s in self._socks + [self._link_sock] + list(self._wake or ()):
            if s is not None:
                s.close()
        self._socks = []
        self._link_sock = None
        self._wake = None
        if self._dir is not None:
            for name in ("q.sock", "f.sock"):
                try:
                    os.unlink(os.path.join(self._dir, name))
                except OSError:
                    pass
            try:
                os.rmdir(self._dir)
            except OSError:
                pass
            self._dir = None

    # -- the loop --------------------------------------------------------------------------
    def _run(self):
        sel = selectors.DefaultSelector()
        for i, s in enumerate(self._socks):
            sel.register(s, selectors.EVENT_READ, i)
        sel.register(self._link_sock, selectors.EVENT_READ, "link")
        sel.register(self._wake[1], selectors.EVENT_READ, "wake")
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(1.0):
                    if key.data == "wake":
                        return
                    if key.data == "link":
                        self._from_guest()
                    else:
                        self._from_host(key.data)
                self._expire(time.monotonic())
        except OSError:
            pass  # sockets closed under us: the VM is going away
        finally:
            sel.close()

    def _from_host(self, index):
        s = self._socks[index]
        while True:
            try:
                data, addr = s.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            if len(data) > MAX_PAYLOAD:
                self.stats["dropped_too_big"] += 1
                continue
            port = self._port_for(index, addr)
            self._send_frame(port, self.publishes[index].guest_port, data)

    def _port_for(self, index, addr):
        now = time.monotonic()
        key = (index, addr)
        port = self._by_client.get(key)
        if port is None:
            if len(self._by_port) >= MAX_CLIENTS:
                oldest = min(self._by_port, key=lambda p: self._by_port[p][3])
                self._forget(oldest)
                self.stats["evicted"] += 1
            while self._next in self._by_port:
                self._next = FIRST_PORT + (self._next + 1 - FIRST_PORT) % (65536 - FIRST_PORT)
            port = self._next
            self._next = FIRST_PORT + (self._next + 1 - FIRST_PORT) % (65536 - FIRST_PORT)
            self._by_client[key] = port
            self._by_port[port] = [index, addr, self.publishes[index].guest_port, now]
        else:
            self._by_port[port][3] = now
        return port

    def _forget(self, port):
        index, addr = self._by_port.pop(port)[:2]
        self._by_client.pop((index, addr), None)

    def _expire(self, now):
        for port in [p for p, e in self._by_port.items() if now - e[3] > IDLE_S]:
            self._forget(port)

    def _send_frame(self, sport, dport, payload):
        self._ip_id = (self._ip_id + 1) & 0xFFFF
        ulen = 8 + len(payload)
        pseudo = self.gw_ip + self.guest_ip + struct.pack("!BBH", 0, 17, ulen)
        udp = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
        c = _csum(pseudo + udp) or 0xFFFF
        udp = udp[:6] + struct.pack("!H", c) + udp[8:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, self._ip_id, 0, 64, 17, 0,
                         self.gw_ip, self.guest_ip)
        ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
        frame = self.guest_mac + self.gw_mac + b"\x08\x00" + ip + udp
        try:
            self._link_sock.sendto(frame, self.link[0])
            self.stats["to_guest"] += 1
        except (BlockingIOError, FileNotFoundError, ConnectionRefusedError):
            pass  # QEMU not there (yet, or any more): a lost datagram, as UDP allows

    def _from_guest(self):
        while True:
            try:
                f = self._link_sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            # the hub floods every frame here: most are not for us
            if len(f) < 42 or f[12:14] != b"\x08\x00" or f[14] >> 4 != 4 or f[23] != 17:
                continue
            if f[26:30] != self.guest_ip or f[30:34] != self.gw_ip:
                continue
            ihl = (f[14] & 15) * 4
            total = f[16] << 8 | f[17]
            u = 14 + ihl
            if total > len(f) - 14 or u + 8 > 14 + total:
                continue
            dport = f[u + 2] << 8 | f[u + 3]
            entry = self._by_port.get(dport)
            if entry is None:
                self.stats["dropped_unknown_port"] += 1
                continue
            if (f[20] & 0x3F) or f[21]:  # MF or an offset: fragments are not forwarded
                self.stats["dropped_fragment"] += 1
                continue
            sport = f[u] << 8 | f[u + 1]
            if sport != entry[2]:
                continue
            ulen = f[u + 4] << 8 | f[u + 5]
            if ulen < 8 or u + ulen > 14 + total:
                continue
            entry[3] = time.monotonic()
            try:
                self._socks[entry[0]].sendto(f[u + 8:u + ulen], entry[1])
                self.stats["to_host"] += 1
            except OSError:
                pass
