"""`ethox-uk bench --image IMAGE --net tap|bridge|dgram [--versus NAME=CMD ...]`: the data path
measured with real clients, side by side with other guests in the same run.

Each guest boots in a private network namespace made (and removed) here; the namespace's own
Linux kernel is the peer, at 10.0.2.2/24, and the clients run inside it:

  tap      the guest's virtio-net on tap0 (QEMU's tap backend has a vnet header: checksum,
           TSO and GRO offloads are offered)
  bridge   the same behind a Linux bridge, as `ethox-uk run --net bridge` lays it out
           (netsetup/bridge.py): tap0 and one end of a veth on br0, the tester on the other
  dgram    the guest on unix datagram sockets (the rootless path: no vnet header, no
           offloads); netsetup/relay.py moves the frames between them and tap0 (a process
           of its own; it does take CPU on a small machine -- a QEMU hub relaying the
           same way measured slower here, 324/258 against 700/600 Mbit/s)

  ping_p50_ms / ping_p99_ms  ping(8): PINGS echoes 10 ms apart
  discard_mbps               nc: 32 MiB into discard (port 9), timed to the close
  chargen_mbps               nc: what chargen (port 19) sends in 3 s
  http8_mbps                 curl: GET /bytes/1000000 eight times (one process each)
  http64_mbps                curl: one GET /bytes/67108864 (guests that serve it)
  offloads, tx_frames_per_kick, rx_merged, tx_tso   our guests only, from their console

--versus NAME=CMD boots another guest with the same clients: CMD is its command line with
@TAP@ (tap/bridge) or @LOCAL@ and @REMOTE@ (dgram: the guest's own socket and the peer's)
in place of the interface, and it must print a line containing "ready ip=" once it serves
(the reference guest in ../shared/reference-guest does). Ratios ours/theirs are printed for
every figure both have. A figure that cannot be measured is None with its reason.
"""

import ast
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

from ..netsetup import NetNS
from ..netsetup.bridge import BridgeNet
from ..netsetup.netns import wait_link_up
from ..qemu import kvm

GUEST = "10.0.2.15"
PINGS = 200
DISCARD_BYTES = 32 << 20
CHARGEN_SECONDS = 3
BOOT_TIMEOUT = 90.0
KEYS = ("ping_p50_ms", "ping_p99_ms", "discard_mbps", "chargen_mbps", "http8_mbps",
        "http64_mbps")
BIGGER_IS_BETTER = {"discard_mbps", "chargen_mbps", "http8_mbps", "http64_mbps"}


class LinkError(RuntimeError):
    pass


