"""The image's filesystem (littlefs2 in RAM, recipe key `fs`) with real mpremote: `fs cp` round
trips checked by sha256, `fs ls/cat/rm`, `run`, `mount` (a module edited on the host and
imported again in the guest; reload() of the app from the mounted folder), against
`run --serial pty` and a detached VM's console; `ethox-uk cp`; the filesystem's /boot.py and
/main.py after a soft reset; files kept over soft resets; `fs = "0"` leaves it all out.
KVM on microvm (TCG when /dev/kvm is unusable)."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from test_pipeline import (KVM, REPO, T_BOOT, T_CMD, eu as eu_argv, free_port, read_until,
                           run_eu, stop)

MPREMOTE = str(Path(sys.executable).parent / "mpremote")


@pytest.fixture(scope="module")
def image():
    r = run_eu("build", "-q", timeout=900)
    assert r.returncode == 0, r.stderr.decode()[-4000:]
    return REPO / "build" / "echo.elf"


@pytest.fixture(scope="module")
def state():
    d = tempfile.mkdtemp(prefix="eusf", dir="/tmp")
    yield dict(os.environ, ETHOX_UK_STATE=d)
    names = os.listdir(d)
    if names:
        subprocess.run(eu_argv() + ["rm", "-f"] + names, cwd=REPO, capture_output=True,
                       env=dict(os.environ, ETHOX_UK_STATE=d), timeout=120)
    shutil.rmtree(d, ignore_errors=True)


def eu(env, *args, timeout=T_CMD, **kw):
    return subprocess.run(eu_argv() + [str(a) for a in args], cwd=REPO, env=env,
                          capture_output=True, timeout=timeout, **kw)


@pytest.fixture(scope="module")
def vm(image, state):
    """A detached echo VM with its HTTP published: (name, pty, port)."""
    port = free_port()
    r = eu(state, "run", "-d", "--name", "fs1", "-p", "%d:80" % port, image, "--accel", KVM)
    assert r.returncode == 0, r.stderr.decode()
    pty = eu(state, "ps", "--format", "{pty}", "fs1").stdout.decode().strip()
    assert pty.startswith("/dev/pts/")
    yield "fs1", pty, port
    eu(state, "rm", "-f", "fs1")


def mpremote(pty, *args, timeout=T_CMD, cwd=None, resume=True):
    argv = [MPREMOTE, "connect", pty] + (["resume"] if resume else []) + list(args)
    return subprocess.run(argv, capture_output=True, timeout=timeout, cwd=cwd)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def curl(port, path="/bytes/64"):
    return subprocess.run(["curl", "-sS", "--max-time", "20",
                           "http://127.0.0.1:%d%s" % (port, path)], capture_output=True,
                          timeout=40)


def test_files_imports_and_sys_path_in_a_fresh_image(image):
    code = ("import os, sys\n"
            "print(sys.path)\n"
            "print(os.listdir('/'))\n"
            "with open('/note.txt', 'w') as f:\n    f.write('hello fs')\n"
            "os.mkdir('/lib')\n"
            "with open('/lib/helper.py', 'w') as f:\n    f.write('X = 41 + 1\\n')\n"
            "import helper\n"
            "print(open('/note.txt').read(), helper.X, sorted(os.listdir('/')))\n"
            "st = os.statvfs('/')\n"
            "print(st[0] * st[2] // 1024)\n")
    r = run_eu("exec", image, code, "--accel", KVM)
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "['', '.frozen', '/lib']"  # as on MicroPython boards
    assert lines[1] == "[]"  # a fresh VM: an empty (just formatted) filesystem
    assert lines[2] == "hello fs 42 ['lib', 'note.txt']"
    assert lines[3] == "256"  # KiB: the recipe's default fs


def test_mpremote_fs_cp_ls_cat_rm_and_run_over_run_serial_pty(image, tmp_path):
    p = subprocess.Popen(eu_argv() + ["run", str(image), "--serial", "pty", "--accel", KVM],
                         cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        err = read_until(p.stderr, b" (e.g. mpremote", T_BOOT)
        pty = re.search(rb"serial console on (/dev/pts/\d+)", err).group(1).decode()
        data = os.urandom(6000)
        src = tmp_path / "blob.bin"
        src.write_bytes(data)
        r = mpremote(pty, "fs", "cp", str(src), ":blob.bin")
        assert r.returncode == 0, r.stderr.decode() + r.stdout.decode()
        r = mpremote(pty, "fs", "ls")
        assert r.returncode == 0 and re.search(rb"\b6000 blob.bin", r.stdout), r.stdout
        back = tmp_path / "back.bin"
        r = mpremote(pty, "fs", "cp", ":blob.bin", str(back))
        assert r.returncode == 0, r.stderr.decode()
        assert sha(back.read_bytes()) == sha(data)
        (tmp_path / "t.txt").write_text("line one\nline two\n")
        assert mpremote(pty, "fs", "cp", str(tmp_path / "t.txt"), ":t.txt").returncode == 0
        r = mpremote(pty, "fs", "cat", ":t.txt")
        # (the console turns \n into \r\n, as a board's does)
        assert r.returncode == 0 and r.stdout.replace(b"\r\n", b"\n") == b"line one\nline two\n"
        assert mpremote(pty, "fs", "rm", ":blob.bin").returncode == 0
        r = mpremote(pty, "fs", "ls")
        assert b"blob.bin" not in r.stdout and b"t.txt" in r.stdout
        script = tmp_path / "script.py"
        script.write_text("import os\nprint('run says', sorted(os.listdir('/')), 6 * 7)\n")
        r = mpremote(pty, "run", str(script))
        assert r.returncode == 0 and r.stdout.strip() == b"run says ['t.txt'] 42", r.stderr
        mpremote(pty, "exec", "import sys; sys.exit(4)")
        assert p.wait(T_BOOT) == 4
    finally:
        stop(p)


def test_ethox_uk_cp_and_mpremote_against_a_detached_vm(vm, state, tmp_path):
    name, pty, port = vm
    data = os.urandom(3000)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    r = eu(state, "cp", src, "%s:/in.bin" % name)
    assert r.returncode == 0, r.stderr.decode()
    assert b"-> fs1:/in.bin (3000 bytes)" in r.stderr
    out = tmp_path / "out"
    out.mkdir()
    r = eu(state, "cp", "%s:/in.bin" % name, out)  # into a folder: the name is kept
    assert r.returncode == 0, r.stderr.decode()
    assert sha((out / "in.bin").read_bytes()) == sha(data)
    r = eu(state, "cp", src, "%s:/" % name)  # to a folder in the VM
    assert r.returncode == 0 and b"fs1:/in.bin" in r.stderr
    r = eu(state, "cp", "%s:/nope.txt" % name, tmp_path / "x")
    assert r.returncode == 1 and b"/nope.txt in the VM: No such file or directory" in r.stderr
    assert not (tmp_path / "x").exists()
    # mpremote on the same console, with and without the soft reset: the file stays
    r = mpremote(pty, "fs", "cp", ":in.bin", str(tmp_path / "m.bin"), resume=False)
    assert r.returncode == 0, r.stderr.decode()
    assert sha((tmp_path / "m.bin").read_bytes()) == sha(data)
    r = mpremote(pty, "fs", "ls", resume=False)
    assert b"in.bin" in r.stdout
    assert curl(port).returncode == 0  # soft resets restarted the app: still serving


def test_mpremote_mount_edit_and_reload(vm, state, tmp_path):
    name, pty, port = vm
    work = tmp_path / "work"
    work.mkdir()
    (work / "helper.py").write_text("X = 1\n")
    r = mpremote(pty, "mount", str(work), "exec", "import helper; print(helper.X)")
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == b"1", r.stderr.decode()
    (work / "helper.py").write_text("X = 2\n")  # edited on the host
    r = mpremote(pty, "mount", str(work), "exec",
                 "import sys; sys.modules.pop('helper', None); import helper; print(helper.X)")
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == b"2", r.stderr.decode()
    # the app itself from the mounted folder: reload() imports it from there
    app = (REPO / "images" / "echo" / "app.py").read_text() + "\nVERSION = 'mounted-1'\n"
    (work / "app.py").write_text(app)
    r = mpremote(pty, "mount", str(work), "exec",
                 "n = reload()\nimport app\nprint(app.VERSION, n is net)")
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.splitlines()[-1] == b"mounted-1 True"
    r = curl(port, "/bytes/100")  # the reloaded app serves
    assert r.returncode == 0 and r.stdout == bytes(range(100))
    r = eu(state, "exec", name, "import app, os\nprint(app.VERSION, os.getcwd())")
    assert r.stdout == b"mounted-1 /\n", r.stderr.decode()  # unmounted; the code stays


def test_boot_and_main_py_after_a_soft_reset(vm, state, tmp_path):
    name, pty, port = vm
    (tmp_path / "boot.py").write_text("print('BOOT-PY-RAN')\n")
    (tmp_path / "main.py").write_text("print('MAIN-PY-RAN')\nraise ValueError('main broke')\n")
    for f in ("boot.py", "main.py"):
        r = eu(state, "cp", tmp_path / f, "%s:/%s" % (name, f))
        assert r.returncode == 0, r.stderr.decode()
    r = eu(state, "repl", name, input=b"\x04")  # Ctrl-D at the friendly REPL: soft reset
    assert r.returncode == 0, r.stderr.decode()
    end = time.monotonic() + T_BOOT
    log = b""
    while time.monotonic() < end and b"main broke" not in log:
        time.sleep(0.2)
        log = eu(state, "logs", name).stdout
    tail = log[log.rindex(b"soft reboot"):]
    # frozen start-up first (the ready line), then /boot.py, then /main.py
    i_ready, i_boot, i_main = (tail.index(m) for m in (b"ethox-uk: ready", b"BOOT-PY-RAN",
                                                       b"MAIN-PY-RAN"))
    assert i_ready < i_boot < i_main
    assert b"ValueError: main broke" in tail  # printed, as on a board; the VM goes on
    r = eu(state, "exec", name, "print('alive')")
    assert r.stdout == b"alive\n", r.stderr.decode()
    assert curl(port).returncode == 0
    for f in ("boot.py", "main.py"):
        assert mpremote(pty, "fs", "rm", ":" + f).returncode == 0


def test_fs_0_leaves_the_filesystem_out(image, tmp_path, state):
    rec = tmp_path / "nofs"
    rec.mkdir()
    shutil.copy(REPO / "images" / "echo" / "app.py", rec / "app.py")
    (rec / "recipe.toml").write_text('name = "nofs"\nfs = "0"\n')
    out = REPO / "build" / "test-nofs" / "nofs.elf"
    r = run_eu("build", rec, "-o", out, "-q", timeout=900)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    r = run_eu("exec", out, "import os, _ethox\nprint(hasattr(os, 'listdir'), _ethox.fs_area())\n"
               "try:\n    open('/x', 'w')\nexcept OSError as e:\n    print('no open', e.args[0])",
               "--accel", KVM)
    assert (r.returncode, r.stdout) == (0, b"False None\nno open 2\n"), r.stderr.decode()
    sizes = []
    for elf in (image, out):
        s = tmp_path / (elf.name + ".stripped")
        subprocess.run(["strip", "-o", str(s), str(elf)], check=True, timeout=60)
        sizes.append(s.stat().st_size)
    assert sizes[1] < sizes[0] - 20000  # littlefs2 and the VFS are really left out
    r = eu(state, "run", "-d", "--name", "nofs1", out, "--accel", KVM)
    assert r.returncode == 0, r.stderr.decode()
    try:
        (tmp_path / "f.txt").write_text("x")
        r = eu(state, "cp", tmp_path / "f.txt", "nofs1:/f.txt")
        assert r.returncode == 1 and b"the image has no filesystem" in r.stderr, r.stderr
    finally:
        eu(state, "rm", "-f", "nofs1")
