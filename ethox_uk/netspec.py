"""NETOPTS (DESIGN §5), parsed once for `host`, `run`, `exec`, `repl`, `conformance`, `bench`:

    [--net SPEC] [--ip CIDR|dhcp] [--gw ADDR] [--mac MAC] [--dns ADDR[,ADDR]] [--pcap FILE]

SPEC always names the stack's side:
    dgram:LOCAL,REMOTE   bind a unix datagram socket at LOCAL, send to REMOTE (each path under
                         100 bytes); for `run` exactly QEMU's `-netdev dgram` (see qemu_netdev)
    tap:IFNAME           an existing tap device (inside a network namespace)
    bridge               a private namespace with a bridge (VM mode; host mode rejects it)
    user                 QEMU's user-mode network, always restrict=on (VM mode, rootless):
                         the guest reaches nothing outside; `-p` publishes ports into it

`parse_spec(text)` returns a NetSpec or raises ValueError with a one-line message saying what
was wrong and what to write instead; NetOpts holds the parsed options (the click wiring,
`netopts`, is in cli/options.py).
"""

import os

from .stack import config as _config
from .stack.nic.dgram import MAX_PATH
from .stack.nic.tap import check_ifname

KINDS = ("dgram", "tap", "bridge", "user")
VM_ONLY = ("bridge", "user")  # set up by QEMU / ethox-uk around a VM: no host-mode NIC
SPEC_HELP = "dgram:LOCAL,REMOTE | tap:IFNAME | bridge | user"
DGRAM_EXAMPLE = "dgram:/tmp/ethox.sock,/tmp/peer.sock"


class NetSpec:
    """kind in KINDS; `local`/`remote` for dgram, `ifname` for tap; `text` as given."""

    def __init__(self, kind, local=None, remote=None, ifname=None, text=None):
        self.kind = kind
        self.local = local
        self.remote = remote
        self.ifname = ifname
        self.text = text if text is not None else self.format()

    def format(self):
        if self.kind == "dgram":
            return "dgram:%s,%s" % (self.local, self.remote)
        if self.kind == "tap":
            return "tap:%s" % self.ifname
        return self.kind

    def peer(self):
        """The SPEC the other side uses (a peer binds REMOTE and sends to LOCAL)."""
        if self.kind != "dgram":
            raise ValueError("only a dgram SPEC has a peer side")
        return NetSpec("dgram", self.remote, self.local)

    def qemu_netdev(self, netdev_id="n0"):
        """The value of QEMU's -netdev for this SPEC (dgram and tap)."""
        if self.kind == "dgram":
            return ("dgram,id=%s,local.type=unix,local.path=%s,remote.type=unix,"
                    "remote.path=%s" % (netdev_id, self.local, self.remote))
        if self.kind == "tap":
            return "tap,id=%s,ifname=%s,script=no,downscript=no" % (netdev_id, self.ifname)
        raise ValueError("the %s SPEC is set up by ethox-uk itself (ethox_uk.qemu.cmdline); "
                         "no single -netdev" % self.kind)

    def __eq__(self, other):
        return isinstance(other, NetSpec) and (self.kind, self.local, self.remote,
                                               self.ifname) == (other.kind, other.local,
                                                                other.remote, other.ifname)

    def __repr__(self):
        return "NetSpec(%r)" % self.format()


def _check_socket_path(path, which):
    if not path:
        raise ValueError("%s path is empty: write dgram:LOCAL,REMOTE, e.g. %s"
                         % (which, DGRAM_EXAMPLE))
    n = len(path.encode())
    if n > MAX_PATH:
        raise ValueError("%s socket path is %d bytes, the limit is 99 (sun_path): use a "
                         "shorter path, e.g. under /tmp" % (which, n))
    if "," in path:
        raise ValueError("%s socket path %r contains ',' (QEMU splits options on it)"
                         % (which, path))
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError("%s socket directory %s does not exist: create it first"
                         % (which, parent))


def parse_spec(text):
    text = text.strip()
    kind, sep, rest = text.partition(":")
    if kind not in KINDS:
        raise ValueError("unknown network %r: expected %s" % (text, SPEC_HELP))
    if kind in VM_ONLY:
        if sep:
            hint = " (ports are published with -p HOSTPORT:GUESTPORT)" if kind == "user" else ""
            raise ValueError("'%s' takes no argument: write just --net %s%s" % (kind, kind, hint))
        return NetSpec(kind, text=text)
    if kind == "tap":
        try:
            check_ifname(rest)
        except ValueError as e:
            raise ValueError("%s: write tap:IFNAME, e.g. tap:tap0" % e) from None
        return NetSpec("tap", ifname=rest, text=text)
    parts = rest.split(",")
    if len(parts) != 2:
        raise ValueError("%r: write dgram:LOCAL,REMOTE (two socket paths, the stack's "
                         "first), e.g. %s" % (text, DGRAM_EXAMPLE))
    local, remote = parts[0].strip(), parts[1].strip()
    _check_socket_path(local, "LOCAL")
    _check_socket_path(remote, "REMOTE")
    if os.path.abspath(local) == os.path.abspath(remote):
        raise ValueError("LOCAL and REMOTE are the same path %r: the peer needs its own "
                         "socket, e.g. %s" % (local, DGRAM_EXAMPLE))
    return NetSpec("dgram", local, remote, text=text)


class NetOpts:
    """The parsed NETOPTS. `ip`, `gw`, `mac`, `dns` are the strings given (None when
    absent); ip may be "dhcp". `publish`: the -p ports (publish.Publish) of a `--net user`
    VM."""

    def __init__(self, spec=None, ip=None, gw=None, mac=None, pcap=None, dns=None,
                 publish=()):
        self.spec = spec
        self.ip = ip
        self.gw = gw
        self.mac = mac
        self.pcap = pcap
        self.dns = dns
        self.publish = tuple(publish)

    def with_spec(self, spec):
        """A copy on another SPEC (the bridge and default-network set-ups)."""
        return NetOpts(spec, self.ip, self.gw, self.mac, self.pcap, self.dns, self.publish)

    def config(self, cmdline=""):
        """A stack Config: the boot words, with --ip/--gw/--mac/--dns winning (ValueError)."""
        return _config.Config.from_words(cmdline, ip=self.ip, gw=self.gw, mac=self.mac,
                                         dns=self.dns)

    def boot_words(self, cmdline=""):
        """cmdline with --ip/--gw/--mac/--dns replacing the matching words (for an image)."""
        over = {"ip": self.ip, "gw": self.gw, "mac": self.mac, "dns": self.dns}
        words = [w for w in cmdline.split() if w.split("=", 1)[0] not in over
                 or over[w.split("=", 1)[0]] is None]
        words += ["%s=%s" % (k, v) for k, v in over.items() if v is not None]
        return " ".join(words)

    def __repr__(self):
        return "NetOpts(spec=%r, ip=%r, gw=%r, mac=%r, pcap=%r, dns=%r, publish=%r)" % (
            self.spec, self.ip, self.gw, self.mac, self.pcap, self.dns, self.publish)