# -- the link a guest sits on ------------------------------------------------------
class Link:
    """A namespace with the peer at 10.0.2.2/24 and the guest's end of the link."""

    def __init__(self, kind, workdir):
        self.kind = kind
        self.relay = None
        if kind == "bridge":
            self.br = BridgeNet()
            self.ns = self.br.ns
            return
        self.br = None
        self.ns = NetNS()
        try:
            ns = self.ns
            ns.sysctl("net.ipv6.conf.all.disable_ipv6", 1)
            ns.sysctl("net.ipv6.conf.default.disable_ipv6", 1)
            ns.ip("link", "set", "lo", "up")
            ns.ip("tuntap", "add", "dev", "tap0", "mode", "tap")
            ns.ip("addr", "add", "10.0.2.2/24", "dev", "tap0")
            ns.ip("link", "set", "tap0", "up")
            if kind == "dgram":
                # the hub's socket is made in here: let its queue hold a burst, as
                # netsetup.KernelPeer does (a new namespace starts at 10 datagrams)
                ns.sysctl("net.unix.max_dgram_qlen", 256)
                self.local = os.path.join(workdir, "g")  # the guest binds it
                self.remote = os.path.join(workdir, "p")  # the hub's end
                # the frame relay the tests use (netsetup/relay.py), as a process of
                # its own: it binds REMOTE, sends to LOCAL and moves frames to tap0
                self.relay = ns.popen(
                    [sys.executable, "-m", "ethox_uk.netsetup.relay", "--tap", "tap0",
                     "--net", "dgram:%s,%s" % (self.local, self.remote), "--limit", "900"],
                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                line = self.relay.stdout.readline()
                if "ready" not in line:
                    raise LinkError("the frame relay did not start: %r" % line)
        except BaseException:
            self.close()
            raise

    def fill(self, cmd):
        return (cmd.replace("@TAP@", "tap0").replace("@LOCAL@", getattr(self, "local", ""))
                .replace("@REMOTE@", getattr(self, "remote", "")))

    def our_net(self):
        return "dgram:%s,%s" % (self.local, self.remote) if self.kind == "dgram" else "tap:tap0"

    def inside(self, argv, timeout, **kw):
        return self.ns.run(argv, timeout=timeout, **kw)

    def close(self):
        if self.relay is not None and self.relay.poll() is None:
            self.relay.terminate()
            try:
                self.relay.wait(10)
            except subprocess.TimeoutExpired:
                self.relay.kill()
        (self.br or self.ns).close()


# -- one guest ------------------------------------------------------------------------
def _boot(link, argv, log, guest_in_ns):
    prefix = link.ns.prefix() if guest_in_ns else []
    proc = subprocess.Popen(prefix + argv, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        with open(log.name, "rb") as f:
            if b"ready ip=" in f.read():
                return proc
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    proc.wait(10)
    with open(log.name, "rb") as f:
        tail = f.read()[-400:].decode(errors="replace")
    raise LinkError("no 'ready ip=' line within %.0f s (status %r): %s"
                    % (BOOT_TIMEOUT, proc.poll(), tail))


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _clients(link, res, why):
    if link.kind != "dgram":
        try:
            wait_link_up(link.ns, "tap0", 10)
        except Exception as e:  # the guest holds the tap open once it runs
            why["link"] = str(e)
    r = link.inside(["ping", "-c", str(PINGS), "-i", "0.01", "-W", "1", GUEST],
                    timeout=PINGS * 0.05 + 30, text=True)
    rtts = sorted(float(x) for x in re.findall(r"time=([0-9.]+)", r.stdout))
    if len(rtts) >= PINGS // 2:
        res["ping_p50_ms"] = rtts[(len(rtts) - 1) // 2]
        res["ping_p99_ms"] = rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))]
    else:
        why["ping_p50_ms"] = why["ping_p99_ms"] = "%d of %d echoes answered (%s)" % (
            len(rtts), PINGS, (r.stderr or "ping missing?").strip()[-120:])
    sh = "head -c %d /dev/zero | timeout 120 nc -N %s 9" % (DISCARD_BYTES, GUEST)
    t0 = time.monotonic()
    r = link.inside(["sh", "-c", sh], timeout=150, text=True)
    t = time.monotonic() - t0
    if r.returncode == 0:
        res["discard_mbps"] = DISCARD_BYTES * 8 / t / 1e6
    else:
        why["discard_mbps"] = "nc into discard: status %d %s" % (r.returncode, r.stderr[-120:])
    r = link.inside(["sh", "-c", "timeout %d nc %s 19 | wc -c" % (CHARGEN_SECONDS, GUEST)],
                    timeout=CHARGEN_SECONDS + 30, text=True)
    try:
        n = int(r.stdout.strip())
    except ValueError:
        n = 0
    if n:
        res["chargen_mbps"] = n * 8 / CHARGEN_SECONDS / 1e6
    else:
        why["chargen_mbps"] = "nothing read from chargen"
    t0 = time.monotonic()
    ok = 0
    for _ in range(8):
        r = link.inside(["curl", "-s", "-m", "30", "-o", "/dev/null", "-w", "%{size_download}",
                         "http://%s/bytes/1000000" % GUEST], timeout=60, text=True)
        ok += r.stdout.strip() == "1000000"
    t = time.monotonic() - t0
    if ok == 8:
        res["http8_mbps"] = 8 * 8e6 / t / 1e6
    else:
        why["http8_mbps"] = "%d of 8 GETs whole" % ok
    n = 64 << 20
    r = link.inside(["curl", "-s", "-m", "120", "-o", "/dev/null", "-w",
                     "%{size_download} %{time_total}", "http://%s/bytes/%d" % (GUEST, n)],
                    timeout=150, text=True)
    parts = r.stdout.split()
    if len(parts) == 2 and parts[0] == str(n):
        res["http64_mbps"] = n * 8 / float(parts[1]) / 1e6
    else:
        why["http64_mbps"] = "GET /bytes/%d not served whole (%s)" % (n, r.stdout.strip()[:60])


