"""The image commands of `ethox-uk` (DESIGN §5): build, run, exec, repl, inspect.

Thin click commands; the work lives in ethox_uk/build/image.py, ethox_uk/build/elfinfo.py
and ethox_uk/qemu/session.py. cli/__init__.py registers them with `main.add_command(...)`.
Errors are one line (`ethox-uk CMD: error: ...`) with the status of §5: 126 for an image
QEMU cannot boot, 120 when QEMU cannot be started, 2 for unusable options, 1 for a build
that failed.
"""

import json
import sys

import click

from .options import netopts
from .options import apply as apply_publish, publish_option
from .options import vmopts


class CommandError(click.ClickException):
    """A one-line error with its own exit status (cli._Group prints it)."""

    def __init__(self, message, exit_code=1):
        super().__init__(message)
        self.exit_code = exit_code
        # the running command, so that the error names it (`ethox-uk new: error: ...`)
        self.ctx = click.get_current_context(silent=True)


def _fail(e, status):
    return CommandError(str(e).replace("\n", "\n  ") if "\n" in str(e) else str(e), status)


def _guard(fn, *args, **kwargs):
    """Run a session function; its known errors become one-line CommandErrors."""
    from ..build.elfinfo import ImageError
    from ..qemu.cmdline import QemuError
    from ..qemu.status import BAD_IMAGE

    try:
        return fn(*args, **kwargs)
    except ImageError as e:
        raise _fail(e, BAD_IMAGE) from None
    except QemuError as e:
        raise _fail(e, e.status) from None
    except ValueError as e:
        raise _fail(e, 2) from None


def _cb_serial(ctx, param, value):
    from ..qemu.cmdline import parse_serial

    try:
        parse_serial(value)
    except ValueError as e:
        raise click.BadParameter(str(e), ctx, param) from None
    return value


