"""qemu/vm.py as the one QEMU/console driver: the console on pipes (what `bench --image`
times on), wait_for's timestamps, and the bench's Guest running exactly the QEMU line the
bench has always measured (no QMP monitor, -serial stdio)."""

import re
import subprocess
import sys
import time

from ethox_uk.bench import floor
from ethox_uk.bench.image import Guest
from ethox_uk.netspec import NetOpts, parse_spec
from ethox_uk.qemu import cmdline
from ethox_uk.qemu.vm import Console

ECHO = "import sys\nfor line in sys.stdin:\n    sys.stdout.write('got ' + line)\n    sys.stdout.flush()\n"


def test_pipe_console_keeps_what_it_read_and_times_a_pattern():
    p = subprocess.Popen([sys.executable, "-c", ECHO], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE)
    con = Console(p.stdout, p.stdin, keep=True)
    try:
        before = time.monotonic()
        assert con.write(b"ready ip=1\n")
        t = con.wait_for(re.compile(rb"^got ready ip=\d", re.M), 10.0)
        assert t is not None and before <= t <= time.monotonic()
        assert bytes(con.seen) == b"got ready ip=1\n"
        assert con.wait_for(b"never", 0.2) is None and not con.eof
        p.stdin.close()
        assert con.wait_for(b"never", 10.0) is None and con.eof  # EOF ends the wait
    finally:
        p.kill()
        p.wait(10)
        con.close()


def test_socket_console_has_no_log_unless_asked():
    import socket

    a, b = socket.socketpair()
    con = Console(a)
    b.sendall(b"x")
    assert con.read(1.0) == b"x" and con.seen is None
    assert con.write(b"y") and b.recv(1) == b"y"
    b.close()
    assert con.read(1.0) == b"" and con.eof
    con.close()


def test_bench_guest_runs_the_line_the_bench_always_timed():
    net = NetOpts(parse_spec("dgram:/tmp/eubg-g.sock,/tmp/eubg-p.sock"))
    g = Guest("i.elf", "tcg", "q35", mem="32M", append="ip=10.0.2.15/24", net=net)
    assert g.argv == cmdline.assemble("i.elf", accel="tcg", machine="q35", mem="32M",
                                      append="ip=10.0.2.15/24", net=net,
                                      qemu=cmdline.qemu_binary())
    assert "-mon" not in g.argv and g.argv[g.argv.index("-serial") + 1] == "stdio"


def test_bench_guest_boots_the_floor_kernel_on_the_vm_driver(tmp_path):
    g = Guest(floor.build(tmp_path), "tcg", "microvm").start()
    try:
        line_ms = g.wait_for(floor.LINE, timeout=30.0)
        assert g.vm.wait(30) == floor.EXIT_STATUS
        assert 0 < line_ms <= g.ms()
        assert g.vm.qmp is None  # no monitor on the timed line
    finally:
        g.close()
    assert not g.vm.running()
