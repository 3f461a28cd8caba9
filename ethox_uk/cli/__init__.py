"""The `ethox-uk` command line (DESIGN §5). Commands are thin: options are parsed and
validated here (click BadParameter: one line, status 2); the work lives in the modules named
in each command."""

import sys

import click

from .. import __version__
from .options import netopts
from .options import vmopts


class _Group(click.Group):
    """Usage errors as one line on stderr (`ethox-uk host: error: ...`), status 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.ClickException as e:
            where = e.ctx.command_path if getattr(e, "ctx", None) else "ethox-uk"
            hint = " (see %s --help)" % where if isinstance(e, click.UsageError) else ""
            click.echo("%s: error: %s%s" % (where, e.format_message(), hint), err=True)
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("ethox-uk: aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ethox-uk")
def main():
    """Unikernel images whose TCP/IP stack is written in (Micro)Python."""


@main.command()
@click.argument("recipe", metavar="RECIPE")
@netopts
def host(recipe, net):
    """Run RECIPE's app on the stack under CPython on a host NIC (no VM).

    RECIPE is images/<name>, a recipe folder or its recipe.toml. Needs --net, e.g.
    --net dgram:/tmp/ethox.sock,/tmp/peer.sock (a peer binds the second path and sends to the
    first) or --net tap:tap0 inside a network namespace. Prints the ready line when serving;
    stops cleanly on SIGINT/SIGTERM.

    \b
    Example:
      ethox-uk host images/echo --net dgram:/tmp/ethox.sock,/tmp/peer.sock
    """
    from ..host.runner import run

    sys.exit(run(recipe, net))


@main.command()
@click.option("--recipe", default="images/echo", show_default=True, metavar="RECIPE",
              help="The recipe to build and boot (or serve with --host); its app must answer "
                   "UDP echo on 7 and HTTP on 80.")
@click.option("--host", "host_mode", is_flag=True,
              help="Demo the stack in host mode (CPython, no VM) instead of the booted image.")
@click.option("--accel", type=click.Choice(["auto", "kvm", "tcg"]), default="auto",
              show_default=True, help="QEMU accelerator for the image (auto: KVM, else TCG).")
@click.option("--machine", type=click.Choice(["microvm", "q35"]), default="microvm",
              show_default=True)
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(1, 600),
              help="Seconds to wait for the ready line.")
def demo(recipe, host_mode, accel, machine, timeout):
    """Build and boot the echo image over unix datagram sockets (rootless) and talk to it
    with scapy: ARP, ping, UDP echo and an HTTP GET over crafted TCP segments. Exit 1 if
    anything is unanswered.

    \b
    Examples:
      ethox-uk demo
      ethox-uk demo --host                    # the same app under CPython, no VM
    """
    if host_mode:
        from ..demo import run_demo

        sys.exit(run_demo(recipe, timeout))
    from ..demo import run_image_demo

    sys.exit(run_image_demo(recipe, accel, machine, timeout))


@main.command()
@click.option("--host", "host_recipe", metavar="RECIPE",
              help="Benchmark RECIPE's app in host mode (default images/echo).")
@click.option("--image", "image", metavar="IMAGE", type=click.Path(dir_okay=False),
              help="Benchmark the booted IMAGE under KVM and TCG instead (VMOPTS apply).")
@click.option("--runs", default=5, show_default=True, type=click.IntRange(1, 100),
              help="--image: runs per figure (the median is shown).")
@click.option("--json", "json_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write the results as JSON to FILE ('-': the JSON alone on stdout, "
                   "the tables on stderr).")
@click.option("--count", default=2000, show_default=True, type=click.IntRange(10, 10**7),
              help="Round trips per measurement.")
@click.option("--no-micropython", is_flag=True,
              help="Skip the MicroPython unix-port runs (CPython only).")
@click.option("--quick", is_flag=True,
              help="Host mode: every figure once and small (1 MiB bulk, the loss table at "
                   "1 %, 1 s of connections) -- to see that the bench runs after a change, "
                   "not to compare figures.")
@click.option("--net", "link", type=click.Choice(["tap", "bridge", "dgram"]),
              help="--image: measure the data path with real clients (ping, nc, curl) on this "
                   "link in a private namespace, under KVM and TCG (root).")
@click.option("--versus", multiple=True, metavar="NAME=CMD",
              callback=lambda c, p, v: _parse_versus(c, p, v),
              help="With --net: also boot this guest (CMD with @TAP@, or @LOCAL@/@REMOTE@ for "
                   "dgram), run the same clients and print the ratios. Repeatable.")
@vmopts
def bench(host_recipe, image, runs, json_path, count, no_micropython, quick, link, versus, vm):
    """Host mode: ICMP and UDP echo round trips/s and TCP bulk throughput each way and
    connections/s (in-memory pair and dgram sockets) under CPython and MicroPython, with
    allocations per packet/segment under MicroPython.

    With --image IMAGE: boot times beside a minimal kernel's, ARP, ping RTT, TCP throughput
    with the Linux kernel as peer, register accesses per frame, idle CPU, image size, a
    1,000,000-iteration loop and -m 16M, under KVM (when usable) and TCG.

    With --image IMAGE --net tap|bridge|dgram: ping p50/p99, into discard, from chargen and
    HTTP with real clients in a private namespace, the offloads negotiated and frames per
    kick; --versus NAME=CMD measures another guest the same way in the same run.

    \b
    Example: ethox-uk bench --image build/echo.elf --net tap \\
      --versus linux="qemu-system-x86_64 -M microvm,accel=tcg ... -netdev tap,id=n0,ifname=@TAP@,..."
    """
    from .. import jsonout

    sys.exit(jsonout.run(json_path, lambda path: _bench(host_recipe, image, runs, path, count,
                                                        no_micropython, quick, link, versus,
                                                        vm)))


def _bench(host_recipe, image, runs, json_path, count, no_micropython, quick, link, versus,
           vm):
    if (link or versus) and image is None:
        raise click.UsageError("--net and --versus measure a booted image: give --image IMAGE")
    if versus and not link:
        raise click.UsageError("--versus needs --net tap|bridge|dgram (the link both guests use)")
    if image is not None:
        if quick:
            raise click.UsageError("--quick is for host mode: leave out --image (an image's "
                                   "bench takes --runs 1 for a shorter run)")
        if host_recipe is not None:
            raise click.UsageError("give --image or --host, not both")
        if link:
            from ..bench.link import run_link_bench

            return run_link_bench(image, link, vm, versus, json_path)
        from ..bench.image import run_bench as run_image_bench

        return run_image_bench(image, vm, json_path, runs)
    from ..bench.host import run_bench

    return run_bench(host_recipe or "images/echo", json_path, count,
                     micropython=not no_micropython, quick=quick)


def _parse_versus(ctx, param, values):
    from ..bench.link import parse_versus

    return parse_versus(ctx, param, values)


def _register_others():
    # Commands that live in their own modules (thin as well): build, run, exec, repl, inspect
    # (image.py), ps, logs, stop, rm, cp (vms.py), new (new.py) and conformance
    # (conformance.py), each a module of this package.
    from .image import COMMANDS
    from .new import COMMANDS as NEW_COMMANDS
    from .vms import COMMANDS as VM_COMMANDS
    from .conformance import conformance

    for c in COMMANDS + VM_COMMANDS + NEW_COMMANDS + (conformance,):
        main.add_command(c)


_register_others()

