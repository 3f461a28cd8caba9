"""A booted image on a link in a private namespace, for tests (CPython, root): the namespace's
own kernel is the peer at 10.0.2.2/24, the guest's console is on a unix socket.

    with GuestOnLink(image, "tap") as g:          # or "bridge", "dgram"
        g.exec("print(net.counters.c['internal_error'])")   # the guest's REPL, its output
        g.inside(["curl", ...], timeout=30)        # a client inside the namespace

The link is ethox_uk/bench/link.py's (the benchmark's): everything is removed on exit."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ethox_uk.bench.link import Link
from ethox_uk.qemu import kvm

REPO = Path(__file__).resolve().parents[1]
ACCEL = "kvm" if kvm.usable() else "tcg"


class GuestOnLink:
    def __init__(self, image, kind="tap", accel=ACCEL, mem=None, boot_timeout=60):
        if os.geteuid() != 0:
            raise AssertionError("a private namespace with a tap needs root; CI runs as root")
        self.dir = tempfile.mkdtemp(prefix="exgl", dir="/tmp")
        self.console = os.path.join(self.dir, "con")
        self.link = Link(kind, self.dir)
        self.proc = None
        try:
            argv = [sys.executable, "-m", "ethox_uk.cli", "run", str(image), "--accel", accel,
                    "--net", self.link.our_net(), "--serial", "unix:" + self.console]
            if mem:
                argv += ["--mem", mem]
            prefix = self.link.ns.prefix() if kind != "dgram" else []
            self.proc = subprocess.Popen(prefix + argv, cwd=REPO, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + boot_timeout
            while time.monotonic() < deadline:
                if os.path.exists(self.console):
                    r = self._exec("print('up')", 30)
                    if r.returncode == 0 and "up" in r.stdout:
                        return
                if self.proc.poll() is not None:
                    break
                time.sleep(0.3)
            raise AssertionError("the guest never answered on its console (status %r)"
                                 % self.proc.poll())
        except BaseException:
            self.close()
            raise

    def _exec(self, code, timeout):
        return subprocess.run([sys.executable, "-m", "ethox_uk.cli", "exec", "--attach",
                               "unix:" + self.console, code], cwd=REPO, capture_output=True,
                              text=True, timeout=timeout)

    def exec(self, code, timeout=60):
        """Run code in the guest's REPL; its output (AssertionError if it failed)."""
        r = self._exec(code, timeout)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    def inside(self, argv, timeout=60, **kw):
        return self.link.inside(argv, timeout=timeout, **kw)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.link.close()
        subprocess.run(["rm", "-rf", self.dir])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
