"""What the suite checks: a stack reachable over a dgram SPEC (DESIGN §5).

    t = HostTarget("images/echo", spec=None, ip=None, gw=None, mac=None, faults=())
    spec = t.prepare()          # the SPEC (stack's side); short socket paths under /tmp
    ... bind the peer at spec.remote ...
    t.start(timeout)            # spawn, wait for the ready line (TargetError otherwise)
    t.ip, t.mac, t.prefix       # from the ready line (or the options)
    t.exit_status()             # None while running
    t.stop(); t.cleanup()       # bounded; removes the socket directory it made

HostTarget runs `ethox-uk host RECIPE --net SPEC`, ImageTarget `ethox-uk run IMAGE --net SPEC
--serial stdio`, BridgeImageTarget boots the image on the `--net bridge` path (a private
namespace: the guest's tap0 and a peer tap on bridge br0, the peer tap relayed to the SPEC
by netsetup.Relay), AttachTarget starts nothing and takes the SPEC the target was started
with. image_target() picks ImageTarget or BridgeImageTarget from a --net value.
Every failure to get going is a TargetError whose message says what to do.
"""

import collections
import contextlib
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

READY_RE = re.compile(r"^ethox-uk: ready ip=(\d+(?:\.\d+){3}) "
                      r"mac=([0-9a-f]{2}(?::[0-9a-f]{2}){5})(?: ip6=(\S+))?(?: \S+=\S+)*\r?$")
PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_IP = "10.0.2.15/24"
DEFAULT_GW = "10.0.2.2"
FAULTS_ENV = "ETHOX_UK_FAULTS"
STOP_TIMEOUT = 5.0


class TargetError(Exception):
    """The target could not be started or reached; str() says why and what to do."""


def _split_cidr(text):
    addr, _, pfx = text.partition("/")
    return addr, int(pfx) if pfx else 24


class Spec:
    """A dgram SPEC: the stack binds `local` and sends to `remote` (the peer's)."""

    def __init__(self, local, remote):
        self.local = local
        self.remote = remote

    @property
    def text(self):
        return "dgram:%s,%s" % (self.local, self.remote)

    def __repr__(self):
        return "Spec(%r)" % self.text


def spec_from(net_spec):
    """A Spec from a netspec.NetSpec, a SPEC string or a Spec; TargetError if not dgram."""
    if net_spec is None or isinstance(net_spec, Spec):
        return net_spec
    if isinstance(net_spec, str):
        from ..netspec import parse_spec

        try:
            net_spec = parse_spec(net_spec)
        except ValueError as e:
            raise TargetError(str(e)) from None
    if net_spec.kind != "dgram":
        raise TargetError("conformance drives the target over unix datagram sockets: give "
                          "--net dgram:LOCAL,REMOTE (or no --net), not %r" % net_spec.text)
    return Spec(net_spec.local, net_spec.remote)


class Target:
    kind = "target"
    # how far the target's timers may run fast or slow (Ctx.early/late): a stack on the
    # host's clock keeps time; a stack we know nothing about gets more room
    clock_slack = 0.1

    def __init__(self, spec=None, ip=None, gw=None, mac=None):
        self.spec = spec_from(spec)
        self.ip, self.prefix = _split_cidr(ip or DEFAULT_IP)
        self.ip_option = ip
        self.gw = gw or DEFAULT_GW
        self.mac = mac
        self.mac_option = mac
        self._tmpdir = None

    def prepare(self):
        """Choose (or check) the socket paths; returns the Spec."""
        if self.spec is None:
            self._tmpdir = tempfile.mkdtemp(prefix="exc", dir="/tmp")
            self.spec = Spec(os.path.join(self._tmpdir, "stack.sock"),
                             os.path.join(self._tmpdir, "peer.sock"))
        return self.spec

    def open_link(self):
        """The peer's link to the target (after prepare()): the peer side of the SPEC."""
        from .links import DgramLink

        try:
            return DgramLink(self.spec.local, self.spec.remote)
        except OSError as e:
            raise TargetError("cannot bind the peer's socket %s: %s" % (self.spec.remote, e))
        except ValueError as e:
            raise TargetError(str(e))

    def where(self):
        """Where the peer meets the target, in words (for error messages)."""
        return "SPEC %s" % self.spec.text

    def start(self, timeout):
        pass

    def dhcp_client(self):
        """A new, unstarted target of the same kind set up to ask DHCP for its address
        (`--ip dhcp`) on a link of its own, for the checks that need a client from its
        first DISCOVER; None when the target cannot be started afresh (attach, iface)."""
        return None

    def exit_status(self):
        return None

    def output_tail(self):
        return ""

    def stop(self):
        return None

    def cleanup(self):
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def describe(self):
        return self.kind


