"""`ethox-uk bench --image IMAGE [VMOPTS] [--runs N] [--json F].

Boots IMAGE under KVM (when usable; --accel picks one) and TCG, QEMU's own stdio console on
pipes and the network over unix datagram sockets (`-netdev dgram`, never user networking),
and measures, each the median of N runs unless marked "1 run":

  floor_line_ms / floor_exit_ms   a tiny PVH kernel (bench/floor.py): QEMU start -> its line,
                                  -> QEMU exit (the floor of QEMU itself)
  banner_ms                       QEMU start -> the MicroPython banner line on the console
  ready_ms                        QEMU start -> the ready line
  exec_pass_ms                    QEMU start -> QEMU exit for `exec 'pass'` (what `ethox-uk
                                  exec` does: prompt, raw REPL, pass, _ethox.exit(0))
  first_arp_ms                    QEMU start -> the first ARP reply seen by a peer that sends
                                  an ARP request every ARP_EVERY s from the start
  ping_p50_us / ping_p99_us       100 pings (56 identical bytes) one at a time, per run
  loop_1m_ms                      `for i in range(1000000): pass` timed in the guest (ticks_us)
  regs_per_frame_ping             device-register accesses (rx/tx kicks + interrupt acks, the
                                  driver's own counters) per frame moved, ping-pong traffic
  irqs_per_frame_ping             interrupts taken (_ethox.irq_count()) per frame, same traffic
  idle_cpu_pct                    QEMU's utime+stime over IDLE_SECONDS of an idle guest
  boots_16m                       1 run: reaches the REPL with -m 16M
  tcp_to_guest_mbps               1 run: the Linux kernel (netsetup.KernelPeer, a private
  tcp_from_guest_mbps             namespace + tap + relay) sends to discard (9) / reads from
                                  chargen (19), bounded by TCP_BYTES and TCP_SECONDS each
  regs_per_frame_bulk             1 run: register accesses per frame over the two transfers
  image_bytes / stripped_bytes    the file, and a `strip`ped copy

VM exits are not counted directly (QEMU does not expose them); every register access is one.
A figure that cannot be measured is None with its reason in "unavailable" (never made up).
JSON: {"image", "machine", "mem", "runs", "accels", "results": {accel: {key: value}},
       "unavailable": {accel: {key: reason}}, "aims": {key: text}, "errors": [...]}.
"""

import json
import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..build import elfinfo
from ..checksum import inet_checksum
from ..host.dgram_peer import PEER_IP, PEER_MAC, RawDgramPeer, ip_bytes, mac_bytes
from ..netspec import NetOpts, NetSpec
from ..qemu import cmdline, kvm, rawrepl
from ..qemu.cmdline import QemuError
from ..qemu.options import VmOptions
from ..qemu.vm import Vm
from . import floor

GUEST_IP = "10.0.2.15"
GUEST_MAC = "52:54:00:12:34:56"
BANNER = re.compile(rb"^MicroPython v[^\r\n]*\r?\n", re.M)
READY = re.compile(rb"^ethox-uk: ready ip=\d+(\.\d+){3} mac=[0-9a-f]{2}(:[0-9a-f]{2}){5}( \S+=\S+)*\r?$",
                   re.M)
PROMPT = b"\n>>> "
BOOT_TIMEOUT = 60.0
ARP_EVERY = 0.002
PINGS = 100
IDLE_SECONDS = 5.0
TCP_BYTES = 8 << 20
TCP_SECONDS = 5.0
LOOP_N = 1000000

KEYS = ("floor_line_ms", "floor_exit_ms", "banner_ms", "ready_ms", "exec_pass_ms",
        "first_arp_ms", "ping_p50_us", "ping_p99_us", "loop_1m_ms", "regs_per_frame_ping",
        "irqs_per_frame_ping", "idle_cpu_pct", "boots_16m", "tcp_to_guest_mbps",
        "tcp_from_guest_mbps", "regs_per_frame_bulk", "image_bytes", "stripped_bytes")

