"""Stale socket files (issue 11 item 12): a socket file is removed before binding only when
nobody is bound to it (a connect gets ECONNREFUSED); a live socket -- another ethox-uk, a QEMU,
a peer -- is an error that names it, and it keeps working."""

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ethox_uk.qemu import cmdline
from ethox_uk.stack.nic.dgram import remove_stale

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def d():
    with tempfile.TemporaryDirectory(prefix="eust", dir="/tmp") as path:  # sun_path < 100
        yield path


def dead_socket(path, kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_UNIX, kind)
    s.bind(path)
    s.close()  # the file stays: what a killed QEMU or ethox-uk leaves behind


def live_dgram(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(5)
    return s


def live_listener(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    return s


def still_receives(sock, path):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    c.sendto(b"still here", path)
    c.close()
    return sock.recv(100) == b"still here"


def test_dead_sockets_are_removed(d):
    for name, kind in (("dg", socket.SOCK_DGRAM), ("st", socket.SOCK_STREAM)):
        path = os.path.join(d, name)
        dead_socket(path, kind)
        remove_stale(path)
        assert not os.path.exists(path)
    remove_stale(os.path.join(d, "absent"))


def test_live_sockets_and_other_files_are_left_alone(d):
    dg, st, f = (os.path.join(d, n) for n in ("dg", "st", "file"))
    with live_dgram(dg) as a, live_listener(st) as b:
        for path in (dg, st):
            with pytest.raises(ValueError, match="is a live socket.*stop it or pick another"):
                remove_stale(path)
            assert os.path.exists(path)
        with pytest.raises(cmdline.QemuError, match="live socket") as e:
            cmdline.remove_stale_socket(dg)
        assert e.value.status == 2
        assert still_receives(a, dg)
        b.settimeout(0)
        with pytest.raises(BlockingIOError):
            b.accept()  # the probe never connected to the listener
    open(f, "w").close()
    with pytest.raises(ValueError, match="not a socket"):
        remove_stale(f)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "ethox_uk.cli", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_host_refuses_to_take_a_live_socket(d):
    mine = os.path.join(d, "guest")
    with live_dgram(mine) as s:
        r = cli("host", "images/echo", "--net", "dgram:%s,%s" % (mine, os.path.join(d, "p")))
        assert r.returncode != 0 and "live socket" in r.stderr, r.stderr
        assert still_receives(s, mine)


def test_run_refuses_a_live_console_or_link_socket(d):
    image = REPO / "build" / "echo.elf"
    if not image.is_file():
        from ethox_uk.build import image as image_mod

        image_mod.build("images/echo", output=image, quiet=True)
    con, g = os.path.join(d, "con"), os.path.join(d, "g")
    with live_listener(con), live_dgram(g) as s:
        r = cli("run", image, "--serial", "unix:" + con, "--net",
                "dgram:%s,%s" % (os.path.join(d, "g2"), os.path.join(d, "p")))
        assert r.returncode == 2 and "%s is a live socket" % con in r.stderr, r.stderr
        r = cli("exec", image, "pass", "--net", "dgram:%s,%s" % (g, os.path.join(d, "p")))
        assert r.returncode == 2 and "%s is a live socket" % g in r.stderr, r.stderr
        assert still_receives(s, g) and os.path.exists(con)
