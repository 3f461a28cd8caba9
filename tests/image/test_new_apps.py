"""`ethox-uk new` for each template: the folder builds, boots detached with its port published
(--net user, rootless) and answers real clients on 127.0.0.1; the http template goes through
the README's quick start: curl, an edit through `mpremote mount .` + reload(), stop, rm.
Every command runs without any capability (setpriv empties the bounding set, so even as
root the processes and QEMU hold none: no namespace, tap or privileged port is possible):
the quick start needs no root. KVM on microvm (TCG when /dev/kvm is unusable)."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from test_pipeline import KVM, T_CMD, eu as eu_argv, free_port

MPREMOTE = str(Path(sys.executable).parent / "mpremote")
NO_CAPS = ["setpriv", "--bounding-set", "-all", "--inh-caps", "-all", "--no-new-privs", "--"]


@pytest.fixture(scope="module")
def work():
    """A folder outside the repository (as a user's own), with its own VM state."""
    d = Path(tempfile.mkdtemp(prefix="eunew", dir="/tmp"))
    env = dict(os.environ, ETHOX_UK_STATE=str(d / "state"))
    yield d, env
    names = os.listdir(d / "state") if (d / "state").is_dir() else []
    if names:
        subprocess.run(eu_argv() + ["rm", "-f"] + names, cwd=d, env=env, capture_output=True,
                       timeout=120)
    shutil.rmtree(d, ignore_errors=True)


def eu(work, *args, timeout=T_CMD, cwd=None):
    d, env = work
    return subprocess.run(NO_CAPS + eu_argv() + [str(a) for a in args], cwd=cwd or d, env=env,
                          capture_output=True, timeout=timeout)


def effective_caps(pid):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    raise AssertionError("no CapEff in /proc/%d/status" % pid)


def new_and_start(work, name, template, guest_port, *extra_publish):
    r = eu(work, "new", name, "--template", template)
    assert r.returncode == 0, r.stderr.decode()
    r = eu(work, "build", "-q", name, timeout=900)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    port = free_port()
    args = ["run", "-d", "--name", name, "-p", "%d:%d" % (port, guest_port)]
    for p in extra_publish:
        args += ["-p", p % port]
    r = eu(work, *(args + ["build/%s.elf" % name, "--accel", KVM]))
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().strip() == name
    return port


def finish(work, name):
    r = eu(work, "stop", name)
    assert r.returncode == 0, r.stderr.decode()
    r = eu(work, "rm", name)
    assert r.returncode == 0, r.stderr.decode()
    assert not (work[0] / "state" / name).exists()


def curl(port, path="/"):
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "http://localhost:%d%s" % (port, path)],
                       capture_output=True, timeout=40)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def nc(port, data, udp=False):
    argv = ["nc", "-u", "-w2"] if udp else ["nc", "-q2", "-w10"]
    r = subprocess.run(argv + ["127.0.0.1", str(port)], input=data, capture_output=True,
                       timeout=40)
    return r.stdout


def test_http_template_quick_start(work):
    port = new_and_start(work, "myapp", "http", 80)
    assert b"<p>Hello from myapp!</p>" in curl(port)
    qemu_pid = int(eu(work, "ps", "--format", "{pid}", "myapp").stdout)
    assert effective_caps(qemu_pid) == 0
    assert curl(port, "/bytes/300") == bytes(i & 255 for i in range(300))
    app = work[0] / "myapp" / "app.py"
    app.write_text(app.read_text().replace("Hello from myapp!", "Edited on the host"))
    pty = eu(work, "ps", "--format", "{pty}", "myapp").stdout.decode().strip()
    r = subprocess.run(NO_CAPS + [MPREMOTE, "connect", pty, "resume", "mount", ".", "exec",
                                  "reload()"],
                       cwd=work[0] / "myapp", capture_output=True, timeout=T_CMD)
    assert r.returncode == 0, r.stderr.decode()
    assert b"<p>Edited on the host</p>" in curl(port)
    finish(work, "myapp")


def test_echo_template_answers_udp_and_tcp(work):
    port = new_and_start(work, "myecho", "echo", 7, "%d:7/udp")
    assert nc(port, b"over tcp\n") == b"over tcp\n"
    assert nc(port, b"over udp\n", udp=True) == b"over udp\n"
    finish(work, "myecho")


def test_asyncio_template_answers_in_capitals(work):
    port = new_and_start(work, "myaio", "asyncio", 7)
    assert nc(port, b"hello\nasyncio streams\n") == b"HELLO\nASYNCIO STREAMS\n"
    finish(work, "myaio")
