"""Run checks against a target, each within its time bound.

    with Session(target, pcap="trace.pcap") as s:      # TargetError if it cannot start
        results = s.run(checks, on_result=print)

Session.__enter__: choose the SPEC, bind the peer at REMOTE (before the target starts, so
nothing it sends is missed), start the target (ready line), resolve its MAC by ARP.
__exit__: stop the target, close the peer, remove the sockets and the directory.

Verdicts (registry.py): "pass", "variant", "deviates", "fail", "n/a", "xfail" (strict
expected failure: it failed as expected; one that passes is a "fail", "unexpectedly
passed"). The summary line counts what the exit status counts: failed = fail (and deviates
with strict=True), passed = pass + variant (+ deviates without strict), skipped = n/a + xfail.
"""

import signal
import threading
import time
import traceback

from .context import Ctx
from .peer import Peer, TargetGone
from .context import SLACK
from . import wire6
from .registry import VIOLATION, CheckFailed, CheckTimeout, MustFailed, NotApplicable
from .target import TargetError

PEER_MAC = "02:00:0a:00:02:02"
RESOLVE_TRIES = 3
HARD_GRACE = 2.0  # seconds past a check's bound before the alarm interrupts it


class Result:
    def __init__(self, check, status, message="", duration=0.0, transcript=(), marker=None):
        self.check = check
        self.marker = marker  # the pcap frame number of the check's marker frame
        self.status = status
        self.message = message
        self.duration = duration
        self.transcript = list(transcript)

    @property
    def verdict(self):
        return self.status

    @property
    def failed(self):
        return self.status == "fail"

    def counts_as_failure(self, strict=False):
        return self.status == "fail" or (strict and self.status == "deviates")

    @property
    def skipped(self):
        return self.status in ("n/a", "xfail")

    def as_dict(self):
        d = self.check.as_dict()
        d.update(status=self.status, verdict=self.status, message=self.message,
                 duration=round(self.duration, 4), transcript=self.transcript)
        if self.marker is not None:
            d["pcap_frame"] = self.marker
        return d

    def __repr__(self):
        return "Result(%s %s %r)" % (self.check.name, self.status, self.message)


def summary_counts(results, strict=False):
    failed = sum(1 for r in results if r.counts_as_failure(strict))
    skipped = sum(1 for r in results if r.skipped)
    return len(results) - failed - skipped, failed, skipped


def summary_line(results, strict=False):
    return "conformance: %d passed, %d failed, %d skipped" % summary_counts(results, strict)


def verdict_counts(results):
    """{verdict: count} over every verdict (zeros included), in registry.VERDICTS order."""
    from .registry import VERDICTS

    return {v: sum(1 for r in results if r.status == v) for v in VERDICTS}


def verdict_line(results):
    c = verdict_counts(results)
    return "verdicts: " + ", ".join("%d %s" % (n, v) for v, n in c.items()
                                    if n or v in ("pass", "fail"))


def _with_findings(check, status, message, findings):
    """The verdict once the SHOULDs not met and the variants taken are counted in."""
    texts = [message] if message else []
    worst = status
    for f in findings:
        if f[0] == "variant":
            key, detail = f[1], f[2]
            if key not in check.variants:
                return "fail", "error in the check: variant %r is not declared" % key
            texts.append("variant (%s): %s" % (check.variants[key], detail)
                         if detail else "variant: %s" % check.variants[key])
            if worst == "pass":
                worst = "variant"
        else:
            texts.append("SHOULD not met: %s" % f[1])
            if worst in ("pass", "variant"):
                worst = "deviates"
    return worst, "; ".join(texts)


