"""The background-VM commands of `ethox-uk`: ps, logs, stop, rm, cp (`run -d`, `exec NAME`
and `repl NAME` are the image commands' own, in image.py). Thin: the work is in
ethox_uk/vms/. cli/__init__.py registers them."""

import sys

import click


def guard(fn, *args, **kwargs):
    """VmError (and the QEMU/image errors of launching) as one-line errors with a status."""
    from .image import CommandError
    from ..vms.registry import VmError

    try:
        return fn(*args, **kwargs)
    except VmError as e:
        raise CommandError(str(e), e.status) from None


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("-a", "--all", "all_", is_flag=True, help="Exited VMs too.")
@click.option("--json", "as_json", is_flag=True,
              help="A JSON list, one object a VM (name, image, recipe, state, pid, accel, "
                   "net, ip, ports, pty, console, log, started, uptime, exited, status, ...).")
@click.option("--format", "fmt", metavar="TEMPLATE",
              help="One line a VM from TEMPLATE with the --json keys, e.g. '{name} {pty}'.")
def ps(names, all_, as_json, fmt):
    """List the background VMs (`run -d`): name, status (up / exited with its exit status),
    QEMU's pid, accelerator, network, published ports, console pty and image. Without NAME
    only those not exited; -a shows all.

    \b
    Examples:
      ethox-uk ps -a
      ethox-uk ps --format '{pty}' web        # the console for mpremote
    """
    from ..vms import control

    if as_json and fmt:
        raise click.UsageError("give --json or --format, not both")
    sys.exit(guard(control.ps, names, all_, as_json, fmt))


@click.command()
@click.argument("name")
@click.option("-f", "--follow", is_flag=True,
              help="Keep printing what comes until the VM exits (or Ctrl-C).")
@click.option("--tail", type=click.IntRange(min=0), metavar="N",
              help="Only the last N lines of what is there already.")
def logs(name, follow, tail):
    """Print the serial console of background VM NAME (kept while it runs and after, until
    `ethox-uk rm NAME`).

    \b
    Example:
      ethox-uk logs -f --tail 20 web
    """
    from ..vms import control

    sys.exit(guard(control.logs, name, follow, tail))


@click.command()
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@click.option("-t", "--time", "timeout", type=click.FloatRange(min=0), default=10.0,
              show_default=True, metavar="SECONDS",
              help="How long the guest may take to leave after being asked through its "
                   "console (it then exits 0); after that QEMU is told to quit.")
def stop(names, timeout):
    """Stop background VMs: ask the guest to exit through its console, then end QEMU. The VM
    stays listed (ps -a) with its exit status until `ethox-uk rm`.

    \b
    Example:
      ethox-uk stop -t 2 web
    """
    from ..vms import control

    sys.exit(guard(control.stop_names, names, timeout))


@click.command()
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@click.option("-f", "--force", is_flag=True, help="Stop running VMs first.")
def rm(names, force):
    """Remove background VMs that have exited: their state, console log and sockets.

    \b
    Example:
      ethox-uk rm -f web
    """
    from ..vms import control

    sys.exit(guard(control.rm_names, names, force))


@click.command()
@click.argument("src", metavar="SRC")
@click.argument("dst", metavar="DST")
def cp(src, dst):
    """Copy a file into or out of a running background VM's filesystem:
    `cp FILE NAME:PATH` or `cp NAME:PATH FILE` (PATH a folder: the file's name is kept).
    It uses mpremote's transport on the VM's console.

    \b
    Examples:
      ethox-uk cp config.json web:/config.json
      ethox-uk cp web:/log.txt .
    """
    from ..vms import control

    sys.exit(guard(control.cp, src, dst))


COMMANDS = (ps, logs, stop, rm, cp)
