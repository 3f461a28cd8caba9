"""Background VMs with real QEMU: `run -d` / `ps` / `logs` / `exec NAME` / `repl NAME` /
`stop` / `rm`, a VM killed from outside (QEMU, and its supervisor), names refused twice,
no ready line in time. Every command runs as a user runs it (a subprocess of the CLI, which
exits while the VM lives on). State lives in a private ETHOX_UK_STATE."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from test_pipeline import KVM, REPO, T_CMD, free_port

T_STOP = 30


@pytest.fixture(scope="module")
def image():
    r = subprocess.run([sys.executable, "-m", "ethox_uk.cli", "build", "-q"], cwd=REPO,
                       capture_output=True, timeout=900)
    assert r.returncode == 0, r.stderr.decode()[-4000:]
    return REPO / "build" / "echo.elf"


@pytest.fixture
def env():
    d = tempfile.mkdtemp(prefix="eust", dir="/tmp")  # short: the console socket lives there
    e = dict(os.environ, ETHOX_UK_STATE=d)
    yield e
    # whatever a failed test left running: stop and remove it
    subprocess.run([sys.executable, "-m", "ethox_uk.cli", "rm", "-f"] + os.listdir(d),
                   env=e, capture_output=True, timeout=120) if os.listdir(d) else None
    shutil.rmtree(d, ignore_errors=True)


def eu(env, *args, timeout=T_CMD, **kw):
    return subprocess.run([sys.executable, "-m", "ethox_uk.cli"] + [str(a) for a in args],
                          cwd=REPO, env=env, capture_output=True, timeout=timeout, **kw)


def ps(env, *names):
    r = eu(env, "ps", "-a", "--json", *names)
    assert r.returncode == 0, r.stderr.decode()
    return {i["name"]: i for i in json.loads(r.stdout)}


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % pid) as f:
        return f.read().split(") ")[1][0] != "Z"


def wait_exited(env, name, timeout=T_STOP):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        i = ps(env, name)[name]
        if i["state"] == "exited":
            return i
        time.sleep(0.1)
    raise AssertionError("%s still %s" % (name, i["state"]))


def test_life_cycle(image, env):
    port = free_port()
    r = eu(env, "run", "-d", "--name", "web", "-p", "%d:80" % port, image, "--accel", KVM)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout == b"web\n"  # the name alone on stdout (for scripts)
    assert b"mpremote connect /dev/pts/" in r.stderr
    i = ps(env)["web"]
    assert i["state"] == "running" and alive(i["pid"]) and alive(i["supervisor_pid"])
    assert i["ports"] == ["127.0.0.1:%d->80/tcp" % port] and i["net"] == "user"
    assert i["accel"] == KVM and i["ip"] == "10.0.2.15" and i["pty"].startswith("/dev/pts/")
    assert i["recipe"] == "echo" and i["image"] == str(image) and i["uptime"] >= 0
    table = eu(env, "ps").stdout.decode().splitlines()
    assert table[0].split()[:3] == ["NAME", "STATUS", "PID"] and table[1].startswith("web ")
    # it serves, and the CLI that started it is long gone
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "http://127.0.0.1:%d/bytes/300"
                        % port], capture_output=True, timeout=40)
    assert r.returncode == 0 and r.stdout == (bytes(range(256)) * 2)[:300], r.stderr
    # exec NAME: the live interpreter, twice (state kept), an exception is status 1
    r = eu(env, "exec", "web", "x = 6 * 7")
    assert r.returncode == 0, r.stderr.decode()
    r = eu(env, "exec", "web", "print(x, net.config.ready_line()[:15])")
    assert (r.returncode, r.stdout) == (0, b"42 ethox-uk: ready\n"), r.stderr.decode()
    r = eu(env, "exec", "web", "1/0")
    assert r.returncode == 1 and b"ZeroDivisionError" in r.stderr
    # repl NAME with piped lines: the answer, and the VM keeps running
    r = eu(env, "repl", "web", input=b"print('from repl', x + 1)\n")
    assert r.returncode == 0 and b"from repl 43" in r.stdout, r.stderr.decode()
    # logs: the serial console, whole or its tail
    r = eu(env, "logs", "web")
    assert r.returncode == 0 and b"ethox-uk: ready ip=10.0.2.15" in r.stdout
    assert b"MicroPython v1.25.0" in r.stdout and b"from repl 43" in r.stdout
    r = eu(env, "logs", "--tail", "1", "web")
    assert r.returncode == 0 and r.stdout.count(b"\n") <= 1 and len(r.stdout) < 100
    # logs -f follows until the VM ends by itself
    f = subprocess.Popen([sys.executable, "-m", "ethox_uk.cli", "logs", "-f", "--tail", "0",
                          "web"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        assert eu(env, "exec", "web", "print('follow me')").returncode == 0
        r = eu(env, "stop", "-t", "5", "web", timeout=60)
        assert (r.returncode, r.stdout) == (0, b"web\n"), r.stderr.decode()
        out, _ = f.communicate(timeout=20)
        assert f.returncode == 0 and b"follow me" in out and b"ethox-uk: ready" not in out
    finally:
        if f.poll() is None:
            f.kill()
    i = ps(env)["web"]
    assert i["state"] == "exited" and i["status"] == 0  # the soft stop: the guest's exit(0)
    assert not alive(i["pid"]) and not alive(i["supervisor_pid"])
    assert "web" not in eu(env, "ps").stdout.decode()  # without -a: running ones only
    assert b"exited (0)" in eu(env, "ps", "-a").stdout
    r = eu(env, "exec", "web", "print(1)")
    assert r.returncode == 1 and b"web is not running" in r.stderr
    r = eu(env, "stop", "web")
    assert r.returncode == 0 and b"already exited" in r.stderr
    r = subprocess.run(["curl", "-sS", "--max-time", "3", "http://127.0.0.1:%d/" % port],
                       capture_output=True, timeout=20)
    assert r.returncode != 0  # the port is closed with the VM
    r = eu(env, "rm", "web")
    assert (r.returncode, r.stdout) == (0, b"web\n")
    assert os.listdir(env["ETHOX_UK_STATE"]) == []  # nothing left behind
    assert b"no VM named web" in eu(env, "logs", "web").stderr


def test_same_name_refused_and_timeout(image, env):
    r = eu(env, "run", "-d", "--name", "dup", image, "--accel", KVM)
    assert r.returncode == 0, r.stderr.decode()
    r = eu(env, "run", "-d", "--name", "dup", image, "--accel", KVM)
    assert r.returncode == 2
    assert b"a VM named dup exists already (running): stop it first" in r.stderr
    assert eu(env, "stop", "-t", "0", "dup", timeout=60).returncode == 0
    i = ps(env)["dup"]
    assert i["state"] == "exited" and i["status"] == 130  # QEMU told to quit at once
    r = eu(env, "run", "-d", "--name", "dup", image, "--accel", KVM)
    assert r.returncode == 2 and b"(exited): remove it first (ethox-uk rm dup)" in r.stderr
    # a default name is the recipe's with the first free number
    r = eu(env, "run", "-d", image, "--accel", KVM)
    assert (r.returncode, r.stdout) == (0, b"echo-1\n"), r.stderr.decode()
    # no ready line in time: stopped, status 124, its log kept
    r = eu(env, "run", "-d", "--name", "slow", "--timeout", "0.1", image, "--accel", KVM,
           timeout=90)
    assert r.returncode == 124 and b"no ready line within 0.1 s" in r.stderr
    assert wait_exited(env, "slow")["state"] == "exited"
    r = eu(env, "rm", "-f", "echo-1", "dup", "slow", timeout=90)
    assert r.returncode == 0 and r.stdout.split() == [b"echo-1", b"dup", b"slow"]
    assert os.listdir(env["ETHOX_UK_STATE"]) == []


def test_killed_from_outside(image, env):
    for name in ("q", "s"):
        r = eu(env, "run", "-d", "--name", name, image, "--accel", KVM)
        assert r.returncode == 0, r.stderr.decode()
    q, s = ps(env)["q"], ps(env)["s"]
    os.kill(q["pid"], signal.SIGKILL)  # QEMU, behind its supervisor's back
    i = wait_exited(env, "q")
    assert i["status"] == 125 and i["reason"] == "QEMU was killed by SIGKILL", i
    assert not alive(q["supervisor_pid"])
    os.kill(s["supervisor_pid"], signal.SIGKILL)  # the supervisor itself: QEMU follows
    i = wait_exited(env, "s")
    assert i["status"] is None and "supervisor ended" in i["reason"]
    end = time.monotonic() + 10
    while alive(s["pid"]) and time.monotonic() < end:
        time.sleep(0.1)
    assert not alive(s["pid"])  # PR_SET_PDEATHSIG took QEMU with it
    out = eu(env, "ps", "-a").stdout.decode()
    assert "up " not in out and "exited (125)" in out and "exited (?)" in out
    r = eu(env, "rm", "q", "s")
    assert r.returncode == 0 and os.listdir(env["ETHOX_UK_STATE"]) == []
    assert not Path("/proc/%d" % s["pid"]).exists() or not alive(s["pid"])