# (label, unit/format, aim text, check(value, results) -> bool or None); aims apply under KVM
ROWS = (
    ("floor_line_ms", "floor: start → line", "ms", None),
    ("floor_exit_ms", "floor: start → exit", "ms", None),
    ("banner_ms", "start → banner", "ms", "≤ 1.3× floor line (KVM)"),
    ("ready_ms", "start → ready line", "ms", None),
    ("exec_pass_ms", "start → exit, exec 'pass'", "ms", "cf. floor exit"),
    ("first_arp_ms", "start → first ARP reply", "ms", "≤ 1.3× floor exit (KVM)"),
    ("ping_p50_us", "ping RTT p50 (100)", "µs", None),
    ("ping_p99_us", "ping RTT p99 (100)", "µs", None),
    ("tcp_to_guest_mbps", "TCP peer → guest (discard)", "Mbit/s", "≥ 100 (KVM)"),
    ("tcp_from_guest_mbps", "TCP guest → peer (chargen)", "Mbit/s", "≥ 100 (KVM)"),
    ("regs_per_frame_ping", "register accesses / frame, ping", "", None),
    ("irqs_per_frame_ping", "interrupts / frame, ping", "", None),
    ("regs_per_frame_bulk", "register accesses / frame, TCP bulk", "", None),
    ("idle_cpu_pct", "host CPU, idle guest (5 s)", "% core", "< 2 % (KVM)"),
    ("loop_1m_ms", "1,000,000-iteration loop", "ms", None),
    ("boots_16m", "boots with -m 16M", "", "yes"),
    ("image_bytes", "image size", "KiB", None),
    ("stripped_bytes", "stripped image size", "KiB", "≤ 512 KiB"),
)


def aim_met(key, accel, res):
    """True/False when the aim applies (KVM figures; sizes and 16M anywhere), else None."""
    v = res.get(key)
    if v is None:
        return None
    if key == "stripped_bytes":
        return v <= 512 * 1024
    if key == "boots_16m":
        return bool(v)
    if accel != "kvm":
        return None
    if key == "banner_ms" and res.get("floor_line_ms"):
        return v <= 1.3 * res["floor_line_ms"]
    if key == "first_arp_ms" and res.get("floor_exit_ms"):
        return v <= 1.3 * res["floor_exit_ms"]
    if key in ("tcp_to_guest_mbps", "tcp_from_guest_mbps"):
        return v >= 100
    if key == "idle_cpu_pct":
        return v < 2
    return None


class BenchError(Exception):
    pass


# -- one QEMU with its console on pipes ------------------------------------------------------

def _unread_image(path):
    """An ImageInfo for a kernel the bench boots without reading it (the floor kernel is
    no ethox-uk image; the image itself was checked by run_bench): no metadata, no RAM
    check -- the bench passes memory and boot words itself."""
    return elfinfo.ImageInfo(str(path), 0, None, None, [], {}, [])


