"""`--net bridge` for `run`, `exec` and `repl` (DESIGN §5), and what `run` does without --net.

    with bridged(net) as net2:      # net: netspec.NetOpts with spec.kind == "bridge"
        Vm(info, vm_opts, net2, ...)   # QEMU starts inside the namespace (ip netns exec)

A private namespace (netsetup.BridgeNet: bridge br0 holding tap0 = the guest and vbr0, whose
veth peer veth0 = 10.0.2.2/24 is the tester) is made, its name printed with how to reach the
guest, and deleted on exit: normal end, error, Ctrl-C, SIGTERM (NetNS turns SIGTERM/SIGHUP
into SystemExit; its atexit hook is the backstop). ethox-uk opens tap0 itself, inside the
namespace, with a vnet header (IFF_VNET_HDR: QEMU offers the guest checksum, TSO and GRO
offloads only then) and QEMU inherits it as `-netdev tap,id=n0,fd=N` (with fd= QEMU 7.2
refuses `vnet_hdr=on` and reads the flag off the fd itself); our copy is closed once QEMU
has started. So QEMU needs no CAP_NET_ADMIN: it drops root with `-runas`
(cmdline.unprivileged_user) once its files and devices are open. It still runs inside the
namespace (`ip netns exec NAME`), so even a QEMU taken over by its guest sees only the
private network; the console and QMP sockets it inherits pass through `ip netns exec`
unchanged, and nothing of the test network (10.0.2.0/24) ever exists in the root namespace.
`--pcap` works as for any netdev (filter-dump on n0).
"""

import os
import shutil
import sys
import tempfile
from contextlib import contextmanager

from ..netspec import NetOpts, NetSpec
from .cmdline import QemuError, unprivileged_user


class BridgeSpec(NetSpec):
    """The bridge SPEC once its namespace exists: the guest's tap as an fd for QEMU to
    inherit, the argv prefix that runs QEMU inside the namespace, and the unprivileged
    `user` QEMU drops to."""

    def __init__(self, bridge_net, tap_fd, user):
        super().__init__("bridge", text="bridge")
        self.bridge_net = bridge_net
        self.tap_fd = tap_fd
        self.user = user

    def qemu_netdev(self, netdev_id="n0"):
        return self.bridge_net.qemu_netdev(netdev_id, fd=self.tap_fd)

    def prefix(self):
        return self.bridge_net.prefix()

    def pass_fds(self):
        return () if self.tap_fd is None else (self.tap_fd,)

    def release_tap(self):
        """Close our copy of the tap (QEMU holds its own once started; the guest's link
        must go down when QEMU ends, not when we do)."""
        if self.tap_fd is not None:
            os.close(self.tap_fd)
            self.tap_fd = None


def _note(text):
    print("ethox-uk: " + text, file=sys.stderr, flush=True)


def guest_ip(net, cmdline=""):
    try:
        from ..stack.config import format_ip

        config = net.config(cmdline)
        return "(its DHCP address)" if config.dhcp else format_ip(config.ip)
    except Exception:  # noqa: BLE001 - only for the message
        return "10.0.2.15"


@contextmanager
def bridged(net, cmdline="", announce=True):
    """NetOpts with the bridge set up (a copy; others pass through unchanged)."""
    if net is None or net.spec is None or net.spec.kind != "bridge":
        yield net
        return
    from ..netsetup import BridgeNet, NetSetupError

    if os.geteuid() != 0:
        raise QemuError("--net bridge makes a network namespace, which needs root "
                        "(CAP_SYS_ADMIN, CAP_NET_ADMIN): run as root, or use "
                        "--net dgram:LOCAL,REMOTE (rootless)", status=2)
    user = unprivileged_user()
    try:
        # IPv6 on in the namespace: the image speaks it (ip6=auto), so the tester can
        # ping -6 / curl -6 its link-local address (or a global one from a router there)
        br = BridgeNet(ipv6=True)
    except NetSetupError as e:
        raise QemuError("--net bridge: %s" % e, status=2) from None
    try:
        spec = BridgeSpec(br, br.open_tap(vnet_hdr=True), user)
    except NetSetupError as e:
        br.close()
        raise QemuError("--net bridge: %s" % e, status=2) from None
    try:
        ip = guest_ip(net, cmdline)
        if announce:
            _note("--net bridge: network namespace %s (bridge %s: guest %s, tester %s %s); "
                  "reach the guest with e.g. `ip netns exec %s ping %s` or `ip netns exec %s "
                  "curl http://%s/` (IPv6: `ping -6 ADDR%%%s`, ADDR from the ready line's "
                  "ip6=); it is removed when the guest ends"
                  % (br.name, br.bridge, br.tap, br.veth, br.tester_cidr, br.name, ip,
                     br.name, ip, br.veth))
        yield net.with_spec(spec)
    finally:
        spec.release_tap()
        br.close()


@contextmanager
def default_net(net, interactive):
    """No --net: the image still needs its virtio-net device (without one it stops with
    status 3), so it gets one. On a terminal as root: --net bridge, so the guest is
    reachable at once; otherwise a private dgram pair in a fresh /tmp folder (removed on
    exit), named in one line when on a terminal. With --net: as given."""
    if net is None:
        net = NetOpts()
    if net.spec is not None:
        yield net
        return
    if net.pcap:  # recording a link nobody else is on says nothing: ask which link
        raise QemuError("--pcap records the frames of --net: give --net as well", status=2)
    if interactive and os.geteuid() == 0 and shutil.which("ip"):
        _note("no --net given: using --net bridge (root: a private namespace with the guest "
              "and a tester at 10.0.2.2; see below)")
        yield net.with_spec(NetSpec("bridge"))
        return
    d = tempfile.mkdtemp(prefix="exr", dir="/tmp")
    local, remote = os.path.join(d, "guest.sock"), os.path.join(d, "peer.sock")
    try:
        if interactive:
            _note("no --net given: using --net dgram:%s,%s (a peer binds %s and sends to %s, "
                  "e.g. `ethox-uk conformance --attach dgram:%s,%s`)"
                  % (local, remote, remote, local, local, remote))
        yield net.with_spec(NetSpec("dgram", local, remote))
    finally:
        shutil.rmtree(d, ignore_errors=True)
