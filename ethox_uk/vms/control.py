"""What `ps`, `logs`, `stop`, `rm` and `cp` do with background VMs (registry.py has the
records, supervisor.py the VMs themselves)."""

import json
import os
import signal
import sys
import time

from . import registry
from .registry import VmError

STOP_GRACE = 15.0  # beyond -t: the supervisor's own QMP quit / SIGTERM / SIGKILL steps


def _note(text):
    print("ethox-uk: " + text, file=sys.stderr, flush=True)


# -- ps -----------------------------------------------------------------------------------

def _ago(seconds):
    if seconds is None:
        return "?"
    s = int(seconds)
    if s < 60:
        return "%ds" % s
    if s < 3600:
        return "%dm" % (s // 60)
    if s < 86400:
        return "%dh%02dm" % (s // 3600, s % 3600 // 60)
    return "%dd%02dh" % (s // 86400, s % 86400 // 3600)


def status_text(i):
    if i["state"] == "running":
        return "up %s%s" % (_ago(i["uptime"]), "" if i["ready"] else " (booting)")
    if i["state"] == "starting":
        return "starting"
    st = "?" if i["status"] is None else str(i["status"])
    if not i["exited"]:
        return "exited (%s)" % st
    return "exited (%s) %s ago" % (st, _ago(time.time() - i["exited"]))


COLUMNS = (("NAME", "name"), ("STATUS", None), ("PID", "pid"), ("ACCEL", "accel"),
           ("NET", "net"), ("PORTS", None), ("CONSOLE", "pty"), ("IMAGE", "image"))


def ps(names=(), all_=False, as_json=False, fmt=None, out=None):
    out = out or sys.stdout
    vms = [registry.get(n) for n in names] if names else registry.all_vms()
    infos = [vm.info() for vm in vms]
    if not names and not all_:
        infos = [i for i in infos if i["state"] != "exited"]
    if as_json:
        out.write(json.dumps(infos, indent=2) + "\n")
        return 0
    if fmt is not None:
        for i in infos:
            try:
                out.write(fmt.format(**{k: ("" if v is None else v) for k, v in i.items()})
                          + "\n")
            except (KeyError, IndexError, ValueError) as e:
                raise VmError("--format %r: %s: use {name}, {pty}, {ip}, {state}, ... (the "
                              "keys of --json)" % (fmt, e), status=2) from None
        return 0
    rows = []
    for i in infos:
        row = []
        for title, key in COLUMNS:
            if title == "STATUS":
                v = status_text(i)
            elif title == "PORTS":
                v = ",".join(i["ports"]) or "-"
            elif title == "IMAGE":
                v = os.path.relpath(i["image"]) if i["image"] else "-"
                if len(v) > len(i["image"] or ""):
                    v = i["image"]
            else:
                v = i[key]
            row.append("-" if v is None or v == "" else str(v))
        rows.append(row)
    widths = [max([len(t)] + [len(r[n]) for r in rows]) for n, (t, _) in enumerate(COLUMNS)]
    for r in [[t for t, _ in COLUMNS]] + rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n")
    return 0


# -- logs ---------------------------------------------------------------------------------

def _read_tail(rec, n):
    """The last n lines (all when n is None) of console.log.1 + console.log."""
    data = b""
    for path in (str(rec.log_file) + ".1", str(rec.log_file)):
        try:
            with open(path, "rb") as f:
                data += f.read()
        except FileNotFoundError:
            pass
    if n is not None:
        lines = data.splitlines(keepends=True)
        data = b"".join(lines[-n:]) if n > 0 else b""
    return data


def logs(name, follow=False, tail=None):
    rec = registry.get(name)
    out = sys.stdout.buffer
    out.write(_read_tail(rec, tail))
    out.flush()
    if not follow:
        return 0
    path = str(rec.log_file)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        f = None
    if f is not None:
        f.seek(0, os.SEEK_END)
    try:
        quiet_since = None
        while True:
            data = f.read() if f is not None else b""
            if data:
                out.write(data)
                out.flush()
                quiet_since = None
                continue
            # rotated (console.log renamed to .1): follow the new file from its start
            try:
                if f is None or os.stat(path).st_ino != os.fstat(f.fileno()).st_ino:
                    if f is not None:
                        out.write(f.read())
                        f.close()
                    f = open(path, "rb")
                    continue
            except FileNotFoundError:
                pass
            if not rec.running():
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 0.3:
                    return 0
            time.sleep(0.1)
    except KeyboardInterrupt:
        return 0
    finally:
        if f is not None:
            f.close()


# -- stop / rm ----------------------------------------------------------------------------

def stop(rec, timeout, quiet=False):
    """Ask rec's supervisor to stop the VM (soft exit through the console, then QMP quit
    after timeout seconds); wait until its exit is recorded. True if it was running."""
    st = rec.state()
    if st.get("state") == "exited":
        return False
    registry.write_json(rec.stop_file, {"timeout": timeout, "asked": time.time()})
    pid = st.get("supervisor_pid")
    end = time.monotonic() + 10.0
    while pid is None and time.monotonic() < end:  # still starting: wait for its pid
        time.sleep(0.05)
        st = rec.state()
        pid = st.get("supervisor_pid")
        if st.get("state") == "exited":
            return True
    if pid is None or not rec.supervisor_alive(st):
        return True
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    end = time.monotonic() + timeout + STOP_GRACE
    while time.monotonic() < end:
        if rec.state().get("state") == "exited":
            return True
        time.sleep(0.05)
    # the supervisor itself does not answer: end it (QEMU follows it: PR_SET_PDEATHSIG)
    if not quiet:
        _note("%s: the supervisor did not record an exit in time: killing it" % rec.name)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True


def stop_names(names, timeout):
    rc = 0
    for name in names:
        try:
            rec = registry.get(name)
        except VmError as e:
            _note(str(e))
            rc = 1
            continue
        if not stop(rec, timeout):
            _note("%s has already exited" % name)
        else:
            i = rec.info()
            print(name, flush=True)
            if i["status"] not in (0, None) or i["state"] != "exited":
                _note("%s: %s" % (name, status_text(i)))
    return rc


def rm_names(names, force=False):
    rc = 0
    for name in names:
        try:
            rec = registry.get(name)
        except VmError as e:
            _note(str(e))
            rc = 1
            continue
        if rec.running():
            if not force:
                _note("%s is running: stop it first (ethox-uk stop %s) or use rm -f" % (name, name))
                rc = 1
                continue
            stop(rec, 0.0, quiet=True)
        rec.remove()
        print(name, flush=True)
    return rc


# -- the console of a running VM ----------------------------------------------------------

def console_of(name):
    """(unix socket path, pty path) of a running VM; VmError otherwise."""
    rec = registry.get(name)
    st = rec.state()
    if st.get("state") != "running":
        raise VmError("%s is not running (%s): start it again with ethox-uk run -d ... --name %s"
                      % (name, status_text(rec.info()), name))
    return str(rec.console_sock), st.get("pty")


# -- cp -----------------------------------------------------------------------------------

def split_remote(arg):
    """'NAME:PATH' -> (NAME, PATH) when NAME is a VM of ours; else (None, arg)."""
    name, sep, path = arg.partition(":")
    if sep and registry.NAME.match(name) and registry.exists(name):
        return name, path
    return None, arg


def cp(src, dst):
    """`cp SRC NAME:DST` or `cp NAME:SRC DST` through mpremote's transport on the VM's pty."""
    s_name, s_path = split_remote(src)
    d_name, d_path = split_remote(dst)
    if s_name is None and d_name is None:
        for arg in (src, dst):
            name, sep, _ = arg.partition(":")
            if sep and registry.NAME.match(name) and not os.path.exists(arg):
                raise VmError("cp %s: no VM named %s (`ethox-uk ps -a` lists them; a local "
                              "file name with ':' is written ./%s)" % (arg, name, arg),
                              status=2)
    if (s_name is None) == (d_name is None):
        raise VmError("cp copies between this machine and a running VM: write cp FILE "
                      "NAME:PATH or cp NAME:PATH FILE (both sides %s)"
                      % ("local" if s_name is None else "in a VM"), status=2)
    name = s_name or d_name
    _, pty = console_of(name)
    from . import files

    with files.session(pty) as t:
        if d_name is not None:
            try:
                with open(s_path, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise VmError("cannot read %s: %s" % (s_path, e.strerror or e)) from None
            target = files.target_path(t, d_path or "/", os.path.basename(s_path))
            files.write(t, target, data)
            _note("%s -> %s:%s (%d bytes)" % (s_path, name, target, len(data)))
        else:
            data = files.read(t, s_path)
            target = d_path
            if os.path.isdir(target):
                target = os.path.join(target, os.path.basename(s_path.rstrip("/")) or "file")
            try:
                with open(target, "wb") as f:
                    f.write(data)
            except OSError as e:
                raise VmError("cannot write %s: %s" % (target, e.strerror or e)) from None
            _note("%s:%s -> %s (%d bytes)" % (name, s_path, target, len(data)))
    return 0
