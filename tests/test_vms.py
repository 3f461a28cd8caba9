"""Background VMs without QEMU: the registry (names, atomic reservation, true state when a
supervisor died), the console hub (log, socket client, pty) and the CLI's refusals. The
life cycle with real VMs is in tests/image/test_background.py."""

import json
import os
import select
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from ethox_uk import cli
from ethox_uk.publish import parse_publish
from ethox_uk.vms import control, registry
from ethox_uk.vms.console import ConsoleHub
from ethox_uk.vms.registry import VmError


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("ETHOX_UK_STATE", str(tmp_path / "st"))
    return tmp_path / "st"


def invoke(*args):
    return CliRunner().invoke(cli.main, list(args), prog_name="ethox-uk")


def test_state_root_choice(tmp_path, monkeypatch):
    monkeypatch.setenv("ETHOX_UK_STATE", str(tmp_path / "a"))
    assert registry.root() == tmp_path / "a" and (tmp_path / "a").is_dir()
    assert oct((tmp_path / "a").stat().st_mode & 0o777) == "0o700"
    monkeypatch.delenv("ETHOX_UK_STATE")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert registry.root() == tmp_path / "ethox-uk"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "missing"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert registry.root() == tmp_path / "home" / ".local" / "state" / "ethox-uk"


def test_names_are_checked_and_reserved_once(state):
    for bad in ("", "Web", "-x", "a/b", "x" * 33, "a b"):
        with pytest.raises(VmError) as e:
            registry.reserve(bad)
        assert e.value.status == 2 and "expected 1-32 of a-z" in str(e.value)
    d = registry.reserve("web")
    assert d.is_dir()
    with pytest.raises(VmError) as e:
        registry.reserve("web")
    assert e.value.status == 2 and "a VM named web exists already" in str(e.value)
    assert registry.free_name("Echo App") == "echo-app-1"
    registry.reserve("echo-app-1")
    assert registry.free_name("echo app") == "echo-app-2"


def test_long_state_paths_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("ETHOX_UK_STATE", str(tmp_path / ("d" * 90)))
    with pytest.raises(VmError, match="set ETHOX_UK_STATE to a shorter folder"):
        registry.reserve("web")


def test_a_dead_supervisor_is_never_running(state):
    rec = registry.Vm(registry.reserve("x"))
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        registry.write_json(rec.state_file, {
            "state": "running", "supervisor_pid": p.pid,
            "supervisor_start": registry.proc_start_time(p.pid), "started": time.time()})
        assert rec.running() and rec.info()["state"] == "running"
    finally:
        p.kill()
        p.wait()
    st = rec.state()
    assert st["state"] == "exited" and st["status"] is None and "supervisor" in st["reason"]
    assert not rec.running()
    # a pid reused by another process (another start time) is not the supervisor either
    registry.write_json(rec.state_file, {"state": "running", "supervisor_pid": os.getpid(),
                                         "supervisor_start": 1})
    assert not rec.running()


def test_port_owner_names_a_running_vm(state):
    rec = registry.Vm(registry.reserve("web"))
    registry.write_json(rec.spec_file, {"publish": [parse_publish("8080:80").as_dict()]})
    registry.write_json(rec.state_file, {"state": "running", "supervisor_pid": os.getpid(),
                                         "supervisor_start": registry.proc_start_time(
                                             os.getpid())})
    assert registry.port_owner(parse_publish("8080:81")) == "VM web"
    assert registry.port_owner(parse_publish("8080:80/udp")) is None
    assert registry.port_owner(parse_publish("8081:80")) is None


def test_write_json_is_atomic(state):
    rec = registry.Vm(registry.reserve("a"))
    registry.write_json(rec.state_file, {"k": 1})
    assert json.loads(rec.state_file.read_text()) == {"k": 1}
    assert [p.name for p in rec.path.iterdir()] == ["state.json"]  # no temporary left


def _read(fd_or_sock, timeout=5.0, until=None):
    got = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end and (until is None or until not in got):
        fd = fd_or_sock if isinstance(fd_or_sock, int) else fd_or_sock.fileno()
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            data = os.read(fd, 4096) if isinstance(fd_or_sock, int) else fd_or_sock.recv(4096)
            if not data:
                break
            got += data
    return got


