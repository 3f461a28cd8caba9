"""The supervisor of one detached VM: `python -m ethox_uk.vms.supervisor VM_FOLDER`.

Started by `ethox-uk run -d` in a session of its own (it outlives the CLI and its terminal).
It reads spec.json, starts QEMU as its child (the same Vm class as `run`: QMP watch, exit
status mapping, PR_SET_PDEATHSIG), runs the console hub (log, socket, pty) and keeps
state.json current:

    starting -> running (qemu_pid, accel, pty; `ready` once the ready line is seen)
             -> exited (status as `run` would have exited, reason in words)

SIGTERM is a stop request (`ethox-uk stop`, with the timeout in stop.json): the guest is
asked to leave through its console (Ctrl-C, raw REPL, `_ethox.exit(0)`: status 0); if it is
still there after the timeout, QEMU is told to quit through QMP (then SIGTERM, SIGKILL).
QEMU killed from outside is recorded with its status (125, "killed by SIGKILL"). Whatever
happens, the exit is written before the supervisor ends and the console socket is removed.
"""

import os
import re
import signal
import sys
import time
from pathlib import Path

from . import registry
from .console import ConsoleHub

READY = re.compile(rb"^ethox-uk: ready ip=(\S+) mac=\S+", re.M)
# Ctrl-C twice (stop what runs, clear the line), Ctrl-A (raw REPL), the code, Ctrl-D (run)
SOFT_EXIT = b"\r\x03\x03\x01import _ethox\r_ethox.exit(0)\r\x04"
DEFAULT_STOP_TIMEOUT = 10.0
DRAIN_S = 0.5  # console output still read after QEMU has ended


def _note(text):
    print("ethox-uk supervisor: " + text, file=sys.stderr, flush=True)


def net_from_spec(d):
    from ..netspec import NetOpts, NetSpec, parse_spec
    from ..publish import Publish

    text = d.get("spec")
    spec = parse_spec(text) if text else NetSpec("user")  # detached default: rootless
    return NetOpts(spec, d.get("ip"), d.get("gw"), d.get("mac"), d.get("pcap"),
                   dns=d.get("dns"),
                   publish=[Publish.from_dict(p) for p in d.get("publish", [])])


def describe_exit(st, rc):
    from ..qemu import status

    if rc is not None and rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = "signal %d" % -rc
        return "QEMU was killed by %s" % name
    words = status.describe(st)
    return words or "the guest exited with status %d" % st


class Supervisor:
    def __init__(self, folder):
        self.rec = registry.Vm(folder)
        self.spec = self.rec.spec()
        self.state = {}
        self.stop_asked = False
        self.stop_deadline = None
        self.tail = bytearray()

    def save(self, **changes):
        self.state.update(changes)
        registry.write_json(self.rec.state_file, self.state)

    def _on_term(self, signum, frame):
        self.stop_asked = True

    def _watch(self, data):
        if "ready" in self.state:
            return
        self.tail += data
        m = READY.search(self.tail)
        if m:
            self.save(ready=time.time(), ip=m.group(1).decode(errors="replace"))
        else:
            del self.tail[:-512]

    def run(self):
        me = os.getpid()
        self.save(state="starting", supervisor_pid=me,
                  supervisor_start=registry.proc_start_time(me), started=time.time())
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        status, reason = 1, None
        try:
            status, reason = self._serve()
        except Exception as e:  # noqa: BLE001 - recorded, never lost
            from ..build.elfinfo import ImageError
            from ..qemu.cmdline import QemuError
            from ..qemu.status import BAD_IMAGE

            if isinstance(e, ImageError):
                status = BAD_IMAGE
            elif isinstance(e, QemuError):
                status = e.status
            elif isinstance(e, ValueError):
                status = 2
            reason = str(e)
            _note(reason)
            if not isinstance(e, (ImageError, QemuError, ValueError)):
                import traceback

                traceback.print_exc()
        finally:
            self.save(state="exited", status=status, reason=reason, exited=time.time(),
                      qemu_pid=self.state.get("qemu_pid"))
        return 0

    def _serve(self):
        from ..build.elfinfo import check
        from ..qemu.network import bridged
        from ..qemu.options import VmOptions
        from ..qemu.vm import Vm

        info = check(self.spec["image"])
        net = net_from_spec(self.spec.get("net", {}))
        v = self.spec.get("vm", {})
        vm_opts = VmOptions(v.get("accel", "auto"), v.get("machine", "microvm"), v.get("mem"))
        vm_opts.gdb, vm_opts.gdb_wait = v.get("gdb"), False  # run -d takes --gdb-nowait only
        with bridged(net, info.get("cmdline", "")) as net:
            vm = Vm(info, vm_opts, net, console="socket")
            hub = None
            try:
                vm.start()
                hub = ConsoleHub(vm.console, self.rec.log_file, self.rec.console_sock,
                                 on_output=self._watch)
                text = net.spec.text
                if hasattr(net.spec, "bridge_net"):
                    text = "bridge (namespace %s)" % net.spec.bridge_net.name
                self.save(state="running", qemu_pid=vm.proc.pid, accel=vm.accel,
                          pty=hub.pty_path, net=text)
                self._loop(vm, hub)
                rc = vm.proc.returncode
                st = vm.status()
                return st, describe_exit(st, rc)
            finally:
                if hub is not None:
                    hub.close()
                vm.close()

    def _loop(self, vm, hub):
        while True:
            hub.step(0.2)
            if self.stop_asked and self.stop_deadline is None:
                req = registry.read_json(self.rec.stop_file) or {}
                timeout = req.get("timeout", DEFAULT_STOP_TIMEOUT)
                self.stop_deadline = time.monotonic() + max(0.0, float(timeout))
                if timeout > 0:
                    hub.inject(SOFT_EXIT)
            if self.stop_deadline is not None and time.monotonic() >= self.stop_deadline \
                    and vm.running():
                _note("the guest did not leave within the stop timeout: quitting QEMU")
                vm.stop()
            if not vm.running():
                end = time.monotonic() + DRAIN_S
                while not hub.guest_eof and time.monotonic() < end:
                    hub.step(0.05)
                return


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: python -m ethox_uk.vms.supervisor VM_FOLDER (started by "
              "`ethox-uk run -d`)", file=sys.stderr)
        return 2
    return Supervisor(Path(argv[0])).run()


if __name__ == "__main__":
    sys.exit(main())