class ProcessTarget(Target):
    """A target that is a child process printing the ready line on stdout."""

    what = "the target"
    ready_timeout = 30.0

    def __init__(self, spec=None, ip=None, gw=None, mac=None, env=None):
        super().__init__(spec, ip, gw, mac)
        self.env = dict(env or {})
        self.proc = None
        self.argv = None
        self._tail = collections.deque(maxlen=40)
        self._ready = threading.Event()
        self._ready_line = None
        self._reader = None

    def command(self):
        raise NotImplementedError

    def netargs(self):
        args = ["--net", self.spec.text]
        if self.ip_option:
            args += ["--ip", self.ip_option]
        if self.gw and self.ip_option != "dhcp":
            # the peer is also the name server: the dns checks answer its queries
            args += ["--gw", self.gw, "--dns", self.gw]
        if self.mac_option:
            args += ["--mac", self.mac_option]
        return args

    def _child_env(self):
        env = dict(os.environ)
        pp = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(PACKAGE_ROOT) + (os.pathsep + pp if pp else "")
        env["PYTHONUNBUFFERED"] = "1"
        env.pop(FAULTS_ENV, None)  # only what this target asks for
        env.update(self.env)
        return env

    def _read_output(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode(errors="replace").rstrip("\r\n")
            self._tail.append(line)
            if not self._ready.is_set() and READY_RE.match(line):
                self._ready_line = line
                self._ready.set()
        self.proc.stdout.close()

    def start(self, timeout=None, wait_ready=True):
        """Spawn the target and wait (bounded) for its ready line; wait_ready=False
        returns once it runs (a DHCP client prints its line only once a lease is bound)."""
        timeout = self.ready_timeout if timeout is None else timeout
        self.argv = self.command()
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         env=self._child_env(), start_new_session=True)
        except OSError as e:
            raise TargetError("cannot start %s (%s): %s" % (self.what, self.argv[0], e))
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()
        if not wait_ready:
            return
        end = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            status = self.proc.poll()
            if status is not None:
                self._reader.join(1.0)
                raise TargetError("%s exited with status %d before its ready line; its "
                                  "output:\n%s" % (self.what, status, self.output_tail()))
            if time.monotonic() > end:
                self.stop()
                raise TargetError("%s printed no ready line (ethox-uk: ready ip=... mac=...) "
                                  "within %.0f s; stopped it. Its output:\n%s"
                                  % (self.what, timeout, self.output_tail()))
        m = READY_RE.match(self._ready_line)
        self.ip, self.mac = m.group(1), m.group(2)
        self.ip6 = m.group(3)  # "ADDR/PFX" when the target runs IPv6

    def exit_status(self):
        return None if self.proc is None else self.proc.poll()

    def output_tail(self, n=20):
        lines = list(self._tail)[-n:]
        return "\n".join("    " + l for l in lines) if lines else "    (nothing)"

    def stop(self):
        """SIGTERM the child's process group, bounded wait, then SIGKILL; its status.
        What the target set up around the child (_teardown) goes in any case."""
        try:
            return self._stop_child()
        finally:
            self._teardown()

    def _teardown(self):
        """Remove what start() set up around the child (a namespace, a relay): nothing
        here; the namespaced targets say what. Called by stop() and cleanup(), so twice."""

    @contextlib.contextmanager
    def _setting_up(self, label, why_root, errors):
        """The namespaced targets' set-up around the child: root first (TargetError
        why_root); a failure part-way removes what was made (_teardown), and `errors`
        become a TargetError led by label."""
        if os.geteuid() != 0:
            raise TargetError(why_root)
        try:
            yield
        except errors as e:
            self._teardown()
            raise TargetError("%s: %s" % (label, e)) from None
        except BaseException:
            self._teardown()
            raise

    def _stop_child(self):
        p = self.proc
        if p is None:
            return None
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:  # a target that never got ready gets little time to stop cleanly
                p.wait(STOP_TIMEOUT if self._ready.is_set() else 1.0)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(STOP_TIMEOUT)
        if self._reader is not None:
            self._reader.join(1.0)
        return p.returncode

    def cleanup(self):
        self._teardown()
        # A killed target cannot remove its own socket file.
        if self.spec is not None and self.proc is not None:
            try:
                if stat.S_ISSOCK(os.lstat(self.spec.local).st_mode):
                    os.unlink(self.spec.local)
            except OSError:
                pass
        super().cleanup()


