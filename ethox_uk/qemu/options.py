"""VMOPTS (DESIGN §5), parsed once for `run`, `exec`, `repl` (and `conformance`, `bench`):

    [--accel auto|kvm|tcg] [--machine microvm|q35] [--mem SIZE]

`vmopts` is the click decorator that adds the three options and hands the command one
`VmOptions` argument `vm`; --mem is checked like a recipe's `memory` (16M..16G).
"""

import functools

import click

from ..build.recipe import parse_memory

ACCELS = ("auto", "kvm", "tcg")
MACHINES = ("microvm", "q35")


class VmOptions:
    """accel in ACCELS, machine in MACHINES, mem: the string given or None (image default)."""

    def __init__(self, accel="auto", machine="microvm", mem=None):
        self.accel = accel
        self.machine = machine
        self.mem = mem
        self.gdb = None  # `run --gdb`: the gdb stub's TCP port on 127.0.0.1
        self.gdb_wait = True  # the guest waits (QEMU -S) until gdb continues it

    def __repr__(self):
        return "VmOptions(accel=%r, machine=%r, mem=%r)" % (self.accel, self.machine, self.mem)


def _cb_mem(ctx, param, value):
    if value is None:
        return None
    try:
        parse_memory(value)
    except ValueError as e:
        raise click.BadParameter("%s (e.g. --mem 64M)" % e, ctx, param) from None
    return value.strip().upper()


_OPTIONS = (
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

    for opt in reversed(_OPTIONS):
        wrapper = opt(wrapper)
    return wrapper