class Guest:
    """One timed boot on qemu.vm.Vm, started as the bench has always measured it: the
    console on QEMU's stdio pipes, no QMP monitor, QEMU in our session and spawned without
    a preexec hook (vfork), its stderr kept out of the table. Times are ms from QEMU's
    start (Vm.started_at)."""

    def __init__(self, image, accel, machine, mem="64M", append="", net=None):
        self.vm = Vm(_unread_image(image), VmOptions(accel=accel, machine=machine, mem=mem),
                     net, console="pipe", append=append, notice=False, monitor=False,
                     echo_stderr=False, die_with_parent=False)
        self.proc = None
        self.con = None

    @property
    def argv(self):
        """The QEMU line start() runs."""
        return self.vm.argv(cmdline.Serial("stdio"), None)

    def start(self):
        self.vm.start(new_session=False)
        self.t0 = self.vm.started_at
        self.proc = self.vm.proc
        self.con = self.vm.console
        return self

    def ms(self, t=None):
        return ((time.monotonic() if t is None else t) - self.t0) * 1000.0

    def wait_for(self, pattern, timeout=BOOT_TIMEOUT):
        """ms from start until pattern (regex or bytes) is on the console; BenchError."""
        t = self.con.wait_for(pattern, timeout)
        if t is None:
            raise BenchError("no %r within %g s (QEMU status %r); console tail %r" % (
                getattr(pattern, "pattern", pattern), timeout, self.proc.poll(),
                bytes(self.con.seen[-200:])))
        return self.ms(t)

    def repl(self, code, timeout=120.0):
        """Run code in the raw REPL; its stdout (BenchError on an exception)."""
        r = rawrepl.RawRepl(self.con)
        r.enter(timeout=10.0, interrupt=False)
        out, err = [], []
        r.send(code.encode(), timeout=10.0)
        text = r.follow(out.append, err.append, timeout)
        r.leave()
        try:
            r.read_until(PROMPT, 5.0)
        except rawrepl.RawReplError:
            pass
        if text:
            raise BenchError("guest exception: %s" % text.decode(errors="replace").strip())
        return b"".join(out).decode(errors="replace")

    def exit(self, timeout=20.0):
        """_ethox.exit(0) through the raw REPL; ms from start to QEMU's exit."""
        r = rawrepl.RawRepl(self.con)
        try:
            r.enter(timeout=10.0, interrupt=False)
            r.send(b"import _ethox\n_ethox.exit(0)\n", timeout=5.0)
        except rawrepl.RawReplError:
            pass
        if self.vm.wait(timeout) is None:
            raise BenchError("the guest did not exit within %g s" % timeout)
        return self.ms()

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self):
        self.vm.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- the frames of the timed path (raw bytes: no scapy there) -------------------------------

def arp_request():
    return (b"\xff" * 6 + mac_bytes(PEER_MAC) + b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04\x00\x01"
            + mac_bytes(PEER_MAC) + ip_bytes(PEER_IP) + b"\0" * 6 + ip_bytes(GUEST_IP))


def is_arp_reply(f):
    return len(f) >= 42 and f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02" \
        and f[28:32] == ip_bytes(GUEST_IP)


def echo_request(seq, payload=bytes(range(56))):
    icmp = b"\x08\x00\x00\x00" + (0x4242).to_bytes(2, "big") + seq.to_bytes(2, "big") + payload
    icmp = icmp[:2] + inet_checksum(icmp).to_bytes(2, "big") + icmp[4:]
    ip = (b"\x45\x00" + (20 + len(icmp)).to_bytes(2, "big") + b"\x00\x01\x00\x00\x40\x01\x00\x00"
          + ip_bytes(PEER_IP) + ip_bytes(GUEST_IP))
    ip = ip[:10] + inet_checksum(ip).to_bytes(2, "big") + ip[12:]
    return mac_bytes(GUEST_MAC) + mac_bytes(PEER_MAC) + b"\x08\x00" + ip + icmp


def is_echo_reply(f, seq):
    return len(f) >= 42 and f[12:14] == b"\x08\x00" and f[23] == 1 and f[34] == 0 \
        and f[38:40] == (0x4242).to_bytes(2, "big") and f[40:42] == seq.to_bytes(2, "big")


def raw_peer(local, remote):
    """The peer end of the guest's dgram link (host/dgram_peer.py), answering its ARP
    requests for PEER_IP; BenchError when REMOTE cannot be bound."""
    try:
        return RawDgramPeer(local, remote, ip=PEER_IP, mac=PEER_MAC)
    except ValueError as e:
        raise BenchError(str(e)) from None


# -- the measurements ---------------------------------------------------------------------

def _net(sockdir):
    local, remote = os.path.join(sockdir, "g.sock"), os.path.join(sockdir, "p.sock")
    return NetOpts(spec=NetSpec("dgram", local, remote)), local, remote


def floor_run(elf, accel, machine):
    g = Guest(elf, accel, machine).start()
    try:
        line = g.wait_for(floor.LINE, timeout=30.0)
        g.proc.wait(30)
        exit_ms = g.ms()
        if g.proc.returncode != floor.EXIT_STATUS:
            raise BenchError("floor kernel ended with status %r" % g.proc.returncode)
        return line, exit_ms
    finally:
        g.close()