def test_console_hub_log_socket_and_pty(tmp_path):
    guest, ours = socket.socketpair()
    seen = []
    hub = ConsoleHub(ours, tmp_path / "console.log", tmp_path / "c.sock", on_output=seen.append)
    try:
        def pump(n=10):
            for _ in range(n):
                hub.step(0.02)

        guest.sendall(b"boot line\r\n")
        pump()
        assert (tmp_path / "console.log").read_bytes() == b"boot line\r\n"
        assert b"".join(seen) == b"boot line\r\n"
        # nobody has the pty open: nothing is written into it (no stale output later)
        assert not hub.pty_open
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(str(tmp_path / "c.sock"))
        pump()
        c.sendall(b"print(1)\r")
        pump()
        assert _read(guest, 1.0, b"\r") == b"print(1)\r"
        guest.sendall(b"1\r\n")
        pump()
        assert _read(c, 1.0, b"\n") == b"1\r\n"
        # a second client waits until the first leaves
        c2 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c2.connect(str(tmp_path / "c.sock"))
        c2.sendall(b"second")
        pump()
        assert _read(guest, 0.3) == b""
        c.close()
        pump(20)
        assert _read(guest, 1.0, b"second") == b"second"
        c2.close()
        # the pty: output reaches it only while it is open, input goes to the guest
        fd = os.open(hub.pty_path, os.O_RDWR | os.O_NOCTTY)
        try:
            pump(20)
            assert hub.pty_open
            guest.sendall(b"to pty\r\n")
            pump()
            assert _read(fd, 2.0, b"\n") == b"to pty\r\n"
            os.write(fd, b"from pty")
            pump()
            assert _read(guest, 1.0, b"pty") == b"from pty"
        finally:
            os.close(fd)
        pump(20)
        assert not hub.pty_open
        guest.sendall(b"after\r\n")
        pump()
        fd = os.open(hub.pty_path, os.O_RDWR | os.O_NOCTTY)
        try:
            pump(20)
            assert _read(fd, 0.3) == b""  # nothing stale from while it was closed
        finally:
            os.close(fd)
        assert (tmp_path / "console.log").read_bytes().endswith(b"to pty\r\nafter\r\n")
        guest.close()
        pump()
        assert hub.guest_eof
    finally:
        hub.close()
    assert not (tmp_path / "c.sock").exists()


def test_cli_refusals(state, tmp_path):
    r = invoke("run", "build/echo.elf", "--name", "x")
    assert r.exit_code == 2 and "add -d" in r.output
    r = invoke("run", "-d", "build/echo.elf", "--serial", "pty")
    assert r.exit_code == 2 and "drop --serial" in r.output
    r = invoke("run", "-d", "--name", "Bad Name", "build/echo.elf")
    assert r.exit_code == 2 and "expected 1-32 of a-z" in r.output
    r = invoke("run", "-d", str(tmp_path / "missing.elf"))
    assert r.exit_code == 126 and "no such image" in r.output
    assert not state.exists() or list(state.iterdir()) == []  # nothing reserved
    for args in (("logs", "nope"), ("stop", "nope"), ("rm", "nope"), ("ps", "nope")):
        r = invoke(*args)
        assert r.exit_code == 1 and "no VM named nope" in r.output, args
    r = invoke("cp", "a.txt", "b.txt")
    assert r.exit_code == 2 and "cp FILE NAME:PATH" in r.output
    r = invoke("cp", "a.txt", "web:/a.txt")  # a VM that does not exist: said so
    assert r.exit_code == 2 and "no VM named web" in r.output, r.output
    r = invoke("exec", "web", "print(1)")
    assert r.exit_code == 126 and "no such image or background VM" in r.output, r.output
    r = invoke("ps", "--json", "--format", "{name}")
    assert r.exit_code == 2
    rec = registry.Vm(registry.reserve("old"))
    registry.write_json(rec.state_file, {"state": "exited", "status": 3, "exited": time.time()})
    r = invoke("exec", "old", "print(1)")
    assert r.exit_code == 1 and "old is not running (exited (3)" in r.output
    r = invoke("exec", "old", "print(1)", "--mem", "64M")
    assert r.exit_code == 2 and "exec NAME talks to a running image" in r.output
    r = invoke("ps", "--format", "{nope}")
    assert r.exit_code == 0  # nothing running: nothing formatted
    r = invoke("ps", "-a", "--format", "{nope}")
    assert r.exit_code == 2 and "use {name}, {pty}" in r.output
    r = invoke("ps", "-a", "--format", "{name} {status}")
    assert r.exit_code == 0 and r.output == "old 3\n"


def test_ps_table_and_json(state):
    rec = registry.Vm(registry.reserve("web"))
    registry.write_json(rec.spec_file, {"image": "/x/echo.elf", "recipe": "echo",
                                        "ports_text": ["127.0.0.1:8080->80/tcp"]})
    registry.write_json(rec.state_file, {"state": "exited", "status": 0,
                                         "exited": time.time() - 90, "accel": "kvm"})
    r = invoke("ps")
    assert r.exit_code == 0 and r.output.splitlines() == [r.output.splitlines()[0]]
    r = invoke("ps", "-a")
    line = r.output.splitlines()[1]
    assert line.startswith("web") and "exited (0) 1m ago" in line and "8080->80" in line
    doc = json.loads(invoke("ps", "-a", "--json").output)
    assert doc[0]["name"] == "web" and doc[0]["state"] == "exited" and doc[0]["status"] == 0
    assert doc[0]["pty"] is None and doc[0]["recipe"] == "echo"
    assert control.status_text(dict(doc[0], exited=None)) == "exited (0)"
