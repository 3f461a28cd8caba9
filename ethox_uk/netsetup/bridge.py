"""DESIGN §5's `--net bridge` layout (HOST-ONLY, CPython, root).

A private namespace holding a bridge with the guest's tap device and one end of a veth pair;
the other end of the veth is the tester (10.0.2.2/24) and stays in the namespace too:

        namespace exuk-<pid>-<n>
        +------------------------------------------------------+
        |  br0 (bridge, no address)                            |
        |   +-- tap0      <- the guest (QEMU -netdev tap)      |
        |   +-- vbr0 ====== veth0  10.0.2.2/24  <- the tester  |
        +------------------------------------------------------+

    with BridgeNet() as br:
        print(br.describe())                      # the namespace name and how to reach it
        # either QEMU runs inside the namespace and opens the tap by name ...
        argv = br.prefix() + qemu_argv(netdev=br.qemu_netdev())
        # ... or it inherits a tap fd opened inside the namespace (what `run` does):
        fd = br.open_tap(vnet_hdr=True)
        argv = qemu_argv(netdev=br.qemu_netdev(fd=fd))
        Popen(argv, pass_fds=[fd])
        br.wait_guest_link()                      # tap carrier up (QEMU attached)
        br.run(["curl", "http://10.0.2.15/"], timeout=30)   # the tester, inside
    # everything removed (namespace deletion takes the devices with it)

The tap is persistent (`ip tuntap add`) so QEMU can attach to it by name; it is owned by
the namespace and vanishes with it. Nothing here touches the root namespace.
"""

from .netns import NetNS, wait_link_up
from .relay import open_tap


class BridgeNet:
    def __init__(self, tester_ip="10.0.2.2/24", tap="tap0", bridge="br0", veth="veth0",
                 veth_br="vbr0", ipv6=False):
        self.tap = tap
        self.bridge = bridge
        self.veth = veth
        self.veth_br = veth_br
        self.tester_cidr = tester_ip
        self.tester_ip = tester_ip.split("/")[0]
        self.ns = NetNS()
        try:
            ns = self.ns
            if not ipv6:
                ns.sysctl("net.ipv6.conf.all.disable_ipv6", 1)
                ns.sysctl("net.ipv6.conf.default.disable_ipv6", 1)
            # no STP: ports forward at once instead of after the forward delay
            ns.ip("link", "add", bridge, "type", "bridge", "stp_state", "0",
                  "forward_delay", "0")
            ns.ip("tuntap", "add", "dev", tap, "mode", "tap")
            ns.ip("link", "set", tap, "master", bridge)
            ns.ip("link", "add", veth, "type", "veth", "peer", "name", veth_br)
            ns.ip("link", "set", veth_br, "master", bridge)
            ns.ip("addr", "add", tester_ip, "dev", veth)
            for dev in (bridge, tap, veth_br, veth):
                ns.ip("link", "set", dev, "up")
        except BaseException:
            self.ns.close()
            raise

    @property
    def name(self):
        return self.ns.name

    def prefix(self):
        """argv prefix running a command inside the namespace (QEMU, the tester's tools)."""
        return self.ns.prefix()

    def run(self, argv, timeout=60, **kw):
        """Run argv inside the namespace (bounded); CompletedProcess with text output."""
        return self.ns.run(argv, timeout=timeout, **kw)

    def popen(self, argv, **kw):
        return self.ns.popen(argv, **kw)

    def open_tap(self, vnet_hdr=False):
        """A non-blocking fd on the guest's tap, opened inside the namespace, for QEMU's
        `-netdev tap,fd=N` (pass it with pass_fds); the caller closes it. vnet_hdr: with
        IFF_VNET_HDR, so QEMU offers its guest the virtio-net offloads."""
        with self.ns.entered():
            return open_tap(self.tap, vnet_hdr=vnet_hdr)

    def qemu_netdev(self, netdev_id="n0", fd=None):
        """QEMU's -netdev value: by name (QEMU must run inside: prefix()) or by fd. With
        fd= QEMU 7.2 refuses vnet_hdr=: it reads IFF_VNET_HDR off the fd itself."""
        if fd is not None:
            return "tap,id=%s,fd=%d" % (netdev_id, fd)
        return "tap,id=%s,ifname=%s,script=no,downscript=no" % (netdev_id, self.tap)

    def wait_guest_link(self, timeout=10.0):
        """Wait until the tap's carrier is up (someone holds it open); frames the kernel
        sends to the guest before that are dropped."""
        wait_link_up(self.ns, self.tap, timeout)

    def describe(self, guest="10.0.2.15"):
        return ("network namespace %s: bridge %s holds %s (the guest) and %s; the tester "
                "%s (%s) is inside it, e.g.: ip netns exec %s curl http://%s/"
                % (self.name, self.bridge, self.tap, self.veth_br, self.veth,
                   self.tester_cidr, self.name, guest))

    def close(self):
        self.ns.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