def boot_run(image, accel, machine, append, sockdir, pings, idle_seconds, loop=True,
             mem="64M"):
    """One boot with a raw peer: banner, ready, first ARP reply, pings, counters, loop, idle."""
    net, local, remote = _net(sockdir)
    peer = raw_peer(local, remote)
    out = {}
    try:
        with Guest(image, accel, machine, mem=mem, append=append, net=net) as g:
            g.start()
            req = arp_request()
            dl = time.monotonic() + BOOT_TIMEOUT
            next_arp = 0.0
            while "first_arp_ms" not in out or not g.con.seen.endswith(PROMPT):
                now = time.monotonic()
                if now > dl or g.con.eof:
                    raise BenchError("boot: no ARP reply or prompt within %g s (QEMU status "
                                     "%r); console tail %r" % (BOOT_TIMEOUT, g.proc.poll(),
                                                               bytes(g.con.seen[-200:])))
                if "first_arp_ms" not in out and now >= next_arp:
                    peer.try_send(req)
                    next_arp = now + ARP_EVERY
                r, _, _ = select.select([peer.sock, g.con], [], [], ARP_EVERY)
                if peer.sock in r:
                    f = peer.recv_frame(0)
                    if f is not None and is_arp_reply(f) and "first_arp_ms" not in out:
                        out["first_arp_ms"] = g.ms()
                if g.con in r:
                    g.con.read(0)
                    if "banner_ms" not in out and BANNER.search(g.con.seen):
                        out["banner_ms"] = g.ms()
                    if "ready_ms" not in out and READY.search(g.con.seen):
                        out["ready_ms"] = g.ms()
            rtts = []
            for seq in range(pings):
                t = time.perf_counter()
                peer.try_send(echo_request(seq))
                end = time.monotonic() + 5.0
                while True:
                    f = peer.recv_frame(end - time.monotonic())
                    if f is None:
                        raise BenchError("no reply to ping %d within 5 s" % seq)
                    if is_echo_reply(f, seq):
                        rtts.append((time.perf_counter() - t) * 1e6)
                        break
            if rtts:
                rtts.sort()
                out["ping_p50_us"] = rtts[len(rtts) // 2]
                out["ping_p99_us"] = rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))]
            st = _counters(g)
            frames = st["rx"] + st["tx"]
            if pings and frames:
                out["regs_per_frame_ping"] = st["regs"] / frames
                out["irqs_per_frame_ping"] = st["irqs"] / frames
            if loop:
                txt = g.repl("import time\ndef _f(n):\n    t = time.ticks_us()\n"
                             "    for i in range(n):\n        pass\n"
                             "    return time.ticks_diff(time.ticks_us(), t)\n"
                             "print('LOOP', _f(%d))\n" % LOOP_N, timeout=600.0)
                out["loop_1m_ms"] = int(txt.split("LOOP", 1)[1].split()[0]) / 1000.0 \
                    * (1000000 / LOOP_N)
            if idle_seconds:
                c0, t0 = g.cpu_seconds(), time.monotonic()
                time.sleep(idle_seconds)
                c1, t1 = g.cpu_seconds(), time.monotonic()
                out["idle_cpu_pct"] = 100.0 * (c1 - c0) / (t1 - t0)
            g.exit()
    finally:
        peer.close()
    return out


def _counters(g):
    txt = g.repl("import _ethox\ns = net.nic.stats()\n"
                 "print('ST', s['rx_frames'], s['tx_frames'], "
                 "s['rx_kicks'] + s['tx_kicks'] + s['irq_acks'], _ethox.irq_count())\n")
    rx, tx, regs, irqs = (int(x) for x in txt.split("ST", 1)[1].split()[:4])
    return {"rx": rx, "tx": tx, "regs": regs, "irqs": irqs}


def exec_pass_run(image, accel, machine, append, sockdir, mem="64M"):
    """QEMU start -> exit for `exec 'pass'` (a peer socket is bound; nothing is sent)."""
    net, local, remote = _net(sockdir)
    peer = raw_peer(local, remote)
    try:
        with Guest(image, accel, machine, mem=mem, append=append, net=net) as g:
            g.start()
            g.wait_for(PROMPT)
            g.repl("pass\n")
            return g.exit()
    finally:
        peer.close()


