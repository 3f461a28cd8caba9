"""The QEMU command line of DESIGN §5, built from an image, VMOPTS, NETOPTS and a console.

    qemu-system-x86_64 -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,
      resourcecontrol=deny -M microvm,acpi=off -accel kvm|tcg -m 64M -nodefaults -no-user-config
      -nographic -no-reboot -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04
      -global virtio-mmio.force-legacy=false -kernel IMAGE -append "ip=10.0.2.15/24 gw=10.0.2.2"
      -netdev dgram,... -device virtio-net-device,netdev=n0,mac=52:54:00:12:34:56

q35: `-M q35` (QEMU boots the PVH ELF through its pvh.bin option ROM) with virtio-net-pci,
disable-legacy=on. The console replaces `-serial stdio` in place: `-serial pty`, a listening
unix socket (`--serial unix:PATH`) or an inherited socket (`fd`, what exec and repl use); the
QMP monitor, when asked for, is an inherited socket too, so no path can go stale or race.
`--net user` is QEMU's user-mode network, always with `restrict=on` (the guest reaches
nothing outside the VM), its network and host address taken from the guest's own
configuration (10.0.2.0/24 and 10.0.2.2 by default, as slirp's own) and one `hostfwd` per
published port (`-p`), bound to 127.0.0.1 unless the user named another address.
Never `-cpu host`/`max` (they abort under this machine's KVM).
Every line carries QEMU's seccomp sandbox (SANDBOX): a guest that breaks out of the device
models still cannot exec, fork helpers, change its limits or use obsolete system calls.
"""

import os
import pwd
import shlex
import shutil

from ..build.recipe import QEMU_MMIO_WORD, check_cmdline_length, parse_memory
from ..stack.config import DEFAULT_MAC, Config, format_ip
from ..stack.nic.dgram import remove_stale
from . import kvm
from .status import QEMU_FAILED

QEMU = "qemu-system-x86_64"
# DESIGN §5, additions of 2026-12-04: on every QEMU line we build (tests build theirs with it)
SANDBOX = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"
# QEMU 7.2 installs its seccomp filter before it handles -runas, so with
# elevateprivileges=deny the setgid()/setuid() of -runas kill QEMU (SIGSYS). A line that
# drops root therefore allows set*id: after the drop QEMU holds no capability, so those
# calls can only move between unprivileged ids. Everything else stays denied.
SANDBOX_RUNAS = "on,obsolete=deny,elevateprivileges=allow,spawn=deny,resourcecontrol=deny"
ENV_QEMU_USER = "ETHOX_UK_QEMU_USER"
DEFAULT_QEMU_USER = "nobody"
MAX_SOCKET_PATH = 99  # sun_path holds 108 bytes; DESIGN §5 keeps paths under 100
HARMLESS_STDERR = (
    # the default CPU model under this KVM (DESIGN §8): nothing is wrong
    "host doesn't support requested feature: CPUID.01H:ECX.pni",
)


class QemuError(Exception):
    """QEMU cannot be run as asked; str() is one line, .status the exit status."""

    def __init__(self, message, status=QEMU_FAILED):
        super().__init__(message)
        self.status = status


class Serial:
    """The guest console: kind "stdio", "pty", "unix" (path) or "fd" (an inherited socket)."""

    def __init__(self, kind, path=None, fd=None):
        self.kind = kind
        self.path = path
        self.fd = fd

    def __repr__(self):
        return "Serial(%r, %r)" % (self.kind, self.path or self.fd)


def parse_serial(text):
    """`stdio`, `pty` or `unix:PATH` -> Serial; ValueError saying what to write."""
    if text in ("stdio", "pty"):
        return Serial(text)
    kind, sep, path = text.partition(":")
    if kind == "unix" and sep:
        check_socket_path(path, "--serial unix:PATH")
        return Serial("unix", path=path)
    raise ValueError("%r: expected stdio, pty or unix:PATH (e.g. unix:/tmp/ethox-console.sock)"
                     % text)


