"""The image commands of `ethox-uk` (DESIGN §5): build, run, exec, repl, inspect.

Thin click commands; the work lives in ethox_uk/build/image.py, ethox_uk/build/elfinfo.py
and ethox_uk/qemu/session.py. cli.py registers them with `main.add_command(...)`.
Errors are one line (`ethox-uk CMD: error: ...`) with the status of §5: 126 for an image
QEMU cannot boot, 120 when QEMU cannot be started, 2 for unusable options, 1 for a build
that failed.
"""

import json
import sys

import click

from .netspec import netopts
from .qemu.options import vmopts


class CommandError(click.ClickException):
    """A one-line error with its own exit status (cli._Group prints it)."""

    def __init__(self, message, exit_code=1):
        super().__init__(message)
        self.exit_code = exit_code


def _fail(e, status):
    return CommandError(str(e).replace("\n", "\n  ") if "\n" in str(e) else str(e), status)


def _guard(fn, *args, **kwargs):
    """Run a session function; its known errors become one-line CommandErrors."""
    from .build.elfinfo import ImageError
    from .qemu.cmdline import QemuError
    from .qemu.status import BAD_IMAGE

    try:
        return fn(*args, **kwargs)
    except ImageError as e:
        raise _fail(e, BAD_IMAGE) from None
    except QemuError as e:
        raise _fail(e, e.status) from None
    except ValueError as e:
        raise _fail(e, 2) from None


def _cb_serial(ctx, param, value):
    from .qemu.cmdline import parse_serial

    try:
        parse_serial(value)
    except ValueError as e:
        raise click.BadParameter(str(e), ctx, param) from None
    return value


@click.command()
@click.argument("recipe", required=False, metavar="[RECIPE]")
@click.option("-o", "--output", metavar="IMAGE", type=click.Path(dir_okay=False),
              help="Where to write the image (default build/<recipe name>.elf).")
@click.option("-q", "--quiet", is_flag=True, help="No progress, no summary line.")
def build(recipe, output, quiet):
    """Build RECIPE's image: images/<name>, a recipe folder or its recipe.toml (default
    images/echo). Fetches and checks the pinned MicroPython source on first use, freezes the
    stack, the app and asyncio, and links a PVH ELF that QEMU boots with -kernel. make's
    work folder (in the cache: $ETHOX_UK_CACHE/work/<recipe name>-<key>) is kept, so
    rebuilds are quick."""
    from .build.image import build as do_build
    from .build.recipe import RecipeError
    from .build.source import ToolchainError

    try:
        do_build(recipe, output, quiet=quiet)
    except RecipeError as e:
        raise _fail(e, 2) from None
    except ToolchainError as e:
        raise _fail(e, 1) from None
    except KeyboardInterrupt:
        raise CommandError("interrupted: nothing was written", 130) from None


@click.command()
@click.argument("image", type=click.Path(dir_okay=False))
@netopts
@vmopts
@click.option("--serial", default="stdio", show_default=True, callback=_cb_serial,
              metavar="stdio|pty|unix:PATH",
              help="The guest console: this terminal, a new pty, or a unix socket that "
                   "`ethox-uk exec --attach unix:PATH` (or socat) connects to.")
@click.option("--timeout", type=click.FloatRange(min=0.1), metavar="S",
              help="Exit 124 unless the ready line appears within S seconds (--serial stdio).")
def run(image, net, vm, serial, timeout):
    """Boot IMAGE in QEMU (DESIGN §5's command line) until the guest exits.

    Exit status: the guest's sys.exit(n); 1 for an uncaught exception; 120 QEMU failed,
    124 no ready line in time, 125 guest reset/triple fault/KVM error, 126 invalid image."""
    from .qemu import session

    if timeout is not None and serial != "stdio":
        raise click.BadParameter("--timeout watches the console for the ready line: it needs "
                                 "--serial stdio", param_hint="--timeout")
    sys.exit(_guard(session.run, image, net, vm, serial=serial, timeout=timeout))


@click.command("exec")
@click.argument("args", nargs=-1, metavar="[IMAGE] [CODE]")
@click.option("-f", "--file", "code_file", type=click.File("rb"), metavar="FILE",
              help="Run the code in FILE (- for stdin) instead of CODE.")
@click.option("--attach", metavar="unix:PATH",
              help="Run the code in an image started with `run --serial unix:PATH`.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              metavar="S", help="Seconds the image may take to boot (exit 124 after that).")
@netopts
@vmopts
def exec_(args, code_file, attach, timeout, net, vm):
    """Boot IMAGE, run CODE (or -f FILE) in its raw REPL, print the output, exit.

    Exit status: the code's sys.exit(n); 1 when it raises; 0 when it runs to the end (and
    §5's 120/124/125/126). With --attach the code runs in the live image, which keeps
    running (exit 0, or 1 after an exception; sys.exit() there ends that image)."""
    from .qemu import session

    want = 0 if attach else 1
    if code_file is None:
        want += 1
    if len(args) != want:
        usage = ("--attach unix:PATH (CODE | -f FILE)" if attach else "IMAGE (CODE | -f FILE)")
        raise click.UsageError("expected %s" % usage)
    if attach:
        if net.spec or net.ip or net.gw or net.mac or net.pcap or vm.mem \
                or vm.accel != "auto" or vm.machine != "microvm":
            raise click.UsageError("--attach talks to a running image: give network and VM "
                                   "options to its `ethox-uk run`")
    code = code_file.read() if code_file is not None else args[-1].encode()
    if attach:
        sys.exit(_guard(session.exec_attach, attach, code))
    sys.exit(_guard(session.exec_code, args[0], code, net, vm, timeout=timeout))


@click.command()
@click.argument("image", type=click.Path(dir_okay=False))
@netopts
@vmopts
def repl(image, net, vm):
    """Boot IMAGE with its REPL on this terminal; Ctrl-] quits (status 0), the guest's
    sys.exit(n) ends with n."""
    from .qemu import session

    sys.exit(_guard(session.repl, image, net, vm))


@click.command()
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object (DESIGN §5's keys).")
def inspect(image, as_json):
    """Show what IMAGE is: entry points, sections, frozen modules, build metadata."""
    from .build import elfinfo

    info = _guard(elfinfo.check, image)
    if as_json:
        click.echo(json.dumps(info.as_dict(), indent=2))
    else:
        click.echo(elfinfo.format_text(info))
        click.echo(_plain_qemu(info))


def _plain_qemu(info):
    """How to boot the image without ethox-uk: the line `run` builds, as the README shows."""
    from .qemu import cmdline

    mem, words = info.get("memory", "64M"), info.get("cmdline", "")
    try:
        line = cmdline.plain_line(info.path, mem=str(mem), append=str(words))
    except (cmdline.QemuError, ValueError) as e:  # metadata of an image built elsewhere
        return "qemu                none: %s" % e
    return ("qemu (d=$(mktemp -d) first; a peer binds $d/peer.sock and sends to "
            "$d/guest.sock; -accel tcg without KVM)\n  " + line)


COMMANDS = (build, run, exec_, repl, inspect)

