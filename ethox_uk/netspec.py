"""NETOPTS (DESIGN §5), parsed once for `host`, `run`, `exec`, `repl`, `conformance`, `bench`:

    [--net SPEC] [--ip CIDR] [--gw ADDR] [--mac MAC] [--pcap FILE]

SPEC always names the stack's side:
    dgram:LOCAL,REMOTE   bind a unix datagram socket at LOCAL, send to REMOTE (each path under
                         100 bytes); for `run` exactly QEMU's `-netdev dgram` (see qemu_netdev)
    tap:IFNAME           an existing tap device (inside a network namespace)
    bridge               a private namespace with a bridge (VM mode; host mode rejects it)

`parse_spec(text)` returns a NetSpec or raises ValueError with a one-line message saying what
was wrong and what to write instead; `netopts` is the click decorator that adds the five
options (validated with BadParameter) and hands the command one `NetOpts` argument `net`.
"""

import functools
import os

import click

from .capture import check_capture_path
from .stack import config as _config
from .stack.nic.dgram import MAX_PATH
from .stack.nic.tap import check_ifname

KINDS = ("dgram", "tap", "bridge")
SPEC_HELP = "dgram:LOCAL,REMOTE | tap:IFNAME | bridge"
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
        raise ValueError("the bridge SPEC is set up by ethox-uk itself; no single -netdev")

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
    if kind == "bridge":
        if sep:
            raise ValueError("'bridge' takes no argument: write just --net bridge")
        return NetSpec("bridge", text=text)
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
    """The parsed NETOPTS. `ip`, `gw`, `mac` are the strings given (None when absent)."""

    def __init__(self, spec=None, ip=None, gw=None, mac=None, pcap=None):
        self.spec = spec
        self.ip = ip
        self.gw = gw
        self.mac = mac
        self.pcap = pcap

    def config(self, cmdline=""):
        """A stack Config: the boot words, with --ip/--gw/--mac winning (ValueError)."""
        return _config.Config.from_words(cmdline, ip=self.ip, gw=self.gw, mac=self.mac)

    def boot_words(self, cmdline=""):
        """cmdline with --ip/--gw/--mac replacing the matching words (for an image)."""
        over = {"ip": self.ip, "gw": self.gw, "mac": self.mac}
        words = [w for w in cmdline.split() if w.split("=", 1)[0] not in over
                 or over[w.split("=", 1)[0]] is None]
        words += ["%s=%s" % (k, v) for k, v in over.items() if v is not None]
        return " ".join(words)

    def __repr__(self):
        return "NetOpts(spec=%r, ip=%r, gw=%r, mac=%r, pcap=%r)" % (
            self.spec, self.ip, self.gw, self.mac, self.pcap)


# -- click ------------------------------------------------------------------------------

def _cb_spec(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_spec(value)
    except ValueError as e:
        raise click.BadParameter(str(e), ctx, param) from None


def _cb_ip(ctx, param, value):
    if value is None:
        return None
    try:
        _config.parse_cidr(value)
    except ValueError as e:
        raise click.BadParameter("%s (e.g. --ip 10.0.2.15/24)" % e, ctx, param) from None
    return value


def _cb_gw(ctx, param, value):
    if value is None:
        return None
    try:
        _config.parse_ip(value)
    except ValueError as e:
        raise click.BadParameter("%s (e.g. --gw 10.0.2.2)" % e, ctx, param) from None
    return value


def _cb_mac(ctx, param, value):
    if value is None:
        return None
    try:
        _config.parse_mac(value)
    except ValueError as e:
        raise click.BadParameter("%s (e.g. --mac 52:54:00:12:34:56)" % e, ctx,
                                 param) from None
    return value.replace("-", ":").lower()


def _cb_pcap(ctx, param, value):
    if value is None:
        return None
    parent = os.path.dirname(os.path.abspath(value))
    if not os.path.isdir(parent):
        raise click.BadParameter("directory %s does not exist: create it or pick another "
                                 "file" % parent, ctx, param)
    if os.path.isdir(value):
        raise click.BadParameter("%s is a directory: give a file name, e.g. %s"
                                 % (value, os.path.join(value, "trace.pcap")), ctx, param)
    try:
        check_capture_path(value)
    except ValueError as e:
        raise click.BadParameter(str(e), ctx, param) from None
    return value


_OPTIONS = (
    click.option("--net", "net_spec", metavar="SPEC", callback=_cb_spec,
                 help="Network, the stack's side: " + SPEC_HELP + "."),
    click.option("--ip", "net_ip", metavar="CIDR", callback=_cb_ip,
                 help="Stack address, e.g. 10.0.2.15/24 (default from the recipe)."),
    click.option("--gw", "net_gw", metavar="ADDR", callback=_cb_gw,
                 help="Gateway, e.g. 10.0.2.2."),
    click.option("--mac", "net_mac", metavar="MAC", callback=_cb_mac,
                 help="MAC address, e.g. 52:54:00:12:34:56."),
    click.option("--pcap", "net_pcap", metavar="FILE", callback=_cb_pcap,
                 help="Record every frame to FILE (classic pcap)."),
)


def netopts(f):
    """Decorator: add NETOPTS to a click command; it receives one `net` (NetOpts)."""
    @functools.wraps(f)
    def wrapper(*args, net_spec, net_ip, net_gw, net_mac, net_pcap, **kwargs):
        kwargs["net"] = NetOpts(net_spec, net_ip, net_gw, net_mac, net_pcap)
        return f(*args, **kwargs)

    for opt in reversed(_OPTIONS):
        wrapper = opt(wrapper)
    return wrapper