def check_socket_path(path, what):
    if not path:
        raise ValueError("%s: the path is empty" % what)
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise ValueError("%s: %r is longer than %d bytes (sun_path): use a shorter path, e.g. "
                         "under /tmp" % (what, path, MAX_SOCKET_PATH))
    if "," in path:
        raise ValueError("%s: %r contains ',' (QEMU splits options on it)" % (what, path))
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError("%s: folder %s does not exist: create it first" % (what, parent))


def remove_stale_socket(path):
    """Remove a socket file left by an earlier run; refuse to remove anything else (a file
    that is not a socket, a socket a running process is bound to): status 2."""
    try:
        remove_stale(path)
    except ValueError as e:
        raise QemuError("%s: remove it or pick another path" % e, status=2) from None


def unprivileged_user():
    """Whom a QEMU started as root drops to: $ETHOX_UK_QEMU_USER, else nobody. Not
    SUDO_USER: a QEMU taken over by its guest could then change that user's files (and
    through them reach root again the next time the user runs sudo)."""
    name = os.environ.get(ENV_QEMU_USER) or DEFAULT_QEMU_USER
    try:
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        raise QemuError("%s: no user %r on this machine, for QEMU to drop root to: create it "
                        "or set %s to an unprivileged user" % (ENV_QEMU_USER, name,
                                                                ENV_QEMU_USER), status=2) \
            from None
    if uid == 0:
        raise QemuError("%s=%s has uid 0: QEMU must drop root, name an unprivileged user "
                        "(e.g. nobody)" % (ENV_QEMU_USER, name), status=2)
    return name


def qemu_binary():
    path = shutil.which(QEMU)
    if path is None:
        raise QemuError("%s not found on PATH: install it (apt-get install qemu-system-x86, or "
                        "`make deps`)" % QEMU)
    return path


def choose_accel(requested):
    """("kvm" | "tcg", notice or None). --accel kvm with an unusable /dev/kvm: QemuError."""
    if requested == "tcg":
        return "tcg", None
    reason = kvm.probe()
    if reason is None:
        return "kvm", None
    if requested == "kvm":
        raise QemuError("--accel kvm: KVM is not usable (%s): use --accel tcg or --accel auto"
                        % reason)
    return "tcg", "ethox-uk: KVM not usable (%s): running under TCG (slower)" % reason


def mem_arg(size):
    """"64M" -> "64M"; sizes QEMU takes as MiB (or KiB when not whole MiB)."""
    n = parse_memory(size)
    return "%dM" % (n >> 20) if n % (1 << 20) == 0 else "%dK" % (n >> 10)


def guest_mac(net, cmdline):
    """--mac, else a mac= boot word, else the default."""
    if net is not None and net.mac:
        return net.mac
    try:
        words = Config.from_words(cmdline).words
    except ValueError:
        words = {}
    return words.get("mac") or DEFAULT_MAC