def mem16_run(image, accel, machine, append, sockdir):
    """(True, None) when the image reaches its REPL with -m 16M, else (False, reason)."""
    net, local, remote = _net(sockdir)
    peer = raw_peer(local, remote)
    try:
        with Guest(image, accel, machine, mem="16M", append=append, net=net) as g:
            g.start()
            try:
                g.wait_for(PROMPT, timeout=BOOT_TIMEOUT)
            except BenchError as e:
                return False, str(e)
            g.exit()
            return True, None
    finally:
        peer.close()


TCP_CLIENT = r"""
import fcntl, json, socket, struct, sys, termios, time
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
limit, secs = int(sys.argv[4]), float(sys.argv[5])
try:
    s = socket.create_connection((host, port), timeout=10)
except OSError as e:
    print(json.dumps({"error": "connect to %s:%d: %s" % (host, port, e)})); sys.exit(0)
s.settimeout(secs + 10)
n = 0
t0 = time.monotonic()
end = t0 + secs
if mode == "send":
    buf = bytes(65536)
    while n < limit and time.monotonic() < end:
        n += s.send(buf[:min(len(buf), limit - n)])
    while time.monotonic() < end + 10:   # until the guest has acknowledged every byte
        q = struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
        if q == 0:
            break
        time.sleep(0.001)
    else:
        n -= q
else:
    while n < limit and time.monotonic() < end:
        d = s.recv(65536)
        if not d:
            break
        n += len(d)
t = time.monotonic() - t0
s.close()
print(json.dumps({"bytes": n, "seconds": t, "mbps": n * 8 / t / 1e6}))
"""


def tcp_run(image, accel, machine, append, sockdir, nbytes, seconds, mem="64M"):
    """(results, reasons): the Linux kernel as a real TCP peer through netsetup.KernelPeer."""
    keys = ("tcp_to_guest_mbps", "tcp_from_guest_mbps", "regs_per_frame_bulk")
    try:
        from ..netsetup import KernelPeer
    except Exception as e:  # pragma: no cover
        return {}, {k: "netsetup unavailable: %s" % e for k in keys}
    if os.geteuid() != 0:
        return {}, {k: "needs root (a private network namespace and a tap)" for k in keys}
    net, local, remote = _net(sockdir)
    res, why = {}, {}
    try:
        kp = KernelPeer("dgram:%s,%s" % (local, remote), limit=BOOT_TIMEOUT + 4 * seconds + 120)
    except Exception as e:
        return {}, {k: "KernelPeer: %s" % e for k in keys}
    try:
        with Guest(image, accel, machine, mem=mem, append=append, net=net) as g:
            g.start()
            g.wait_for(PROMPT)
            before = _counters(g)
            for key, port, mode in (("tcp_to_guest_mbps", 9, "send"),
                                    ("tcp_from_guest_mbps", 19, "recv")):
                r = kp.run([sys.executable, "-c", TCP_CLIENT, GUEST_IP, str(port), mode,
                            str(nbytes), str(seconds)], timeout=seconds + 60)
                try:
                    doc = json.loads(r.stdout.strip().splitlines()[-1])
                except (ValueError, IndexError):
                    why[key] = "client failed: %s" % (r.stderr or r.stdout).strip()[-200:]
                    continue
                if "error" in doc:
                    why[key] = "TCP service not there: %s" % doc["error"]
                elif not doc["bytes"]:
                    why[key] = "no byte moved in %.1f s" % doc["seconds"]
                else:
                    res[key] = doc["mbps"]
            after = _counters(g)
            frames = after["rx"] + after["tx"] - before["rx"] - before["tx"]
            if res and frames:
                res["regs_per_frame_bulk"] = (after["regs"] - before["regs"]) / frames
            else:
                why["regs_per_frame_bulk"] = "no bulk transfer ran"
            g.exit()
    except (BenchError, QemuError, rawrepl.RawReplError) as e:
        for k in keys:
            if k not in res:
                why.setdefault(k, str(e))
    finally:
        kp.close()
    return res, why


