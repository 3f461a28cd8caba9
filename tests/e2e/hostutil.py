"""Helpers for host-mode end-to-end tests (imported by the tests and conftest.py)."""

import os
import subprocess
from contextlib import contextmanager
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


def ip(*args, check=True):
    """`ip ARGS` (bounded; raises on failure when check)."""
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20,
                          check=check)


def ns_run(ns, *argv, timeout=30):
    """ARGV inside network namespace ns, to completion (bounded)."""
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True,
                          timeout=timeout)


@contextmanager
def tap_namespace(ns, *addrs):
    """Network namespace ns (made afresh) with lo up and tap0 up holding addrs, each the
    arguments of one `ip addr add ADDR ...` (e.g. ("2001:db8:1::2/64", "nodad")); deleted
    afterwards, and checked gone."""
    ip("netns", "del", ns, check=False)
    ip("netns", "add", ns)
    try:
        ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", ns, "tuntap", "add", "dev", "tap0", "mode", "tap")
        for a in addrs:
            ip("-n", ns, "addr", "add", a[0], "dev", "tap0", *a[1:])
        ip("-n", ns, "link", "set", "tap0", "up")
        yield ns
    finally:
        ip("netns", "del", ns, check=False)
    assert ns not in ip("netns", "list").stdout


def one_line_error(r):
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]