class HostTarget(ProcessTarget):
    """`ethox-uk host RECIPE --net SPEC`; faults -> ETHOX_UK_FAULTS (negative controls)."""

    kind = "host"
    ready_timeout = 20.0

    def __init__(self, recipe, spec=None, ip=None, gw=None, mac=None, faults=(), env=None):
        env = dict(env or {})
        if faults:
            env[FAULTS_ENV] = ",".join(faults)
        super().__init__(spec, ip, gw, mac, env)
        self.recipe = str(recipe)
        self.faults = tuple(faults)
        self.what = "ethox-uk host %s" % self.recipe

    def command(self):
        return [sys.executable, "-m", "ethox_uk.cli", "host", self.recipe] + self.netargs()

    def dhcp_client(self):
        return HostTarget(self.recipe, ip="dhcp", mac=self.mac_option, faults=self.faults,
                          env={k: v for k, v in self.env.items() if k != FAULTS_ENV})

    def describe(self):
        f = " faults=%s" % ",".join(self.faults) if self.faults else ""
        return "host %s%s" % (self.recipe, f)


class ImageTarget(ProcessTarget):
    """`ethox-uk run IMAGE --net SPEC --serial stdio [VMOPTS]` (the booted image)."""

    kind = "image"
    ready_timeout = 60.0

    def __init__(self, image, spec=None, ip=None, gw=None, mac=None, accel=None,
                 machine=None, mem=None, env=None):
        super().__init__(spec, ip, gw, mac, env)
        self.image = str(image)
        self.vm_kw = dict(accel=accel, machine=machine, mem=mem)
        self.accel = accel
        self.vmopts = []
        for opt, val in (("--accel", accel), ("--machine", machine), ("--mem", mem)):
            if val:
                self.vmopts += [opt, val]
        self.what = "ethox-uk run %s" % self.image

    def command(self):
        return ([sys.executable, "-m", "ethox_uk.cli", "run", self.image] + self.netargs()
                + self.vmopts + ["--serial", "stdio"])

    def dhcp_client(self):
        # over a dgram link of its own (also for --net bridge: the checks are the server)
        return ImageTarget(self.image, ip="dhcp", mac=self.mac_option, env=self.env,
                           **self.vm_kw)

    @property
    def timescale(self):
        """The suite's default time scale for this target: 1 under KVM (timer bounds as for
        a host stack), 2 under TCG (emulation stretches every reply and timer)."""
        accel = self.accel
        if accel in (None, "auto"):
            from ..qemu import kvm

            accel = "kvm" if kvm.usable() else "tcg"
        return 1.0 if accel == "kvm" else 2.0

    @property
    def clock_slack(self):
        """0.1 under KVM; 0.25 under TCG, whose guests' clocks drift (a Linux guest's
        1 s timer fired after 0.84 s here)."""
        return 0.1 if self.timescale == 1.0 else 0.25

    def describe(self):
        return "image %s%s" % (self.image, (" " + " ".join(self.vmopts)) if self.vmopts else "")