def sizes(image):
    size = os.path.getsize(image)
    d = tempfile.mkdtemp(prefix="exbs", dir="/tmp")
    try:
        copy = os.path.join(d, "image.elf")
        shutil.copyfile(image, copy)
        r = subprocess.run(["strip", copy], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            return size, None, "strip failed: %s" % r.stderr.strip()
        return size, os.path.getsize(copy), None
    except FileNotFoundError:
        return size, None, "strip not found (binutils)"
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _median(xs):
    return statistics.median(xs) if xs else None


def measure(image, accels, machine="microvm", append="", mem="64M", runs=5, pings=PINGS,
            idle_seconds=IDLE_SECONDS, tcp_bytes=TCP_BYTES, tcp_seconds=TCP_SECONDS,
            loop=True, progress=None):
    """The whole document (see the module doc)."""
    say = progress or (lambda s: None)
    doc = {"image": str(image), "machine": machine, "mem": mem, "runs": runs,
           "accels": list(accels),
           "results": {}, "unavailable": {}, "errors": []}
    size, stripped, why_strip = sizes(image)
    sockdir = tempfile.mkdtemp(prefix="exbi", dir="/tmp")  # sun_path: keep it short
    try:
        try:
            felf = floor.build(Path(sockdir) / "floor")
        except floor.FloorError as e:  # no assembler here: the rest is still measured
            felf = None
            floor_why = "floor kernel not built: %s" % e
            doc["errors"].append(floor_why)
        for accel in accels:
            res = {k: None for k in KEYS}
            why = {}
            res["image_bytes"], res["stripped_bytes"] = size, stripped
            if why_strip:
                why["stripped_bytes"] = why_strip

            def attempt(label, fn, keys):
                try:
                    return fn()
                except (BenchError, QemuError, rawrepl.RawReplError, OSError,
                        subprocess.SubprocessError) as e:
                    msg = "%s: %s" % (label, e)
                    doc["errors"].append("%s %s" % (accel, msg))
                    for k in keys:
                        why.setdefault(k, msg)
                    return None

            fl = []
            if felf is None:
                why["floor_line_ms"] = why["floor_exit_ms"] = floor_why
            else:
                say("%s: floor kernel ×%d" % (accel, runs))
                fl = [x for x in (attempt("floor", lambda: floor_run(felf, accel, machine),
                                          ("floor_line_ms", "floor_exit_ms"))
                                  for _ in range(runs)) if x]
            res["floor_line_ms"] = _median([a for a, b in fl])
            res["floor_exit_ms"] = _median([b for a, b in fl])

            say("%s: boots with ARP, %d pings, counters, loop, %g s idle ×%d"
                % (accel, pings, idle_seconds, runs))
            boot_keys = ("banner_ms", "ready_ms", "first_arp_ms", "ping_p50_us", "ping_p99_us",
                         "regs_per_frame_ping", "irqs_per_frame_ping", "loop_1m_ms",
                         "idle_cpu_pct")
            boots = [x for x in (attempt("boot", lambda: boot_run(
                image, accel, machine, append, sockdir, pings, idle_seconds, loop, mem), boot_keys)
                for _ in range(runs)) if x]
            for k in boot_keys:
                res[k] = _median([b[k] for b in boots if k in b])
            if not loop:
                why.setdefault("loop_1m_ms", "skipped (--no-loop)")
            if not idle_seconds:
                why.setdefault("idle_cpu_pct", "skipped")
            if not pings:
                for k in ("ping_p50_us", "ping_p99_us", "regs_per_frame_ping",
                          "irqs_per_frame_ping"):
                    why.setdefault(k, "skipped (no pings)")

            say("%s: exec 'pass' ×%d" % (accel, runs))
            ex = [x for x in (attempt("exec 'pass'", lambda: exec_pass_run(
                image, accel, machine, append, sockdir, mem), ("exec_pass_ms",))
                for _ in range(runs)) if x]
            res["exec_pass_ms"] = _median(ex)

            say("%s: -m 16M" % accel)
            m = attempt("-m 16M", lambda: mem16_run(image, accel, machine, append, sockdir),
                        ("boots_16m",))
            if m:
                res["boots_16m"] = m[0]
                if m[1]:
                    why["boots_16m"] = "no: " + m[1]

            say("%s: TCP with the Linux kernel as peer (≤ %d MiB / %g s each way)"
                % (accel, tcp_bytes >> 20, tcp_seconds))
            r, w = tcp_run(image, accel, machine, append, sockdir, tcp_bytes, tcp_seconds, mem)
            res.update(r)
            for k, v in w.items():
                why.setdefault(k, v)

            for k in KEYS:
                if res[k] is None:
                    why.setdefault(k, "not measured")
            doc["results"][accel] = res
            doc["unavailable"][accel] = {k: v for k, v in why.items() if res[k] is None
                                         or k == "boots_16m"}
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)
    doc["aims"] = {k: aim for k, _, _, aim in ROWS if aim}
    return doc


