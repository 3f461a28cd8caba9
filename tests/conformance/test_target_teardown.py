"""conformance/target.py: a target that sets something up around its child (the bridge
image's namespace and relay, --linux's two namespaces) does so through ProcessTarget's one
set-up helper (root first; a failure part-way removed and named) and has it removed by the
one stop()/cleanup() path, whether the child ran or never started."""

import sys

import pytest

from ethox_uk.conformance import target as target_mod
from ethox_uk.conformance.target import ProcessTarget, TargetError

READY = "print('ethox-uk: ready ip=10.0.2.15 mac=52:54:00:12:34:56', flush=True)\n" \
        "import time\ntime.sleep(60)\n"


class Namespaced(ProcessTarget):
    what = "a stand-in target"

    def __init__(self):
        super().__init__()
        self.torn = 0

    def command(self):
        return [sys.executable, "-c", READY]

    def _teardown(self):
        self.torn += 1


def test_stop_and_cleanup_tear_down_around_a_running_child():
    t = Namespaced()
    t.prepare()
    t.start(timeout=20.0)
    assert (t.ip, t.mac) == ("10.0.2.15", "52:54:00:12:34:56")
    assert t.stop() is not None and t.exit_status() is not None
    assert t.torn == 1
    t.cleanup()
    assert t.torn == 2


def test_stop_tears_down_when_the_child_never_started():
    t = Namespaced()
    assert t.stop() is None
    assert t.torn == 1


class Failing(Exception):
    pass


def test_a_failed_set_up_is_removed_and_named():
    t = Namespaced()
    with pytest.raises(TargetError, match=r"^--linux: no veth$"):
        with t._setting_up("--linux", "needs root", (Failing, OSError)):
            raise Failing("no veth")
    assert t.torn == 1
    with pytest.raises(KeyError):  # anything else passes through, after the teardown
        with t._setting_up("--linux", "needs root", Failing):
            raise KeyError("x")
    assert t.torn == 2
    with t._setting_up("--linux", "needs root", Failing):
        pass
    assert t.torn == 2  # a set-up that worked stays


def test_set_up_without_root_says_so_and_makes_nothing(monkeypatch):
    monkeypatch.setattr(target_mod.os, "geteuid", lambda: 1000)
    t = Namespaced()
    ran = []
    with pytest.raises(TargetError, match="needs root: run as root"):
        with t._setting_up("--net bridge", "--net bridge needs root: run as root", Failing):
            ran.append(1)
    assert ran == [] and t.torn == 0