class BridgeImageTarget(ImageTarget):
    """The image over the guest's real tap/bridge path (DESIGN §5 `--net bridge`):

        namespace exuk-<pid>-<n>   (printed on stderr; deleted by stop()/cleanup())
          br0 --+-- tap0   <- QEMU (`ip netns exec NS ethox-uk run IMAGE --net tap:tap0`)
                +-- ctap0  <- Relay thread <-> dgram SPEC <-> the suite's peer

    The tester veth of BridgeNet is taken off the link (address flushed, down) so the
    namespace's kernel neither answers for the peer's address nor adds frames of its own.
    The suite's peer is the only station besides the guest, exactly as over dgram."""

    kind = "image-bridge"
    peer_tap = "ctap0"
    relay_limit = 1800.0  # the relay thread ends by itself after this many seconds

    def __init__(self, image, spec=None, **kw):
        super().__init__(image, spec, **kw)
        self.bridge = None
        self.relay = None
        self.what = "ethox-uk run %s --net bridge" % self.image

    def command(self):
        return (self.bridge.prefix() + [sys.executable, "-m", "ethox_uk.cli", "run", self.image]
                + self._tapargs() + self.vmopts + ["--serial", "stdio"])

    def _tapargs(self):
        args = ["--net", "tap:%s" % self.bridge.tap]
        return args + ProcessTarget.netargs(self)[2:]

    def _setup_bridge(self):
        from ..netsetup import BridgeNet, NetSetupError
        from ..netsetup.netns import wait_link_up
        from ..netsetup.relay import Relay, open_tap

        with self._setting_up("--net bridge", "--net bridge makes a network namespace, which "
                              "needs root: run as root, or use --net dgram:LOCAL,REMOTE "
                              "(rootless)", NetSetupError):
            self.bridge = br = BridgeNet()
            ns = br.ns
            ns.ip("addr", "flush", "dev", br.veth)
            ns.ip("link", "set", br.veth, "down")
            ns.sysctl("net.unix.max_dgram_qlen", 256)
            with ns.entered():
                fd = open_tap(self.peer_tap)
            try:
                # the relay is the peer's counterpart: it binds the SPEC's LOCAL (where the
                # stack would be) and sends to its REMOTE (the peer)
                self.relay = Relay((self.spec.remote, self.spec.local), fd)
            except BaseException:
                os.close(fd)
                raise
            ns.ip("link", "set", self.peer_tap, "master", br.bridge)
            ns.ip("link", "set", self.peer_tap, "up")
            self.relay.start(self.relay_limit)
            wait_link_up(ns, self.peer_tap, 5.0)
        print("ethox-uk conformance: --net bridge: network namespace %s (bridge %s: guest %s, "
              "peer %s relayed to %s); removed when the run ends"
              % (br.name, br.bridge, br.tap, self.peer_tap, self.spec.local),
              file=sys.stderr, flush=True)

    def start(self, timeout=None):
        self._setup_bridge()
        super().start(timeout)

    def _teardown(self):
        relay, self.relay = self.relay, None
        br, self.bridge = self.bridge, None
        try:
            if relay is not None:
                relay.stop()
        finally:
            if br is not None:
                br.close()

    def describe(self):
        return "image %s --net bridge%s" % (
            self.image, (" " + " ".join(self.vmopts)) if self.vmopts else "")


def image_target(image, net_spec=None, **kw):
    """ImageTarget for a dgram (or no) --net, BridgeImageTarget for --net bridge."""
    kind = getattr(net_spec, "kind", None)
    if kind is None and isinstance(net_spec, str) and net_spec.strip() == "bridge":
        kind = "bridge"
    if kind == "bridge":
        return BridgeImageTarget(image, None, **kw)
    return ImageTarget(image, net_spec, **kw)


class AttachTarget(Target):
    """A stack already running on SPEC; nothing to start. --ip/--gw/--mac describe it."""

    kind = "attach"
    clock_slack = 0.25  # anything may be on the other side, an emulated guest too

    def __init__(self, spec, ip=None, gw=None, mac=None):
        if spec is None:
            raise TargetError("--attach needs the SPEC the target was started with, e.g. "
                              "--attach dgram:/tmp/ethox.sock,/tmp/peer.sock")
        super().__init__(spec, ip, gw, mac)

    def prepare(self):
        local = self.spec.local
        try:
            st = os.lstat(local)
        except FileNotFoundError:
            raise TargetError("nothing is bound at %s: start the target with --net %s first "
                              "(--attach takes the very SPEC the target was started with; "
                              "the stack's socket comes first)" % (local, self.spec.text))
        if not stat.S_ISSOCK(st.st_mode):
            raise TargetError("%s is not a socket: --attach takes the SPEC the target was "
                              "started with (dgram:STACK_SOCKET,PEER_SOCKET)" % local)
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            probe.connect(local)
        except OSError:
            raise TargetError("%s is a stale socket file (nobody is bound there): is the "
                              "target running with --net %s?" % (local, self.spec.text))
        finally:
            probe.close()
        return self.spec

    def describe(self):
        return "attach %s" % self.spec.text


