"""The click options the commands share: NETOPTS (--net/--ip/--gw/--mac/--pcap/--dns; the
values are parsed by netspec.py), VMOPTS (--accel/--machine/--mem; qemu/options.py's
VmOptions) and -p/--publish (publish.py). Parsing lives beside what it parses; only the
click wiring is here, so netspec.py, publish.py and qemu/options.py are free of click."""

import functools
import os

import click

from ..capture import check_capture_path
from ..netspec import SPEC_HELP, NetOpts, NetSpec, parse_spec
from ..publish import check_unique, parse_publish
from ..qemu.options import ACCELS, MACHINES, VmOptions
from ..build.recipe import parse_memory
from ..stack import config as _config


def _checked(parse, example=None, keep=None):
    """A click callback for an option whose text `parse` checks. None passes; parse's
    ValueError becomes a click.BadParameter saying what was wrong (the parser's words) and,
    with `example`, how a good value looks ("... (e.g. --gw 10.0.2.2)"). The option then
    holds parse's result, or keep(text) when given."""
    def callback(ctx, param, value):
        if value is None:
            return None
        try:
            parsed = parse(value)
        except ValueError as e:
            raise click.BadParameter(str(e) if example is None else
                                     "%s (e.g. %s)" % (e, example), ctx, param) from None
        return parsed if keep is None else keep(value)
    return callback


def _as_given(text):
    return text


def _parse_ip(text):
    return text if text == _config.DHCP else _config.parse_cidr(text)


# -- NETOPTS ------------------------------------------------------------------------------

_cb_spec = _checked(parse_spec)
_cb_ip = _checked(_parse_ip, "--ip 10.0.2.15/24, or --ip dhcp", keep=_as_given)
_cb_dns = _checked(_config.parse_dns, "--dns 10.0.2.3", keep=_as_given)
_cb_gw = _checked(_config.parse_ip, "--gw 10.0.2.2", keep=_as_given)
_cb_mac = _checked(_config.parse_mac, "--mac 52:54:00:12:34:56",
                   keep=lambda text: text.replace("-", ":").lower())


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


_NET_OPTIONS = (
    click.option("--net", "net_spec", metavar="SPEC", callback=_cb_spec,
                 help="Network, the stack's side: " + SPEC_HELP + "."),
    click.option("--ip", "net_ip", metavar="CIDR", callback=_cb_ip,
                 help="Stack address, e.g. 10.0.2.15/24 (default from the recipe), or "
                      "dhcp: ask a DHCP server (the ready line comes once bound)."),
    click.option("--gw", "net_gw", metavar="ADDR", callback=_cb_gw,
                 help="Gateway, e.g. 10.0.2.2."),
    click.option("--mac", "net_mac", metavar="MAC", callback=_cb_mac,
                 help="MAC address, e.g. 52:54:00:12:34:56."),
    click.option("--pcap", "net_pcap", metavar="FILE", callback=_cb_pcap,
                 help="Record every frame to FILE (classic pcap)."),
    click.option("--dns", "net_dns", metavar="ADDR[,ADDR]", callback=_cb_dns,
                 help="Name servers for socket.getaddrinfo, e.g. 10.0.2.3 (instead of "
                      "DHCP's)."),
)


def netopts(f):
    """Decorator: add NETOPTS to a click command; it receives one `net` (NetOpts)."""
    @functools.wraps(f)
    def wrapper(*args, net_spec, net_ip, net_gw, net_mac, net_pcap, net_dns, **kwargs):
        kwargs["net"] = NetOpts(net_spec, net_ip, net_gw, net_mac, net_pcap, net_dns)
        return f(*args, **kwargs)

    for opt in reversed(_NET_OPTIONS):
        wrapper = opt(wrapper)
    return wrapper


# -- VMOPTS --------------------------------------------------------------------------

_cb_mem = _checked(parse_memory, "--mem 64M", keep=lambda text: text.strip().upper())


_VM_OPTIONS = (
    click.option("--accel", "vm_accel", type=click.Choice(ACCELS), default="auto",
                 show_default=True,
                 help="kvm when /dev/kvm works (auto), else tcg with a notice."),
    click.option("--machine", "vm_machine", type=click.Choice(MACHINES), default="microvm",
                 show_default=True, help="QEMU machine (q35: virtio-pci, slower boot)."),
    click.option("--mem", "vm_mem", metavar="SIZE", callback=_cb_mem,
                 help="Guest RAM, e.g. 64M (default: the recipe's memory)."),
)


def vmopts(f):
    """Decorator: add VMOPTS to a click command; it receives one `vm` (VmOptions)."""

    @functools.wraps(f)
    def wrapper(*args, vm_accel, vm_machine, vm_mem, **kwargs):
        kwargs["vm"] = VmOptions(vm_accel, vm_machine, vm_mem)
        return f(*args, **kwargs)

    for opt in reversed(_VM_OPTIONS):
        wrapper = opt(wrapper)
    return wrapper


# -- -p/--publish ------------------------------------------------------------------------------

_cb_publish_one = _checked(parse_publish)
_cb_publish_all = _checked(check_unique)


def _cb_publish(ctx, param, values):
    out = tuple(_cb_publish_one(ctx, param, v) for v in values)
    _cb_publish_all(ctx, param, out)
    return out


publish_option = click.option(
    "-p", "--publish", "publish", multiple=True, metavar="[HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]",
    callback=_cb_publish,
    help="Forward a host port to the guest (repeatable; implies --net user). HOSTIP defaults "
         "to 127.0.0.1, the protocol to tcp, e.g. -p 8080:80 -p 5353:53/udp.")


def apply(net, publish):
    """NetOpts with -p folded in: -p implies --net user; with another --net it is an error
    (click.UsageError)."""
    if not publish:
        return net
    if net.spec is None:
        net.spec = NetSpec("user")
    elif net.spec.kind != "user":
        raise click.UsageError("-p/--publish forwards ports through QEMU's user-mode network: "
                               "drop --net %s or write --net user" % net.spec.text)
    net.publish = tuple(publish)
    return net
