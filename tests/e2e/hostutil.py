"""Helpers for host-mode end-to-end tests (imported by the tests and conftest.py)."""

import os
import subprocess
from pathlib import Path

from ethox_uk.host.dgram_peer import DgramPeer
from ethox_uk.host.process import HostProcess, child_env, command

ROOT = Path(__file__).resolve().parent.parent.parent
ECHO = str(ROOT / "images" / "echo")
READY_TIMEOUT = 30.0


class Served:
    """A running host process and its peer."""

    def __init__(self, dirname, recipe=ECHO, args=()):
        self.dir = dirname
        self.local = os.path.join(dirname, "s")
        self.remote = os.path.join(dirname, "p")
        self.spec = "dgram:%s,%s" % (self.local, self.remote)
        self.host = HostProcess(recipe, self.spec, args).start()
        try:
            self.ip, self.mac = self.host.wait_ready(READY_TIMEOUT)
        except Exception:
            self.host.stop()
            raise
        self.peer = DgramPeer(self.spec)

    def close(self):
        self.peer.close()
        status = self.host.stop()
        out, err = self.host.communicate()
        return status, out, err


def run_cli(*args, timeout=60, cwd=None):
    """Run `ethox-uk ARGS` to completion (bounded); CompletedProcess with text output."""
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=timeout,
                          env=child_env(), cwd=cwd or ROOT)


def one_line_error(r):
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]