class IfaceTarget(Target):
    """A stack reachable on a local interface (`--attach iface:IFNAME[@NETNS]`): a veth
    whose other end is a container, a tap a VM holds, a USB NIC. Nothing is started; the
    peer is a packet socket on IFNAME (root). --ip/--gw/--mac describe the target."""

    kind = "attach-iface"
    clock_slack = 0.25  # a VM under TCG, a board with a coarse tick: unknown

    def __init__(self, iface, ip=None, gw=None, mac=None):
        from .links import parse_iface

        try:
            self.ifname, self.netns = parse_iface(iface)
        except ValueError as e:
            raise TargetError(str(e)) from None
        super().__init__(None, ip, gw, mac)

    def prepare(self):
        return None

    def open_link(self):
        from .links import PacketLink

        self._refuse_peer_address()
        try:
            return PacketLink(self.ifname, self.netns)
        except ValueError as e:
            raise TargetError(str(e)) from None

    def _refuse_peer_address(self):
        """The interface must not hold the peer's address: its kernel would answer for the
        peer (ARP replies, RSTs for the suite's connections)."""
        argv = (["ip", "-n", self.netns] if self.netns and "/" not in self.netns
                else ["ip"]) + ["-o", "-4", "addr", "show", "dev", self.ifname]
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            return
        if re.search(r"\binet %s/" % re.escape(self.gw), out):
            raise TargetError("interface %s holds the peer's address %s: its own kernel would "
                              "answer for the peer; remove the address (ip addr del %s/.. dev "
                              "%s) or give the peer another one with --gw"
                              % (self.ifname, self.gw, self.gw, self.ifname))

    def where(self):
        return "interface %s%s" % (self.ifname, " in namespace %s" % self.netns
                                   if self.netns else "")

    def describe(self):
        return "attach iface:%s%s" % (self.ifname, "@" + self.netns if self.netns else "")


class LinuxTarget(ProcessTarget):
    """The Linux kernel's own stack (`--linux`): no VM, the host kernel in two private
    namespaces joined by a veth pair,

        exuk-<pid>-<n> (target)                     exuk-<pid>-<m> (peer)
          eth0 10.0.2.15/24, the echo recipe's        peer0 (no address) <- the suite's
          services on kernel sockets (linux_services)       packet socket

    with the veth's offloads off (frames as a wire carries them) and IPv6 off (no chatter).
    Both namespaces go when the run ends. The suite calibrates itself against this target
    in `make test`."""

    kind = "linux"
    what = "the Linux services (linux_services)"
    ready_timeout = 20.0
    target_if = "eth0"
    peer_if = "peer0"

    def __init__(self, ip=None, gw=None, mac=None):
        super().__init__(None, ip, gw, mac)
        self.mac = (mac or "52:54:00:12:34:56").lower()
        self.target_ns = None
        self.peer_ns = None

    def prepare(self):
        from ..netsetup import NetNS, NetSetupError
        from ..netsetup.ethtool import offloads_off

        with self._setting_up("--linux", "--linux makes network namespaces, which needs root: "
                              "run as root (or point --attach at a stack you started)",
                              (NetSetupError, OSError)):
            self.target_ns = t = NetNS()
            self.peer_ns = p = NetNS()
            for ns in (t, p):
                ns.sysctl("net.ipv6.conf.all.disable_ipv6", 1)
                ns.sysctl("net.ipv6.conf.default.disable_ipv6", 1)
            t.ip("link", "add", self.target_if, "address", self.mac, "type", "veth", "peer",
                 "name", self.peer_if, "netns", p.name)
            t.ip("addr", "add", "%s/%d" % (self.ip, self.prefix), "dev", self.target_if)
            with t.entered():
                offloads_off(self.target_if)
            with p.entered():
                offloads_off(self.peer_if)
            p.ip("link", "set", self.peer_if, "up")
            t.ip("link", "set", self.target_if, "up")
        return None

    def open_link(self):
        from .links import PacketLink

        try:
            return PacketLink(self.peer_if, self.peer_ns.name)
        except ValueError as e:
            raise TargetError(str(e)) from None

    def command(self):
        return self.target_ns.prefix() + [
            sys.executable, "-m", "ethox_uk.conformance.linux_services",
            "--ip", "%s/%d" % (self.ip, self.prefix), "--mac", self.mac]

    def start(self, timeout=None):
        super().start(timeout)
        from ..netsetup.netns import wait_link_up

        wait_link_up(self.target_ns, self.target_if, 5.0)

    def _teardown(self):
        for attr in ("peer_ns", "target_ns"):
            ns = getattr(self, attr)
            setattr(self, attr, None)
            if ns is not None:
                ns.close()

    def where(self):
        return "the veth %s in namespace %s" % (self.peer_if, self.peer_ns.name
                                                if self.peer_ns else "?")

    def describe(self):
        return "linux %s" % os.uname().release
