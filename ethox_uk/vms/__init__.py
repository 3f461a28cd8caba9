"""Background VMs: `run -d`, `ps`, `logs`, `stop`, `rm`, `exec NAME`, `repl NAME`, `cp`.

    registry.py    where VMs live (one folder each under the state root), their records
                   (spec.json from the CLI, state.json from the supervisor, written
                   atomically) and whether a VM really runs (its supervisor's pid + start
                   time, so a VM whose supervisor or QEMU died is never shown as running)
    console.py     the supervisor's console hub: the guest's serial console to a log file,
                   a unix socket (exec/repl NAME, the raw-REPL client) and a pty (mpremote)
    supervisor.py  `python -m ethox_uk.vms.supervisor DIR`: the process that owns one
                   detached VM (QEMU is its child), keeps its state and records its exit
    launch.py      `run -d`: reserve the name, start the supervisor, wait for the ready line
    control.py     ps, logs, stop, rm, cp and the console path for exec/repl NAME

A detached VM is its supervisor: a new session (setsid) that outlives the CLI; QEMU runs
under it with PR_SET_PDEATHSIG, so killing the supervisor also ends QEMU and `ps` shows the
VM exited (status unknown), and killing QEMU is recorded by the supervisor with its status.
"""