def user_netdev(net, cmdline, netdev_id="n0"):
    """QEMU's -netdev for --net user: slirp's network is the guest's own (so its defaults,
    10.0.2.15 behind 10.0.2.2, need nothing), restrict=on always, one hostfwd a -p."""
    try:
        cfg = net.config(cmdline)
    except ValueError as e:
        raise QemuError("--net user: %s" % e, status=2) from None
    if cfg.dhcp:
        # --ip dhcp: slirp's own network and DHCP server (10.0.2.0/24, host 10.0.2.2, the
        # guest gets 10.0.2.15 first); an empty guest address in hostfwd means that one
        parts = ["user", "id=%s" % netdev_id, "restrict=on"]
        parts += ["hostfwd=%s" % p.hostfwd("") for p in getattr(net, "publish", ())
                  if p.proto == "tcp"]
        return ",".join(parts)
    if cfg.gw is None:
        raise QemuError("--net user: the guest has no gateway (gw=): slirp needs one as its "
                        "host address, e.g. --gw 10.0.2.2", status=2)
    mask = cfg.netmask
    base = bytes(cfg.ip[i] & mask[i] for i in range(4))
    if cfg.prefix > 29:
        raise QemuError("--net user: the guest's network /%d is too small for QEMU's user "
                        "network (it takes the .2 and .3 addresses): use a /24, e.g. "
                        "--ip 10.0.2.15/24" % cfg.prefix, status=2)
    ip = format_ip(cfg.ip)
    # slirp answers for its host (gw) and DNS (network + 3) addresses: not the guest's
    dns = bytearray(base)
    dns[3] |= 3
    if cfg.ip in (cfg.gw, bytes(dns)):
        raise QemuError("--net user: the guest address %s is taken by QEMU's user network "
                        "(its host or DNS address): pick another, e.g. the .15" % ip, status=2)
    parts = ["user", "id=%s" % netdev_id, "restrict=on",
             "net=%s/%d" % (format_ip(base), cfg.prefix), "host=%s" % format_ip(cfg.gw)]
    # TCP through slirp's hostfwd; UDP through the forwarder on a hub (udpfwd.py says why)
    parts += ["hostfwd=%s" % p.hostfwd(ip) for p in getattr(net, "publish", ())
              if p.proto == "tcp"]
    return ",".join(parts)


def user_args(net, cmdline, udp_link):
    """-netdev arguments of --net user; with UDP ports the guest's n0 is a hub port joined
    to slirp and to the UDP forwarder's dgram link (QEMU binds udp_link[0], sends to [1])."""
    slirp = user_netdev(net, cmdline, "n0")
    if not any(p.proto == "udp" for p in getattr(net, "publish", ())):
        return ["-netdev", slirp]
    if udp_link is None:
        raise QemuError("published UDP ports need their forwarder (ethox_uk.qemu.udpfwd): "
                        "give assemble() its udp_link", status=2)
    return ["-netdev", slirp.replace("id=n0,", "id=u0,", 1),
            "-netdev", "hubport,id=n0,hubid=0",
            "-netdev", "hubport,id=h0u,hubid=0,netdev=u0",
            "-netdev", "dgram,id=fw0,local.type=unix,local.path=%s,remote.type=unix,"
                       "remote.path=%s" % udp_link,
            "-netdev", "hubport,id=h0f,hubid=0,netdev=fw0"]


def netdev_args(net, machine, cmdline, pcap_fd=None, udp_link=None):
    """-netdev/-device/-object for NETOPTS (nothing without --net). --pcap: QEMU writes to
    pcap_fd, the file we opened (capture.open_capture), never to the path by name."""
    if net is None or net.spec is None:
        return []
    spec = net.spec
    if spec.kind == "bridge" and not hasattr(spec, "bridge_net"):
        # ethox_uk.qemu.network.bridged() makes the namespace and hands a BridgeSpec in
        raise QemuError("--net bridge: the namespace is set up by `ethox-uk run/exec/repl` "
                        "(ethox_uk.qemu.network.bridged); give it a BridgeSpec", status=2)
    if spec.kind == "user":
        args = user_args(net, cmdline, udp_link)
    else:
        if getattr(net, "publish", ()):
            raise QemuError("-p/--publish needs --net user (got --net %s)" % spec.text,
                            status=2)
        args = ["-netdev", spec.qemu_netdev("n0")]
    mac = guest_mac(net, cmdline)
    if machine == "q35":
        args += ["-device", "virtio-net-pci,netdev=n0,disable-legacy=on,mac=%s" % mac]
    else:
        args += ["-device", "virtio-net-device,netdev=n0,mac=%s" % mac]
    if net.pcap:
        if pcap_fd is None:
            raise QemuError("--pcap %s: open it with capture.open_capture and pass pcap_fd"
                            % net.pcap, status=2)
        args += ["-object", "filter-dump,id=f0,netdev=n0,file=/proc/self/fd/%d" % pcap_fd]
    return args