def _our_stats(console):
    r = subprocess.run([sys.executable, "-m", "ethox_uk.cli", "exec", "--attach",
                        "unix:" + console, "print(repr(net.nic.stats()))"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return None
    try:
        return ast.literal_eval(r.stdout.strip().splitlines()[-1])
    except (ValueError, SyntaxError, IndexError):
        return None


def measure(kind, name, argv, ours):
    """One guest on a fresh link: ({key: value}, {key: reason})."""
    res, why = {}, {}
    with tempfile.TemporaryDirectory(prefix="exbl", dir="/tmp") as d:
        link = Link(kind, d)
        try:
            console = os.path.join(d, "con")
            if ours:
                argv = argv + ["--net", link.our_net(), "--serial", "unix:" + console]
            with open(os.path.join(d, "log"), "wb") as log:
                if ours:
                    proc = subprocess.Popen(
                        (link.ns.prefix() if kind != "dgram" else []) + argv,
                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
                    deadline = time.monotonic() + BOOT_TIMEOUT
                    st = None
                    while time.monotonic() < deadline and proc.poll() is None:
                        if os.path.exists(console):
                            st = _our_stats(console)
                            if st is not None:
                                break
                        time.sleep(0.3)
                    if st is None:
                        _stop(proc)
                        raise LinkError("%s: the guest's console never answered" % name)
                else:
                    proc = _boot(link, [link.fill(a) for a in argv], log,
                                 guest_in_ns=kind != "dgram")
                try:
                    _clients(link, res, why)
                    if ours:
                        st = _our_stats(console)
                        if st is not None:
                            res["offloads"] = st.get("offloads", "")
                            kicks = st.get("tx_kicks", 0)
                            res["tx_frames_per_kick"] = st["tx_frames"] / kicks if kicks else None
                            res["rx_merged"] = st.get("rx_merged", 0)
                            res["tx_tso"] = st.get("tx_tso", 0)
                finally:
                    _stop(proc)
        finally:
            link.close()
    return res, why


# -- the report -----------------------------------------------------------------------
def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.3f" % v if v < 10 else "%.0f" % v
    return str(v)


def table(rows):
    cols = KEYS + ("tx_frames_per_kick", "offloads")
    out = ["%-16s " % "guest" + " ".join("%12s" % c.replace("_mbps", "").replace("_ms", "")
                                            [:12] for c in cols)]
    for name, res, _why in rows:
        out.append("%-16s " % name + " ".join("%12s" % _fmt(res.get(c))[:12] for c in cols))
    return "\n".join(out)


def ratios(rows):
    """ours / theirs for every pair (ours, a --versus guest), figure by figure: > 1 is
    better for throughput, < 1 better for round-trip times."""
    out = []
    ours = [r for r in rows if r[0].startswith("ours-")]
    theirs = [r for r in rows if not r[0].startswith("ours-")]
    for on, ores, _ in ours:
        for tn, tres, _ in theirs:
            parts = []
            for k in KEYS:
                a, b = ores.get(k), tres.get(k)
                if a and b:
                    parts.append("%s %.2fx" % (k, a / b))
            out.append("%s vs %s: %s" % (on, tn, ", ".join(parts) or "nothing to compare"))
    return out


def run_link_bench(image, kind, vm, versus, json_path):
    if os.geteuid() != 0:
        print("ethox-uk bench --net %s: needs root (a private network namespace and a tap); "
              "run it as root" % kind, file=sys.stderr)
        return 2
    accels = [vm.accel] if vm.accel in ("kvm", "tcg") else (
        ["kvm", "tcg"] if kvm.usable() else ["tcg"])
    rows = []
    for accel in accels:
        name = "ours-%s" % accel
        argv = [sys.executable, "-m", "ethox_uk.cli", "run", str(image), "--accel", accel,
                "--machine", vm.machine] + (["--mem", vm.mem] if vm.mem else [])
        print("bench: %s on %s ..." % (name, kind), file=sys.stderr, flush=True)
        try:
            res, why = measure(kind, name, argv, ours=True)
        except Exception as e:
            res, why = {}, {"all": str(e)}
        rows.append((name, res, why))
    for spec in versus:
        name, _, cmd = spec.partition("=")
        print("bench: %s on %s ..." % (name, kind), file=sys.stderr, flush=True)
        try:
            res, why = measure(kind, name, ["sh", "-c", cmd], ours=False)
        except Exception as e:
            res, why = {}, {"all": str(e)}
        rows.append((name, res, why))
    print(table(rows))
    for line in ratios(rows):
        print(line)
    for name, _res, why in rows:
        for k, v in sorted(why.items()):
            print("  %s %s: %s" % (name, k, v))
    if json_path:
        import json

        doc = {"image": str(image), "net": kind, "machine": vm.machine,
               "rows": [{"name": n, "results": r, "unavailable": w} for n, r, w in rows],
               "ratios": ratios(rows)}
        with open(json_path, "w") as f:
            json.dump(doc, f, indent=1)
    return 0 if all(r for _n, r, _w in rows) else 1


def parse_versus(ctx, param, values):
    out = []
    for v in values:
        name, eq, cmd = v.partition("=")
        if not eq or not name or not cmd.strip() or not re.match(r"^[A-Za-z0-9_.-]+$", name):
            import click

            raise click.BadParameter("%r: expected NAME=CMD, e.g. linux=\"qemu-system-x86_64 "
                                     "... -netdev tap,id=n0,ifname=@TAP@,...\"" % v)
        shlex.split(cmd)  # a quoting error shows here, before anything boots
        out.append(v)
    return out
