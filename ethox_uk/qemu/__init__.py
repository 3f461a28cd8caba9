"""QEMU for ethox-uk images (host side, CPython).

    status.py    the exit-status contract of DESIGN §5 (guest 0x10+n -> QEMU 33+2n -> n)
    kvm.py       does /dev/kvm work? (probed once per process)
    options.py   VmOptions (--accel/--machine/--mem; their click wiring is in cli/options.py)
    cmdline.py   the canonical QEMU command line of DESIGN §5
    network.py   the network around a run: `--net bridge` (QEMU inside a namespace with a
                 bridge, a tap and a peer) and the default link
    qmp.py       a QMP watcher (qemu.qmp) that notices KVM internal errors and guest panics
    vm.py        one QEMU process: start, console, stderr filter, stop, exit status (the one
                 driver: run/exec/repl, background VMs, the demo and bench --image use it)
    rawrepl.py   a small raw-REPL client (the protocol mpremote speaks)
    session.py   what `run`, `exec`, `exec --attach` and `repl` do
"""
