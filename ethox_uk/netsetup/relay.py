"""A frame relay between a tap device and a unix datagram socket (HOST-ONLY, CPython, root).

It is the peer side of a `dgram:LOCAL,REMOTE` SPEC (DESIGN §5): it binds REMOTE and sends to
LOCAL, one Ethernet frame per datagram, and moves frames to and from a tap device -- so the
Linux kernel behind that tap (usually inside a private namespace, see KernelPeer) talks to
the stack (`ethox-uk host|run|exec ... --net dgram:LOCAL,REMOTE`) as if on one Ethernet.

    relay = Relay("dgram:/tmp/x/s,/tmp/x/p", tap_fd)   # the STACK's spec; binds /tmp/x/p
    relay.start(limit=300)        # a daemon thread; stops by itself after `limit` seconds
    ...
    relay.stop()                  # bounded; closes the socket, removes REMOTE, closes the tap
    relay.stats()                 # counters (frames each way, drops by reason)

or, as a process inside a namespace (stops on SIGTERM/SIGINT or after --limit seconds):

    ip netns exec NS python -m ethox_uk.netsetup.relay --tap tap0 --net dgram:L,R [--limit S]

Back-pressure instead of loss where possible: once LOCAL exists the socket is connect()ed to
it, so poll() reports POLLOUT only while the stack's receive queue has room (Linux keeps
net.unix.max_dgram_qlen datagrams); a frame the full queue refuses waits and the tap is not
read meanwhile (the kernel queues up to the tap's txqueuelen, then TCP's own loss recovery
takes over). Frames sent before the stack binds LOCAL are dropped and counted (no_peer).
"""

import argparse
import errno
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

from ..netspec import parse_spec
from ..stack.nic.dgram import check_path, remove_stale
from ..stack.nic.tap import check_ifname
from .netns import NetNS, NetSetupError, wait_link_up

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
MAX_DGRAM = 65536
BURST = 64  # frames moved per direction before looking at the other one


def open_tap(ifname, vnet_hdr=False):
    """A non-blocking fd on tap device IFNAME (IFF_TAP | IFF_NO_PI) in the calling thread's
    network namespace (use NetNS.entered()); the device is created if missing. vnet_hdr:
    IFF_VNET_HDR too, which QEMU's `-netdev tap,fd=N,vnet_hdr=on` needs to offer virtio-net
    offloads (checksum, TSO, GRO) to its guest."""
    check_ifname(ifname)
    flags = IFF_TAP | IFF_NO_PI | (IFF_VNET_HDR if vnet_hdr else 0)
    try:
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise NetSetupError("cannot open /dev/net/tun: %s (needs CAP_NET_ADMIN and the tun "
                            "module)" % e.strerror) from None
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", ifname.encode(), flags))
    except OSError as e:
        os.close(fd)
        raise NetSetupError("cannot attach tap device %s: %s" % (ifname, e.strerror)) from None
    return fd


def _spec_paths(spec):
    if isinstance(spec, (tuple, list)):
        local, remote = spec
    else:
        s = parse_spec(spec) if isinstance(spec, str) else spec
        if s.kind != "dgram":
            raise ValueError("the relay needs a dgram:LOCAL,REMOTE spec, not %r" % (spec,))
        local, remote = s.local, s.remote
    check_path(local)
    check_path(remote)
    return local, remote