class _RunCommand(click.Command):
    """`--gdb` takes its port only as --gdb=PORT or when the next word is a number, so
    `run --gdb IMAGE` means port 1234 (click alone would take IMAGE as the port)."""

    def parse_args(self, ctx, args):
        args = list(args)
        for i, a in enumerate(args):
            if a == "--":
                break
            if a == "--gdb" and not (i + 1 < len(args) and args[i + 1].isdigit()):
                args[i] = "--gdb=1234"
        return super().parse_args(ctx, args)


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
    rebuilds are quick.

    \b
    Examples:
      ethox-uk build                          # images/echo -> build/echo.elf
      ethox-uk build myapp -o /tmp/myapp.elf  # a folder made by `ethox-uk new myapp`
    """
    from ..build.image import build as do_build
    from ..build.recipe import RecipeError
    from ..build.source import ToolchainError

    try:
        do_build(recipe, output, quiet=quiet)
    except RecipeError as e:
        raise _fail(e, 2) from None
    except ToolchainError as e:
        raise _fail(e, 1) from None
    except KeyboardInterrupt:
        raise CommandError("interrupted: nothing was written", 130) from None


@click.command(cls=_RunCommand)
@click.argument("image", type=click.Path(dir_okay=False))
@netopts
@publish_option
@vmopts
@click.option("--serial", default="stdio", show_default=True, callback=_cb_serial,
              metavar="stdio|pty|unix:PATH",
              help="The guest console: this terminal, a new pty, or a unix socket that "
                   "`ethox-uk exec --attach unix:PATH` (or socat) connects to.")
@click.option("--timeout", type=click.FloatRange(min=0.1), metavar="S",
              help="Exit 124 unless the ready line appears within S seconds (--serial stdio; "
                   "with -d the default is 60).")
@click.option("-d", "--detach", is_flag=True,
              help="Run in the background: print the VM's name once its ready line is seen "
                   "and return (ps, logs, exec NAME, repl NAME, cp, stop, rm then reach it). "
                   "Without --net: --net user.")
@click.option("--name", metavar="NAME",
              help="With -d: the VM's name (default <recipe>-N), 1-32 of a-z 0-9 . _ -.")
@click.option("--gdb", "gdb", type=str, is_flag=False, flag_value="1234", metavar="[=PORT]",
              callback=lambda c, p, v: _cb_gdb(c, p, v),
              help="Start QEMU's gdb stub on 127.0.0.1:PORT (default 1234) with the guest "
                   "paused until gdb continues it; prints the gdb command line.")
@click.option("--gdb-nowait", is_flag=True,
              help="With --gdb: let the guest run at once (attach gdb whenever you like).")
def run(image, net, publish, vm, serial, timeout, detach, name, gdb, gdb_nowait):
    """Boot IMAGE in QEMU until the guest exits (or, with -d, in the background).

    Exit status: the guest's sys.exit(n); 1 for an uncaught exception; 120 QEMU failed,
    124 no ready line in time, 125 guest reset/triple fault/KVM error, 126 invalid image.
    With -d: 0 once the VM is ready (or the status above if it ends or times out first).

    \b
    Examples:
      ethox-uk run build/echo.elf -p 8080:80        # then: curl localhost:8080
      ethox-uk run build/echo.elf --serial pty      # console for mpremote
      ethox-uk run -d --name web -p 8080:80 build/echo.elf
      ethox-uk run --gdb build/echo.elf             # then the printed gdb command
    """
    from ..qemu import session

    net = apply_publish(net, publish)
    if gdb_nowait and gdb is None:
        gdb = 1234
    vm.gdb, vm.gdb_wait = gdb, not gdb_nowait
    if gdb is not None and vm.accel == "auto":
        # breakpoints work under TCG everywhere; this workplace's KVM (kvm_pvm) ignores them
        vm.accel = "tcg"
        click.echo("ethox-uk: --gdb: running under TCG so that breakpoints work (--accel kvm "
                   "to keep KVM: there hbreak needs a KVM with guest debugging)", err=True)
    if gdb is not None and vm.gdb_wait and (detach or timeout is not None):
        raise click.BadParameter("a guest paused for gdb has no ready line until gdb continues "
                                 "it: add --gdb-nowait%s" % (" (then attach gdb to the "
                                 "background VM whenever you like)" if detach else
                                 ", or drop --timeout"), param_hint="--gdb")
    if name is not None and not detach:
        raise click.BadParameter("names are for background VMs: add -d", param_hint="--name")
    if detach:
        if serial != "stdio":
            raise click.BadParameter("a background VM's console is its log (ethox-uk logs), a "
                                     "unix socket and a pty (ethox-uk ps): drop --serial",
                                     param_hint="--serial")
        from .vms import guard
        from ..vms.launch import detach as do_detach

        sys.exit(_guard(guard, do_detach, image, net, vm, name=name,
                        timeout=timeout if timeout is not None else 60.0))
    if timeout is not None and serial != "stdio":
        raise click.BadParameter("--timeout watches the console for the ready line: it needs "
                                 "--serial stdio", param_hint="--timeout")
    sys.exit(_guard(session.run, image, net, vm, serial=serial, timeout=timeout))


def _cb_gdb(ctx, param, value):
    if value is None:
        return None
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise click.BadParameter("%r is not a port: write --gdb (port 1234) or --gdb=PORT, e.g. "
                                 "--gdb=1235" % value, ctx, param)
    return int(value)


def _vm_name(arg):
    """arg as the name of a background VM (None when it is an image path)."""
    import os

    from ..vms import registry

    if not registry.exists(arg):
        if not os.path.exists(arg) and registry.NAME.match(arg) and "." not in arg:
            # neither: say both meanings, since a VM name is as likely as an image
            raise CommandError("%s: no such image or background VM: give an image file "
                               "(`ethox-uk build` writes build/<recipe>.elf) or the name of a "
                               "running VM (`ethox-uk ps`)" % arg, 126)
        return None
    if os.path.exists(arg):
        raise click.UsageError("%r is both a file and a background VM: write ./%s for the "
                               "image" % (arg, arg))
    return arg


def _no_boot_options(net, publish, vm, what):
    if net.spec or net.ip or net.gw or net.mac or net.pcap or net.dns or publish or vm.mem \
            or vm.accel != "auto" or vm.machine != "microvm":
        raise click.UsageError("%s talks to a running image: give network and VM options to "
                               "its `ethox-uk run`" % what)


@click.command("exec")
@click.argument("args", nargs=-1, metavar="IMAGE|NAME [CODE]")
@click.option("-f", "--file", "code_file", type=click.File("rb"), metavar="FILE",
              help="Run the code in FILE (- for stdin) instead of CODE.")
@click.option("--attach", metavar="unix:PATH",
              help="Run the code in an image started with `run --serial unix:PATH`.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              metavar="S", help="Seconds the image may take to boot (exit 124 after that).")
@netopts
@publish_option
@vmopts
def exec_(args, code_file, attach, timeout, net, publish, vm):
    """Boot IMAGE, run CODE (or -f FILE) in its raw REPL, print the output, exit; or run it
    in the background VM NAME (`run -d`), which keeps running.

    Exit status: the code's sys.exit(n); 1 when it raises; 0 when it runs to the end (and
    120/124/125/126 as for `run`). In a running image (NAME or --attach): 0, or 1 after an
    exception; sys.exit() there ends that image.

    \b
    Examples:
      ethox-uk exec build/echo.elf 'print(6*7)'
      ethox-uk exec web 'print(net.counters.c)'
    """
    from ..qemu import session

    want = 0 if attach else 1
    if code_file is None:
        want += 1
    if len(args) != want:
        usage = ("--attach unix:PATH (CODE | -f FILE)" if attach else
                 "IMAGE|NAME (CODE | -f FILE)")
        raise click.UsageError("expected %s" % usage)
    name = None if attach else _vm_name(args[0])
    if attach or name:
        _no_boot_options(net, publish, vm, "--attach" if attach else "exec NAME")
    code = code_file.read() if code_file is not None else args[-1].encode()
    net = apply_publish(net, publish)
    if name:
        from .vms import guard
        from ..vms.control import console_of

        sock, _ = guard(console_of, name)
        sys.exit(_guard(session.exec_attach, "unix:" + sock, code,
                        hint="is %s still running (ethox-uk ps)?" % name))
    if attach:
        sys.exit(_guard(session.exec_attach, attach, code))
    sys.exit(_guard(session.exec_code, args[0], code, net, vm, timeout=timeout))


@click.command()
@click.argument("image", metavar="IMAGE|NAME")
@netopts
@publish_option
@vmopts
def repl(image, net, publish, vm):
    """Boot IMAGE with its REPL on this terminal; Ctrl-] quits (status 0), the guest's
    sys.exit(n) ends with n. With the NAME of a background VM: its REPL, and Ctrl-] leaves
    it running.

    \b
    Examples:
      ethox-uk repl build/echo.elf -p 8080:80
      ethox-uk repl web
    """
    from ..qemu import session

    name = _vm_name(image)
    if name:
        from .vms import guard
        from ..vms import registry
        from ..vms.control import console_of

        _no_boot_options(net, publish, vm, "repl NAME")
        sock, _ = guard(console_of, name)
        st = _guard(session.repl_attach, sock, "background VM %s" % name,
                    hint="is %s still running (ethox-uk ps)?" % name)
        if st is None:  # the VM ended: its own status
            import time

            for _ in range(40):
                info = registry.get(name).info()
                if info["state"] == "exited":
                    break
                time.sleep(0.05)
            st = info["status"] if isinstance(info["status"], int) else 1
        sys.exit(st)
    sys.exit(_guard(session.repl, image, apply_publish(net, publish), vm))


@click.command()
@click.argument("image", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object: entry, pvh_entry, size, sections, frozen_modules, "
                   "micropython_version, source_sha256, recipe, revision, memory, cmdline.")
def inspect(image, as_json):
    """Show what IMAGE is: entry points, sections, frozen modules, build metadata.

    \b
    Examples:
      ethox-uk inspect build/echo.elf
      ethox-uk inspect --json build/echo.elf | jq .frozen_modules
    """
    from ..build import elfinfo

    info = _guard(elfinfo.check, image)
    if as_json:
        click.echo(json.dumps(info.as_dict(), indent=2))
    else:
        click.echo(elfinfo.format_text(info))
        click.echo(_plain_qemu(info))


def _plain_qemu(info):
    """How to boot the image without ethox-uk: the line `run` builds, as the README shows."""
    from ..qemu import cmdline

    mem, words = info.get("memory", "64M"), info.get("cmdline", "")
    try:
        line = cmdline.plain_line(info.path, mem=str(mem), append=str(words))
    except (cmdline.QemuError, ValueError) as e:  # metadata of an image built elsewhere
        return "qemu                none: %s" % e
    return ("qemu (d=$(mktemp -d) first; a peer binds $d/peer.sock and sends to "
            "$d/guest.sock; -accel tcg without KVM)\n  " + line)


COMMANDS = (build, run, exec_, repl, inspect)

