"""VMOPTS (DESIGN §5), parsed once for `run`, `exec`, `repl` (and `conformance`, `bench`):

    [--accel auto|kvm|tcg] [--machine microvm|q35] [--mem SIZE]

VmOptions holds them; the click wiring (`vmopts`, --mem checked like a recipe's `memory`,
16M..16G) is in cli/options.py.
"""


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