# -- presentation ---------------------------------------------------------------------------

def _fmt(key, unit, v):
    if v is None:
        return "unavailable"
    if key == "boots_16m":
        return "yes" if v else "no"
    if unit == "KiB":
        return "%.0f" % (v / 1024)
    if unit == "":
        return "%.2f" % v
    return "%.1f" % v if v < 100 else "%.0f" % v


def table(doc):
    from rich.table import Table

    t = Table(title="ethox-uk bench: %s on %s, median of %d runs"
              % (os.path.basename(doc["image"]), doc["machine"], doc["runs"]))
    t.add_column("measure", no_wrap=True)
    t.add_column("unit")
    for a in doc["accels"]:
        t.add_column(a.upper(), justify="right")
    t.add_column("aim")
    for key, label, unit, aim in ROWS:
        cells = []
        for a in doc["accels"]:
            v = doc["results"][a][key]
            s = _fmt(key, unit, v)
            ok = aim_met(key, a, doc["results"][a])
            if ok is True:
                s = "[green]%s ✓[/]" % s
            elif ok is False:
                s = "[red]%s ✗[/]" % s
            cells.append(s)
        t.add_row(label, unit, *cells, aim or "")
    return t


def notes(doc):
    out = []
    for a in doc["accels"]:
        for k, why in doc["unavailable"].get(a, {}).items():
            out.append("%s %s: %s" % (a, k, why))
    out.append("VM exits are not counted; register accesses (each one exit) come from the "
               "driver's counters (rx/tx kicks + interrupt acknowledgements).")
    return out


def run_bench(image, vm, json_path, runs, **kw):
    """The `bench --image` command: 0 when every figure was measured, 1 otherwise."""
    from rich.console import Console

    console = Console()
    try:
        info = elfinfo.check(image)
    except elfinfo.ImageError as e:
        print("ethox-uk: error: %s" % e, file=sys.stderr)
        return getattr(e, "status", 126)
    if vm.accel == "auto":
        accels = (["kvm"] if kvm.usable() else []) + ["tcg"]
        if not kvm.usable():
            print("ethox-uk bench: KVM not usable (%s): TCG only" % kvm.probe(), file=sys.stderr)
    else:
        if vm.accel == "kvm":
            cmdline.choose_accel("kvm")  # QemuError when unusable
        accels = [vm.accel]
    append = info.get("cmdline", "") if hasattr(info, "get") else ""
    mem = vm.mem or (info.get("memory") if hasattr(info, "get") else None) or "64M"
    doc = measure(image, accels, machine=vm.machine, append=append, mem=mem, runs=runs,
                  progress=lambda s: print("ethox-uk bench: " + s, file=sys.stderr, flush=True),
                  **kw)
    console.print(table(doc))
    for line in notes(doc):
        print("  " + line)
    if json_path:
        Path(json_path).write_text(json.dumps(doc, indent=2) + "\n")
    missing = any(v is None for a in accels for v in doc["results"][a].values())
    return 1 if missing or doc["errors"] else 0