class Relay:
    """Moves frames between `tap_fd` and a unix datagram socket bound at the spec's REMOTE
    (sending to its LOCAL). `spec` is the STACK's side: "dgram:LOCAL,REMOTE", a NetSpec or
    (local, remote). The relay owns tap_fd (closes it on stop) unless own_tap=False.
    `pcap`: optional path; every frame relayed (both ways) is recorded there."""

    def __init__(self, spec, tap_fd, own_tap=True, pcap=None):
        self.local, self.remote = _spec_paths(spec)
        self.tap_fd = tap_fd
        self.own_tap = own_tap
        remove_stale(self.remote)
        self._pcap = None
        if pcap:
            from ..capture import open_capture_file
            from ..stack.nic.pcap import PcapWriter

            self._pcap = PcapWriter(open_capture_file(pcap))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            s.bind(self.remote)
            s.setblocking(False)
        except OSError as e:
            s.close()
            if self._pcap is not None:
                self._pcap.close()
            raise NetSetupError("cannot bind the relay socket at %s: %s"
                                % (self.remote, e.strerror)) from None
        self.sock = s
        self.connected = False
        self._stop_r, self._stop_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._thread = None
        self._closed = False
        self.error = None  # an exception that ended the loop
        self.to_stack = 0  # frames tap -> socket
        self.to_tap = 0  # frames socket -> tap
        self.no_peer = 0  # dropped: nobody bound at LOCAL (yet)
        self.deferred = 0  # frames that waited for room in the stack's queue
        self.sock_error = 0  # dropped: other send errors
        self.tap_error = 0  # dropped: tap write failed (EIO while down, EAGAIN, ...)
        self.oversize = 0  # dropped: datagram larger than MAX_DGRAM

    # -- the loop --------------------------------------------------------------------------
    def _connect(self):
        try:
            self.sock.connect(self.local)
        except OSError:
            return False
        self.connected = True
        return True

    def _send(self, frame):
        """True when done with the frame (sent or dropped); False: retry on POLLOUT."""
        try:
            if not self.connected and not self._connect():
                self.no_peer += 1
                return True
            self.sock.send(frame)
        except BlockingIOError:
            return False
        except OSError as e:
            if e.errno == errno.ENOBUFS:
                return False
            if e.errno in (errno.ECONNREFUSED, errno.ENOENT, errno.ENOTCONN):
                self.connected = False  # the stack went away (or is re-binding LOCAL)
                self.no_peer += 1
            else:
                self.sock_error += 1
            return True
        self.to_stack += 1
        if self._pcap is not None:
            self._pcap.write(frame, len(frame))
        return True

    def run(self, limit=None):
        """Relay until stop() or for at most `limit` seconds (None: no limit)."""
        deadline = None if limit is None else time.monotonic() + limit
        tap, sock = self.tap_fd, self.sock
        sfd = sock.fileno()
        buf = bytearray(MAX_DGRAM)
        view = memoryview(buf)
        pending = None
        poller = select.poll()
        poller.register(self._stop_r, select.POLLIN)
        try:
            while True:
                wait = 200
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    wait = max(1, min(wait, int(left * 1000)))
                poller.register(tap, 0 if pending is not None else select.POLLIN)
                poller.register(sfd, select.POLLIN | (select.POLLOUT if pending is not None
                                                      else 0))
                events = poller.poll(wait)
                if any(fd == self._stop_r for fd, _ in events):
                    break
                # socket -> tap (the stack's frames)
                for _ in range(BURST):
                    try:
                        n = sock.recv_into(view, MAX_DGRAM, socket.MSG_TRUNC)
                    except BlockingIOError:
                        break
                    if n > MAX_DGRAM:
                        self.oversize += 1
                        continue
                    try:
                        os.write(tap, view[:n])
                    except OSError:
                        self.tap_error += 1
                        continue
                    self.to_tap += 1
                    if self._pcap is not None:
                        self._pcap.write(view, n)
                # tap -> socket
                if pending is not None:
                    if not self._send(pending):
                        continue
                    pending = None
                for _ in range(BURST):
                    try:
                        frame = os.read(tap, MAX_DGRAM)
                    except BlockingIOError:
                        break
                    except OSError as e:
                        if e.errno == errno.EAGAIN:
                            break
                        raise
                    if not frame:
                        break
                    if not self._send(frame):
                        pending = frame
                        self.deferred += 1
                        break
        except BaseException as e:
            self.error = e
            raise

    # -- as a thread -----------------------------------------------------------------------
    def start(self, limit=None):
        """Run in a daemon thread (stops by itself after `limit` seconds)."""
        if self._thread is not None:
            raise RuntimeError("relay already started")
        self._thread = threading.Thread(target=self._run_quiet, args=(limit,),
                                        name="ethox-relay", daemon=True)
        self._thread.start()
        return self

    def _run_quiet(self, limit):
        try:
            self.run(limit)
        except BaseException:
            pass  # kept in self.error

    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout=5.0):
        """Stop the loop (bounded), close everything, remove the REMOTE socket file."""
        if self._closed:
            return
        try:
            os.write(self._stop_w, b"x")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise NetSetupError("relay thread did not stop within %.1f s" % timeout)
        self._closed = True
        self.sock.close()
        try:
            os.remove(self.remote)
        except OSError:
            pass
        if self.own_tap:
            try:
                os.close(self.tap_fd)
            except OSError:
                pass
        os.close(self._stop_r)
        os.close(self._stop_w)
        if self._pcap is not None:
            self._pcap.close()

    close = stop

    def stats(self):
        return {"to_stack": self.to_stack, "to_tap": self.to_tap, "no_peer": self.no_peer,
                "deferred": self.deferred, "sock_error": self.sock_error,
                "tap_error": self.tap_error, "oversize": self.oversize}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class KernelPeer:
    """The Linux kernel as the peer of a `dgram:LOCAL,REMOTE` stack: a private namespace
    holding tap device IFNAME with the tester address (10.0.2.2/24), and a Relay thread
    between that tap and the spec's sockets (bound at REMOTE, sending to LOCAL).

        with KernelPeer("dgram:/tmp/x/s,/tmp/x/p") as kp:   # start the stack before or after
            kp.run([sys.executable, "-c", CLIENT], timeout=60)   # runs inside the namespace
            kp.ns.name, kp.relay.stats()
        # relay stopped, REMOTE removed, namespace deleted -- also on exceptions

    `limit` bounds the relay thread's life in seconds; `qlen` raises the namespace's
    net.unix.max_dgram_qlen, which the relay's socket (created inside) takes as its
    receive-queue length (the root namespace's value is left alone); `ipv6=False` keeps
    the kernel's IPv6 chatter (router solicitations, MLD) off the link."""

    def __init__(self, spec, ip="10.0.2.2/24", ifname="tap0", limit=600.0, pcap=None,
                 qlen=256, ipv6=False, link_timeout=5.0):
        self.ifname = ifname
        self.address = ip.split("/")[0]
        self.relay = None
        self.ns = NetNS()
        try:
            if not ipv6:
                self.ns.sysctl("net.ipv6.conf.all.disable_ipv6", 1)
                self.ns.sysctl("net.ipv6.conf.default.disable_ipv6", 1)
            if qlen:
                self.ns.sysctl("net.unix.max_dgram_qlen", qlen)
            with self.ns.entered():
                fd = open_tap(ifname)
                try:
                    self.relay = Relay(spec, fd, pcap=pcap)
                except BaseException:
                    os.close(fd)
                    raise
            self.ns.ip("addr", "add", ip, "dev", ifname)
            self.ns.ip("link", "set", ifname, "up")
            self.relay.start(limit)
            wait_link_up(self.ns, ifname, link_timeout)
        except BaseException:
            self.close()
            raise

    @property
    def name(self):
        return self.ns.name

    def run(self, argv, timeout=60, **kw):
        """Run argv inside the namespace (bounded); CompletedProcess with text output."""
        return self.ns.run(argv, timeout=timeout, **kw)

    def popen(self, argv, **kw):
        return self.ns.popen(argv, **kw)

    def close(self):
        try:
            if self.relay is not None:
                self.relay.stop()
        finally:
            self.ns.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def main(argv=None):
    """`python -m ethox_uk.netsetup.relay --tap IFNAME --net dgram:L,R [--limit S]`, meant to
    run inside a namespace (ip netns exec); prints `relay: ready` once bound and the stats
    on exit (SIGTERM/SIGINT or the limit)."""
    ap = argparse.ArgumentParser(prog="python -m ethox_uk.netsetup.relay")
    ap.add_argument("--tap", required=True, help="tap device (created if missing)")
    ap.add_argument("--net", required=True, help="the STACK's spec dgram:LOCAL,REMOTE")
    ap.add_argument("--limit", type=float, default=None, help="stop after S seconds")
    ap.add_argument("--pcap", default=None)
    a = ap.parse_args(argv)
    try:
        relay = Relay(a.net, open_tap(a.tap), pcap=a.pcap)
    except (NetSetupError, ValueError) as e:
        print("relay: %s" % e, file=sys.stderr)
        return 2
    relay.start(a.limit)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print("relay: ready", flush=True)
    while relay.running() and not stop.wait(0.1):
        pass
    relay.stop()
    print("relay: stopped %s" % " ".join("%s=%d" % kv for kv in relay.stats().items()),
          flush=True)
    if relay.error is not None:
        print("relay: %r" % (relay.error,), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
