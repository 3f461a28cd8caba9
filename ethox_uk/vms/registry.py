"""Where background VMs live and what they are.

    root()                       $ETHOX_UK_STATE, else $XDG_RUNTIME_DIR/ethox-uk, else
                                 ~/.local/state/ethox-uk (created 0700)
    reserve(name) -> Path        the VM's folder, made atomically (mkdir): a second VM of
                                 that name is refused (VmError) whether the first runs or not
    get(name) -> Vm              VmError when there is none
    all_vms() -> [Vm]            sorted by name
    free_name(base)              base-1, base-2, ... (the first not taken)

A VM's folder: spec.json (what `run -d` asked for, from the CLI), state.json (from the
supervisor: starting | running | exited, pids, times, exit status), console.log (+ .1, the
serial console), console.sock (the console for exec/repl), supervisor.log (QEMU's and the
supervisor's messages), stop.json (a pending stop request). JSON files are written to a
temporary file and renamed, so a reader never sees half a file.
"""

import json
import os
import re
import shutil
import time
from pathlib import Path

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
NAME_HELP = "1-32 of a-z, 0-9, '.', '_', '-', starting with a letter or digit"
MAX_SOCKET_PATH = 99


class VmError(Exception):
    """A registry problem; str() is one line saying what to do. .status: the exit status."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def root() -> Path:
    env = os.environ.get("ETHOX_UK_STATE")
    if env:
        base = Path(env)
    elif os.environ.get("XDG_RUNTIME_DIR") and os.path.isdir(os.environ["XDG_RUNTIME_DIR"]):
        base = Path(os.environ["XDG_RUNTIME_DIR"]) / "ethox-uk"
    else:
        base = Path.home() / ".local" / "state" / "ethox-uk"
    try:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as e:
        raise VmError("cannot create the VM state folder %s: %s (set ETHOX_UK_STATE to a "
                      "writable folder)" % (base, e.strerror or e)) from None
    return base


def check_name(name):
    if not NAME.match(name or ""):
        raise VmError("VM name %r: expected %s, e.g. web-1" % (name, NAME_HELP), status=2)
    return name


def write_json(path: Path, data):
    tmp = path.with_name("." + path.name + ".%d.tmp" % os.getpid())
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def proc_start_time(pid):
    """The kernel's start time of pid (clock ticks since boot), or None if it is gone:
    with the pid it names one process, never a later one that reused the number."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except (OSError, TypeError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":  # a zombie has ended
        return None
    return int(fields[19])


class Vm:
    """One VM's folder: paths, records and its effective state."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.name = self.path.name

    # -- files
    @property
    def spec_file(self):
        return self.path / "spec.json"

    @property
    def state_file(self):
        return self.path / "state.json"

    @property
    def log_file(self):
        return self.path / "console.log"

    @property
    def console_sock(self):
        return self.path / "console.sock"

    @property
    def supervisor_log(self):
        return self.path / "supervisor.log"

    @property
    def stop_file(self):
        return self.path / "stop.json"

    def spec(self):
        return read_json(self.spec_file) or {}

    def raw_state(self):
        return read_json(self.state_file) or {}

    def supervisor_alive(self, st=None):
        st = st if st is not None else self.raw_state()
        pid, started = st.get("supervisor_pid"), st.get("supervisor_start")
        return pid is not None and proc_start_time(pid) == started

    def state(self):
        """state.json with "state" made true: a VM whose supervisor is gone is exited."""
        st = self.raw_state()
        if not st:
            st = {"state": "starting"}
        if st.get("state") in ("starting", "running") and not self.supervisor_alive(st):
            if st.get("supervisor_pid") is None and time.time() - self._created() < 10:
                return st  # the supervisor has not written its first state yet
            st = dict(st, state="exited", status=None,
                      reason="its supervisor ended without recording an exit (killed?)")
        return st

    def running(self):
        return self.state().get("state") in ("starting", "running")

    def _created(self):
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    def info(self):
        """Everything `ps --json` shows of this VM."""
        spec, st = self.spec(), self.state()
        now = time.time()
        started = st.get("started")
        return {
            "name": self.name,
            "image": spec.get("image"),
            "recipe": spec.get("recipe"),
            "state": st.get("state"),
            "pid": st.get("qemu_pid"),
            "supervisor_pid": st.get("supervisor_pid"),
            "accel": st.get("accel"),
            "machine": spec.get("machine"),
            "net": st.get("net") or spec.get("net_text"),
            "ip": st.get("ip"),
            "ports": spec.get("ports_text", []),
            "publish": spec.get("publish", []),
            "pty": st.get("pty") if st.get("state") == "running" else None,
            "console": str(self.console_sock),
            "log": str(self.log_file),
            "created": spec.get("created"),
            "started": started,
            "ready": st.get("ready"),
            "uptime": (now - started) if started and st.get("state") == "running" else None,
            "exited": st.get("exited"),
            "status": st.get("status"),
            "reason": st.get("reason"),
        }

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


def reserve(name) -> Path:
    check_name(name)
    d = root() / name
    sock = d / "console.sock"
    if len(os.fsencode(str(sock))) > MAX_SOCKET_PATH:
        raise VmError("the console socket %s would be longer than %d bytes (sun_path): set "
                      "ETHOX_UK_STATE to a shorter folder, e.g. /tmp/eu" % (sock, MAX_SOCKET_PATH),
                      status=2)
    try:
        d.mkdir(mode=0o700)
    except FileExistsError:
        vm = Vm(d)
        what = "running" if vm.running() else "exited"
        hint = ("stop it first (ethox-uk stop %s) or pick another --name" % name
                if what == "running" else "remove it first (ethox-uk rm %s) or pick another "
                "--name" % name)
        raise VmError("a VM named %s exists already (%s): %s" % (name, what, hint),
                      status=2) from None
    return d


def get(name) -> Vm:
    if not NAME.match(name or ""):
        raise VmError("no VM named %r (`ethox-uk ps -a` lists them)" % name)
    d = root() / name
    if not d.is_dir():
        raise VmError("no VM named %s (`ethox-uk ps -a` lists them)" % name)
    return Vm(d)


def exists(name) -> bool:
    try:
        return bool(NAME.match(name or "")) and (root() / name).is_dir()
    except VmError:
        return False


def all_vms():
    try:
        base = root()
    except VmError:
        return []
    return [Vm(p) for p in sorted(base.iterdir()) if p.is_dir() and NAME.match(p.name)]


def free_name(base):
    base = re.sub(r"[^a-z0-9_.-]", "-", (base or "vm").lower()).strip("-.") or "vm"
    base = base[:28]
    taken = {p.name for p in root().iterdir()}
    n = 1
    while "%s-%d" % (base, n) in taken:
        n += 1
    return "%s-%d" % (base, n)


def port_owner(publish):
    """'VM NAME' if a running VM of ours publishes this host port, else None."""
    for vm in all_vms():
        if not vm.running():
            continue
        for p in vm.spec().get("publish", []):
            if (p.get("proto"), p.get("host_port")) == (publish.proto, publish.host_port) \
                    and p.get("host_ip") in (publish.host_ip, "0.0.0.0"):
                return "VM %s" % vm.name
    return None
