"""`run --gdb[=PORT]` / `--gdb-nowait`: QEMU's gdb stub on 127.0.0.1, the printed gdb line,
and a real gdb session against the unstripped image: a breakpoint at the runtime's C entry,
one in the ring-0 trap handler (CS says ring 0), one in the interpreter, then the guest runs on
and answers. Under TCG (what --gdb picks with --accel auto: this workplace's KVM ignores
breakpoints)."""

import re
import socket
import subprocess

from test_pipeline import REPO, T_BOOT, eu, free_port, read_until, run_eu, stop
from test_usernet import image  # noqa: F401 (fixture)

from ethox_uk.qemu import cmdline


def test_gdb_arguments():
    argv = cmdline.assemble("i.elf", accel="tcg", gdb=4321)
    assert argv[-3:] == ["-gdb", "tcp:127.0.0.1:4321", "-S"]
    argv = cmdline.assemble("i.elf", accel="tcg", gdb=4321, gdb_wait=False)
    assert argv[-2:] == ["-gdb", "tcp:127.0.0.1:4321"]


def test_gdb_usage_errors(image):  # noqa: F811
    r = run_eu("run", "--gdb=x", image)
    assert r.returncode == 2 and b"'x' is not a port" in r.stderr
    r = run_eu("run", "--gdb", image, "--timeout", "5")
    assert r.returncode == 2 and b"add --gdb-nowait" in r.stderr
    r = run_eu("run", "-d", "--gdb", image)
    assert r.returncode == 2 and b"add --gdb-nowait" in r.stderr
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        port = s.getsockname()[1]
        r = run_eu("run", "--gdb=%d" % port, image)
        assert r.returncode == 2 and b"127.0.0.1:%d is already in use" % port in r.stderr
    finally:
        s.close()


def test_a_gdb_session(image, tmp_path):  # noqa: F811
    port = free_port()
    con = tmp_path / "c.sock"
    p = subprocess.Popen(eu() + ["run", "--gdb=%d" % port, str(image), "--serial",
                                 "unix:%s" % con], cwd=REPO, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        err = read_until(p.stderr, b"remote 127.0.0.1:%d'" % port, T_BOOT)
        assert b"running under TCG so that breakpoints work" in err
        line = re.search(rb"gdb (\S+) -ex 'target remote 127.0.0.1:(\d+)'", err)
        assert line and line.group(1) == str(image).encode() and int(line.group(2)) == port
        cmds = ["target remote 127.0.0.1:%d" % port,
                "break umain", "continue", "bt 1",
                "break trap", "continue", "print ($cs & 3)",  # ring 0: the trap handler
                "delete", "break mp_execute_bytecode", "continue", "print ($cs & 3)",
                "delete", "detach"]
        argv = ["gdb", "-q", "-batch", "-nx", str(image)]
        for c in cmds:
            argv += ["-ex", c]
        r = subprocess.run(argv, capture_output=True, timeout=120)
        out = r.stdout.decode()
        assert "Breakpoint 1, " in out and "in umain ()" in out, out + r.stderr.decode()
        assert "in trap ()" in out and "in mp_execute_bytecode ()" in out, out
        rings = re.findall(r"^\$\d+ = (\d+)$", out, re.M)
        assert rings == ["0", "3"], out  # the trap handler in ring 0, the interpreter in 3
        assert "detached" in out
        # detached: the guest runs on to its REPL and answers
        r = run_eu("exec", "--attach", "unix:%s" % con, "print(6 * 7)")
        assert (r.returncode, r.stdout) == (0, b"42\n"), r.stderr.decode()
        run_eu("exec", "--attach", "unix:%s" % con, "import sys; sys.exit(3)")
        assert p.wait(T_BOOT) == 3
    finally:
        stop(p)


def test_gdb_nowait_boots_at_once(image, tmp_path):  # noqa: F811
    port = free_port()
    p = subprocess.Popen(eu() + ["run", "--gdb=%d" % port, "--gdb-nowait", str(image)],
                         cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        read_until(p.stdout, b"ethox-uk: ready", T_BOOT)  # no gdb needed to get here
        r = subprocess.run(["gdb", "-q", "-batch", "-nx", str(image), "-ex",
                            "target remote 127.0.0.1:%d" % port, "-ex", "detach"],
                           capture_output=True, timeout=60)
        assert b"detached" in r.stdout, r.stdout + r.stderr
        p.stdin.write(b"import sys; sys.exit(2)\r")
        p.stdin.flush()
        assert p.wait(T_BOOT) == 2
    finally:
        stop(p)
