"""conformance/target.py: a target that sets something up around its child (the bridge
image's namespace and relay, --linux's two namespaces) has it removed by ProcessTarget's
one stop()/cleanup() path, whether the child ran or never started."""

import sys

from ethox_uk.conformance.target import ProcessTarget

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
