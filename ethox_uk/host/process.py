"""Start `ethox-uk host` as a subprocess and wait (bounded) for its ready line.

    with HostProcess("images/echo", "dgram:L,R") as h:
        h.wait_ready(timeout=20)        # -> (ip, mac); HostStartError with stderr otherwise
        ...
        status = h.stop()               # SIGTERM, bounded wait, then SIGKILL

Runs `python -m ethox_uk.cli` with this package's root on PYTHONPATH, so it works from any
working directory, installed or not.
"""

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

# more fields may follow mac= (DESIGN §5: ip6=ADDR/PFX unless ip6=off)
READY_RE = re.compile(r"^ethox-uk: ready ip=(\d+(?:\.\d+){3}) mac=([0-9a-f]{2}(?::[0-9a-f]{2}){5})"
                      r"(?: ip6=(\S+))?(?: \S+=\S+)*\r?$")
PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent


class HostStartError(Exception):
    pass


def command(*args):
    return [sys.executable, "-m", "ethox_uk.cli", *args]


def child_env(extra=None):
    env = dict(os.environ)
    pp = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(PACKAGE_ROOT) + (os.pathsep + pp if pp else "")
    env["PYTHONUNBUFFERED"] = "1"
    if extra:
        env.update(extra)
    return env


class HostProcess:
    def __init__(self, recipe, spec, args=(), prefix=()):
        self.argv = list(prefix) + command("host", str(recipe), "--net", str(spec), *args)
        self.proc = None
        self.lines = []  # stdout lines read so far
        self.ip6 = None  # the ready line's ip6= field

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=child_env())
        self._partial = b""
        return self

    def wait_ready(self, timeout=30.0):
        """(ip, mac) from the ready line; HostStartError if it does not come in time."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            while b"\n" in self._partial:
                raw, self._partial = self._partial.split(b"\n", 1)
                line = raw.decode(errors="replace").rstrip("\r")
                self.lines.append(line)
                m = READY_RE.match(line)
                if m:
                    self.ip6 = m.group(3)  # "ADDR/PFX", or None with ip6=off
                    return m.group(1), m.group(2)
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise HostStartError("no ready line within %.0f s; stderr: %s"
                                     % (timeout, self.stderr_text()))
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:  # exited
                self.proc.wait(timeout=10)
                raise HostStartError("ethox-uk host exited with status %s before the ready "
                                     "line; stderr: %s" % (self.proc.returncode,
                                                           self.stderr_text()))
            self._partial += chunk

    def stderr_text(self):
        if self.proc.poll() is None:
            return "(still running)"
        return (self.proc.stderr.read() or b"").decode(errors="replace").strip()

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signal the process and wait (bounded); its exit status (-9 if it had to be killed)."""
        p = self.proc
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        return p.returncode

    def communicate(self, timeout=10.0):
        """Remaining (stdout, stderr) of an exited process, as text."""
        out, err = self.proc.communicate(timeout=timeout)
        out = self._partial + (out or b"")
        self._partial = b""
        return out.decode(errors="replace"), (err or b"").decode(errors="replace")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()