class _Alarm:
    """Interrupt a check that ignores its deadline (main thread only; else a no-op). An
    ITIMER_REAL someone else armed (pytest-timeout) is kept: restored afterwards, and left
    alone when it would fire first."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.armed = False

    def _fire(self, signum, frame):
        raise CheckTimeout("the check ran past its time bound (interrupted)")

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        old_delay, _ = signal.getitimer(signal.ITIMER_REAL)
        if old_delay and old_delay <= self.seconds:
            return self
        self.t0 = time.monotonic()
        self.old_delay = old_delay
        self.old = signal.signal(signal.SIGALRM, self._fire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        self.armed = True
        return self

    def __exit__(self, *exc):
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.old)
            if self.old_delay:
                left = self.old_delay - (time.monotonic() - self.t0)
                signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))


def _where(exc):
    tb = traceback.extract_tb(exc.__traceback__)
    for fr in reversed(tb):
        if "/conformance/checks/" in fr.filename:
            return "%s:%d" % (fr.filename.rsplit("/", 1)[-1], fr.lineno)
    return "%s:%d" % (tb[-1].filename.rsplit("/", 1)[-1], tb[-1].lineno) if tb else "?"


class Session:
    def __init__(self, target, pcap=None, peer_mac=PEER_MAC, timescale=1.0,
                 ready_timeout=None, resolve_timeout=1.0, slack=None):
        self.target = target
        self.slack = getattr(target, "clock_slack", SLACK) if slack is None else slack
        self.pcap = pcap
        self.peer_mac = peer_mac
        self.timescale = timescale
        self.ready_timeout = ready_timeout
        self.resolve_timeout = resolve_timeout * timescale
        self.peer = None
        self.ctx_args = None

    def __enter__(self):
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def open(self):
        t = self.target
        t.prepare()
        self.peer = Peer(t.open_link(), self.peer_mac, t.gw, pcap=self.pcap)
        t.start(self.ready_timeout)
        mac = self.resolve()
        if t.mac and t.mac != mac:
            self.peer.note("the target announced %s but answers ARP with %s" % (t.mac, mac))
        t.mac = mac
        # IPv6: link-local addresses, the target's from its ready line when it names one,
        # else (an attached target) the EUI-64 one its MAC gives; the peer answers
        # neighbour solicitations for its own
        ip6 = (getattr(t, "ip6", None) or "").split("/")[0]
        target_ip6 = ip6 if ip6.startswith("fe80:") else wire6.eui64_ll(mac)
        peer_ip6 = wire6.eui64_ll(self.peer_mac)
        self.peer.answers6[peer_ip6] = self.peer_mac
        self.ctx_args = dict(target_ip=t.ip, target_mac=mac, peer_ip=t.gw,
                             peer_mac=self.peer_mac, prefix=t.prefix,
                             timescale=self.timescale, slack=self.slack,
                             client_factory=t.dhcp_client,
                             target_ip6=target_ip6, peer_ip6=peer_ip6)

    def resolve(self):
        """The target's MAC from an ARP exchange (TargetError when nobody answers)."""
        peer, t = self.peer, self.target
        ctx = Ctx(peer, t.ip, "ff:ff:ff:ff:ff:ff", t.gw, self.peer_mac, t.prefix,
                  self.timescale)
        peer.start_transcript()
        for _ in range(RESOLVE_TRIES):
            try:
                peer.send(ctx.arp_request())
            except TargetGone as e:
                raise TargetError("%s (%s)" % (e, t.where()))
            f = peer.wait(ctx.is_arp_reply_to(t.gw), self.resolve_timeout, "ARP reply")
            if f is not None:
                return f.pkt.hwsrc
            status = t.exit_status()
            if status is not None:
                break
        status = t.exit_status()
        if status is not None:
            raise TargetError("%s exited with status %d; its output:\n%s"
                              % (t.describe(), status, t.output_tail()))
        raise TargetError("no ARP answer for %s within %.0f s: the target is not "
                          "answering on %s (wrong link or address? --ip names the "
                          "target's address, --gw the peer's)"
                          % (t.ip, RESOLVE_TRIES * self.resolve_timeout, t.where()))

    def close(self):
        try:
            if self.target is not None:
                self.target.stop()
        finally:
            if self.peer is not None:
                self.peer.close()
            if self.target is not None:
                self.target.cleanup()

    def context(self):
        return Ctx(self.peer, **self.ctx_args)

    def run_one(self, check):
        peer = self.peer
        marker = peer.marker("ethox-uk conformance: %s (%s) -- %s"
                             % (check.name, check.level, check.rfc))
        peer.start_transcript()
        t0 = time.monotonic()
        status, message = "pass", ""
        bound = check.timeout * self.timescale
        gone = self.target.exit_status()
        if gone is not None:
            return Result(check, "fail", "the target exited (status %d) before this check"
                          % gone, 0.0, ["its output:", self.target.output_tail()], marker)
        peer.drain()
        peer.deadline = t0 + bound
        ctx = None
        try:
            with _Alarm(bound + HARD_GRACE):
                ctx = self.context()
                if check.applies is not None and not check.applies(ctx):
                    raise NotApplicable("the target does not offer this feature")
                check.func(ctx)
        except NotApplicable as e:
            status, message = "n/a", str(e)
        except (CheckTimeout, MustFailed) as e:
            status, message = "fail", str(e)
            if isinstance(e, CheckTimeout):
                message += " (%.1f s)" % bound
        except CheckFailed as e:
            status, message = VIOLATION[check.level], str(e)
        except TargetGone as e:
            status, message = "fail", str(e)
        except AssertionError as e:
            status, message = "fail", "%s (%s)" % (str(e).split("\n")[0] or "assertion failed",
                                                   _where(e))
        except Exception as e:
            status, message = "fail", "error in the check at %s: %s: %s" % (
                _where(e), type(e).__name__, e)
        finally:
            peer.deadline = None
        if ctx is not None and status != "n/a":
            status, message = _with_findings(check, status, message, ctx.findings)
        if check.xfail is not None:
            if status in ("fail", "deviates"):
                status, message = "xfail", "expected failure (%s): %s" % (check.xfail,
                                                                          message)
            elif status in ("pass", "variant"):
                status, message = "fail", "unexpectedly passed (expected failure: %s)" % (
                    check.xfail)
        if status == "fail" and self.target.exit_status() is not None:
            message += " — the target exited with status %d" % self.target.exit_status()
        return Result(check, status, message, time.monotonic() - t0, peer.transcript(),
                      marker)

    def run(self, checks, on_result=None):
        results = []
        for c in checks:
            r = self.run_one(c)
            results.append(r)
            if on_result is not None:
                on_result(r)
        return results