def check_append(append, machine, net):
    """Refuse a kernel command line the runtime would cut short (status 2), counting the
    word QEMU appends for the virtio-mmio device on microvm (acpi=off)."""
    has_device = net is not None and net.spec is not None
    adds = QEMU_MMIO_WORD if machine == "microvm" and has_device else ""
    try:
        check_cmdline_length(append, adds)
    except ValueError as e:
        raise QemuError("%s; boot words come from the image's recipe (cmdline) and "
                        "--ip/--gw/--mac" % e, status=2) from None


def serial_args(serial):
    if serial.kind in ("stdio", "pty"):
        return ["-serial", serial.kind]
    if serial.kind == "unix":
        return ["-chardev", "socket,id=s0,path=%s,server=on,wait=off" % serial.path,
                "-serial", "chardev:s0"]
    if serial.kind == "fd":
        return ["-chardev", "socket,id=s0,fd=%d" % serial.fd, "-serial", "chardev:s0"]
    raise ValueError("unknown serial kind %r" % serial.kind)


def gdb_args(port, wait):
    """QEMU's gdb stub on 127.0.0.1:port (never another address: it controls the guest);
    -S keeps the guest paused until gdb continues it."""
    return ["-gdb", "tcp:127.0.0.1:%d" % port] + (["-S"] if wait else [])


def assemble(image, *, accel, machine="microvm", mem="64M", append="", net=None,
             serial=None, qmp_fd=None, pcap_fd=None, qemu=QEMU, udp_link=None, gdb=None,
             gdb_wait=True):
    """The argv of QEMU (DESIGN §5's canonical line, with the console and QMP as asked;
    pcap_fd: the open --pcap file QEMU inherits)."""
    if net is not None and net.pcap and (net.spec is None):
        raise QemuError("--pcap records the frames of --net: give --net as well", status=2)
    check_append(append, machine, net)
    serial = serial or Serial("stdio")
    run_as = getattr(net.spec, "user", None) if net is not None else None
    argv = [qemu, "-sandbox", SANDBOX_RUNAS if run_as else SANDBOX,
            "-M", "microvm,acpi=off" if machine == "microvm" else machine,
            "-accel", accel, "-m", mem_arg(mem),
            "-nodefaults", "-no-user-config", "-nographic", "-no-reboot"]
    argv += serial_args(serial)
    argv += ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    if machine == "microvm":
        argv += ["-global", "virtio-mmio.force-legacy=false"]
    argv += ["-kernel", str(image), "-append", append]
    argv += netdev_args(net, machine, append, pcap_fd, udp_link)
    if qmp_fd is not None:
        argv += ["-chardev", "socket,id=qmp,fd=%d" % qmp_fd, "-mon", "chardev=qmp,mode=control"]
    if gdb is not None:
        argv += gdb_args(gdb, gdb_wait)
    if run_as:
        # QEMU opens its devices and files as root, then becomes run_as. QEMU 7.2 spells it
        # -runas; newer QEMUs deprecate that for -run-with user=, which 7.2 does not have.
        argv += ["-runas", run_as]
    if net is not None and hasattr(net.spec, "bridge_net"):
        # --net bridge: QEMU runs inside the private namespace, so it sees only that network
        argv = list(net.spec.prefix()) + argv
    return argv


def shell_line(argv):
    """argv as one shell line (for messages and --dry-run style output)."""
    return " ".join(shlex.quote(a) for a in argv)


PLAIN_DIR = "$d"  # the shell variable plain_line's socket paths live under


def plain_line(image, mem="64M", append="", accel="kvm"):
    """The line `run` builds for IMAGE on a dgram pair in "$d" (for `inspect` and the
    README: the user runs `d=$(mktemp -d)` first; the peer binds $d/peer.sock)."""
    from ..netspec import NetOpts, NetSpec

    spec = NetSpec("dgram", PLAIN_DIR + "/guest.sock", PLAIN_DIR + "/peer.sock")
    argv = assemble(image, accel=accel, mem=mem, append=append, net=NetOpts(spec))
    # "$d" must expand: double quotes for those words (the rest has no shell characters)
    return " ".join('"%s"' % a if PLAIN_DIR in a else shlex.quote(a) for a in argv)
