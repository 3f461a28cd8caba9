"""`ethox-uk run -d [--name NAME]`: start a VM in the background.

    status = detach(image, net, vm_opts, name=None, timeout=60)

Checks what can be checked here (the image, the published ports), reserves the name (its
folder, atomically), writes spec.json, starts the supervisor in a session of its own and
waits for the ready line in its state. Then prints the name on stdout (and on stderr how to
reach the VM) and returns 0. If the guest ends first: its status, with the end of its
console; no ready line within timeout seconds: the VM is stopped, 124 (as `run --timeout`).
The folder of a VM that never ran stays, so `ethox-uk logs NAME` can show what happened;
`ethox-uk rm NAME` removes it.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

from . import registry

POLL_S = 0.05


def _note(text):
    print("ethox-uk: " + text, file=sys.stderr, flush=True)


def _spec(info, image, net, vm_opts, name):
    publish = [p.as_dict() for p in net.publish]
    return {
        "name": name,
        "image": str(Path(image).resolve()),
        "recipe": info.get("recipe"),
        "created": time.time(),
        "net": {"spec": net.spec.text if net.spec is not None else None, "ip": net.ip,
                "gw": net.gw, "mac": net.mac, "dns": net.dns,
                "pcap": os.path.abspath(net.pcap) if net.pcap else None,
                "publish": publish},
        "net_text": net.spec.text if net.spec is not None else "user",
        "publish": publish,
        "ports_text": [str(p) for p in net.publish],
        "vm": {"accel": vm_opts.accel, "machine": vm_opts.machine, "mem": vm_opts.mem,
               "gdb": getattr(vm_opts, "gdb", None)},
    }


def _package_parent():
    import ethox_uk

    return str(Path(ethox_uk.__file__).resolve().parent.parent)


def spawn_supervisor(folder: Path):
    """The supervisor in a new session, cwd /, its output in supervisor.log."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [_package_parent()] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    log = open(folder / "supervisor.log", "ab")
    try:
        return subprocess.Popen([sys.executable, "-m", "ethox_uk.vms.supervisor", str(folder)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/",
                                env=env, start_new_session=True, close_fds=True)
    finally:
        log.close()


def _tail(path: Path, lines=10):
    try:
        data = path.read_bytes()[-4096:]
    except OSError:
        return []
    return [line.rstrip() for line in data.decode(errors="replace").splitlines() if line.strip()][
        -lines:]


def detach(image, net, vm_opts, name=None, timeout=60.0):
    from ..build.elfinfo import check
    from ..publish import check_free
    from ..qemu.cmdline import QemuError
    from ..qemu.status import TIMEOUT

    info = check(image)  # ImageError: status 126, before anything is made
    if net.spec is not None and net.spec.kind == "bridge" and os.geteuid() != 0:
        raise QemuError("--net bridge makes a network namespace, which needs root: run as "
                        "root, or use --net user with -p HOSTPORT:GUESTPORT (rootless)",
                        status=2)
    if net.publish:
        try:
            check_free(net.publish, owner=registry.port_owner)
        except ValueError as e:
            raise QemuError(str(e), status=2) from None
    name = registry.check_name(name) if name else registry.free_name(info.get("recipe"))
    folder = registry.reserve(name)
    rec = registry.Vm(folder)
    registry.write_json(rec.spec_file, _spec(info, image, net, vm_opts, name))
    proc = spawn_supervisor(folder)
    end = time.monotonic() + timeout
    try:
        while True:
            st = rec.state()
            if st.get("ready"):
                break
            if st.get("state") == "exited" or proc.poll() is not None:
                proc.wait()
                st = rec.state()
                status = st.get("status")
                for line in _tail(rec.log_file) + _tail(rec.supervisor_log, 5):
                    print("  " + line, file=sys.stderr)
                _note("%s ended before it was ready: %s (ethox-uk logs %s; ethox-uk rm %s)"
                      % (name, st.get("reason") or "status %s" % status, name, name))
                return status if isinstance(status, int) else 1
            if time.monotonic() >= end:
                _note("%s: no ready line within %g s: stopping it (status 124; ethox-uk logs "
                      "%s)" % (name, timeout, name))
                from .control import stop

                stop(rec, 5.0, quiet=True)
                return TIMEOUT
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        from .control import stop

        _note("interrupted: stopping %s" % name)
        stop(rec, 0.0, quiet=True)
        return 130
    info_ = rec.info()
    print(name, flush=True)
    where = ["console %s (mpremote connect %s resume repl)" % (info_["pty"], info_["pty"])]
    if info_["ports"]:
        where.insert(0, "ports " + ", ".join(info_["ports"]))
    _note("%s is running (%s): %s; ethox-uk exec %s CODE | logs %s | stop %s"
          % (name, info_["net"], "; ".join(where), name, name, name))
    from ..qemu.session import announce_gdb

    announce_gdb(info, vm_opts)
    return 0
