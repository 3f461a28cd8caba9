"""One QEMU process running an image: start, console, stderr, stop, exit status.

    vm = Vm(image_info, vm_opts, net, console="socket" | "stdio" | "pty" | "unix:PATH" | "pipe")
    vm.start()                # QemuError (status 120) when QEMU cannot be started
    vm.started_at             # time.monotonic() just before QEMU was started
    vm.console                # our end of the serial socketpair (console="socket"), or a
                              # Console on QEMU's stdin/stdout keeping what it read (="pipe")
    rc = vm.wait(timeout)     # QEMU's exit code, or None on timeout
    vm.stop()                 # QMP quit, then SIGTERM, then SIGKILL, each bounded
    vm.status()               # the exit status of DESIGN §5 (status.map_status)
    vm.close()                # stop if running, close sockets, remove socket files

QEMU's stderr goes through a filter thread: the known-harmless "pni" warning of this
machine's KVM is dropped, everything else is copied to our stderr as it comes, and the pty
path of `-serial pty` is picked up. The bench (bench/image.py) times boots on this same
driver with console="pipe", monitor=False, echo_stderr=False and die_with_parent=False: the
QEMU line and spawn it has always measured (no QMP chardev, vfork), QEMU's stderr kept out
of its table.
"""

import ctypes
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

from ..capture import open_capture
from . import cmdline, status
from .qmp import QmpWatch

_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """In the QEMU child before exec: SIGKILL it if ethox-uk dies (even by SIGKILL),
    so a killed `run`/`exec`/test never leaves an orphaned VM behind."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


STOP_WAIT = 3.0  # seconds for each step of stop()
MIN_HEAP = 1 << 20  # the least heap a start-up with a network device gets through
PTY_LINE = re.compile(r"char device redirected to (/dev/pts/\d+)")


class Vm:
    def __init__(self, info, vm_opts, net=None, console="socket", append=None, notice=True,
                 monitor=True, echo_stderr=True, die_with_parent=True):
        """info: elfinfo.ImageInfo; vm_opts: options.VmOptions; net: netspec.NetOpts.
        monitor: a QMP watcher (KVM internal errors, guest panics, a clean quit);
        echo_stderr: QEMU's stderr copied to ours (else only kept in stderr_tail);
        die_with_parent: QEMU is killed when we die. False for the bench, which times the
        spawn: the hook that arranges it makes CPython fork instead of vfork, a few ms more
        in a big process."""
        self.info = info
        self.vm_opts = vm_opts
        self.net = net
        self.console_kind = console
        self.notice = notice
        self.monitor = monitor
        self.echo_stderr = echo_stderr
        self.die_with_parent = die_with_parent
        self.started_at = None
        cmd = info.get("cmdline", "")
        self.append = append if append is not None else (
            net.boot_words(cmd) if net is not None else cmd)
        self.mem = vm_opts.mem or info.get("memory", "64M")
        self.proc = None
        self.console = None  # our end of the console socketpair
        self.qmp = None
        self.pty = None
        self.stderr_tail = []
        self._stderr_thread = None
        self._cleanup = []  # socket files to remove at close()
        self._stopping = False
        self.accel = None
        self.udpfwd = None  # udpfwd.UdpForwarder of published UDP ports (--net user)

    # -- start ------------------------------------------------------------------------
    def argv(self, serial, qmp_fd, pcap_fd=None):
        self.accel, note = cmdline.choose_accel(self.vm_opts.accel)
        if note and self.notice:
            print(note, file=sys.stderr, flush=True)
        return cmdline.assemble(self.info.path, accel=self.accel, machine=self.vm_opts.machine,
                                mem=self.mem, append=self.append, net=self.net, serial=serial,
                                qmp_fd=qmp_fd, pcap_fd=pcap_fd, qemu=cmdline.qemu_binary(),
                                udp_link=self.udpfwd.link if self.udpfwd else None,
                                gdb=getattr(self.vm_opts, "gdb", None),
                                gdb_wait=getattr(self.vm_opts, "gdb_wait", True))

    def start(self, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, new_session=True):
        ours = theirs = None
        if self.monitor:
            ours, theirs = socket.socketpair()
        keep = [theirs.fileno()] if theirs is not None else []
        con_theirs = None
        pcap_fd = None
        try:
            if self.console_kind == "socket":
                self.console, con_theirs = socket.socketpair()
                keep.append(con_theirs.fileno())
                serial = cmdline.Serial("fd", fd=con_theirs.fileno())
            elif self.console_kind == "pipe":
                serial = cmdline.Serial("stdio")
                stdin = stdout = subprocess.PIPE
            elif self.console_kind.startswith("unix:"):
                serial = cmdline.Serial("unix", path=self.console_kind[5:])
            else:
                serial = cmdline.Serial(self.console_kind)
            self._check_memory()
            self._check_gdb_port()
            self._check_published()
            pcap_fd = self._open_pcap()
            if pcap_fd is not None:
                keep.append(pcap_fd)
            argv = self.argv(serial, theirs.fileno() if theirs is not None else None, pcap_fd)
            if serial.kind == "unix":
                cmdline.remove_stale_socket(serial.path)
                self._cleanup.append(serial.path)
            if self.net is not None and self.net.spec is not None \
                    and self.net.spec.kind == "dgram":
                cmdline.remove_stale_socket(self.net.spec.local)
                self._cleanup.append(self.net.spec.local)
            self.argv_used = argv
            keep += self._net_fds()
            try:
                self.started_at = time.monotonic()
                self.proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout,
                                             stderr=subprocess.PIPE, pass_fds=keep,
                                             start_new_session=new_session,
                                             preexec_fn=_die_with_parent
                                             if self.die_with_parent else None)
            except OSError as e:
                raise cmdline.QemuError("cannot start %s: %s" % (argv[0], e.strerror or e)) \
                    from None
            if self.console_kind == "pipe":
                self.console = Console(self.proc.stdout, self.proc.stdin, keep=True)
        except BaseException:
            if ours is not None:
                ours.close()
            if self.console is not None:
                self.console.close()
                self.console = None
            if self.udpfwd is not None:
                self.udpfwd.close()
                self.udpfwd = None
            raise
        finally:
            if theirs is not None:
                theirs.close()
            if con_theirs is not None:
                con_theirs.close()
            if pcap_fd is not None:
                os.close(pcap_fd)
            self._release_net_fds()
        self._stderr_thread = threading.Thread(target=self._pump_stderr, name="qemu-stderr",
                                               daemon=True)
        self._stderr_thread.start()
        if ours is not None:
            self.qmp = QmpWatch(ours, on_stuck=self._kill_stuck).start()
        return self

    def _check_memory(self):
        """Guest RAM that cannot hold the image and a heap: QEMU would load it past the end
        of RAM and the guest hang silently (or fail its first allocations), so refuse first."""
        need = self.info.load_end + MIN_HEAP
        have = cmdline.parse_memory(self.mem)
        if self.info.load_end and need > have:
            raise cmdline.QemuError(
                "--mem %s is too small for %s: its code, data and filesystem end at %.1f MiB "
                "of guest RAM and the interpreter needs %d MiB of heap above them: give --mem "
                "%dM or more (or a smaller fs in the recipe)"
                % (self.mem, self.info.path, self.info.load_end / (1 << 20), MIN_HEAP >> 20,
                   -(-need >> 20)), status=2)

    def _check_gdb_port(self):
        port = getattr(self.vm_opts, "gdb", None)
        if port is None:
            return
        from ..publish import Publish, port_taken

        why = port_taken(Publish("127.0.0.1", port, port))
        if why is not None:
            raise cmdline.QemuError("--gdb=%d: 127.0.0.1:%d is %s: pick another, e.g. --gdb=%d"
                                    % (port, port, why, port + 1), status=2)

    def _check_published(self):
        """A published host port that is already taken: a clear error (status 2) before
        QEMU starts, instead of QEMU's own failure after it has begun."""
        publish = getattr(self.net, "publish", ()) if self.net is not None else ()
        if not publish:
            return
        from ..publish import check_free

        try:
            check_free(publish, owner=self.port_owner)
        except ValueError as e:
            raise cmdline.QemuError(str(e), status=2) from None
        if any(p.proto == "udp" for p in publish):
            from ..stack.config import parse_mac
            from .udpfwd import UdpForwarder

            cfg = self.net.config(self.append)
            mac = parse_mac(cmdline.guest_mac(self.net, self.append))
            try:
                self.udpfwd = UdpForwarder(publish, cfg.ip, mac, cfg.gw).open().start()
            except OSError as e:
                raise cmdline.QemuError("-p .../udp: cannot bind the published UDP ports: %s"
                                        % (e.strerror or e), status=2) from None

    port_owner = None  # publish -> who holds its port (set by the VM registry), or None

    def _open_pcap(self):
        """--pcap: the file opened here (no symlink, regular files only) for QEMU to inherit."""
        if self.net is None or not self.net.pcap:
            return None
        try:
            return open_capture(self.net.pcap)
        except OSError as e:
            raise cmdline.QemuError("--pcap %s: %s" % (self.net.pcap, e.strerror or e),
                                    status=2) from None

    def _net_fds(self):
        """Fds the network hands to QEMU (--net bridge: the guest's tap)."""
        spec = self.net.spec if self.net is not None else None
        return list(spec.pass_fds()) if hasattr(spec, "pass_fds") else []

    def _release_net_fds(self):
        spec = self.net.spec if self.net is not None else None
        if hasattr(spec, "release_tap"):
            spec.release_tap()

    def _kill_stuck(self):
        """QEMU hung after its guest shut down (see QmpWatch): end it; status 125."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def _pump_stderr(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode(errors="replace")
            if any(h in line for h in cmdline.HARMLESS_STDERR):
                continue
            m = PTY_LINE.search(line)
            if m:
                self.pty = m.group(1)
            self.stderr_tail = (self.stderr_tail + [line.rstrip()])[-10:]
            if not self.echo_stderr:
                continue
            try:
                sys.stderr.write(line)
                sys.stderr.flush()
            except (OSError, ValueError):
                pass

    def wait_pty(self, timeout=10.0):
        """The /dev/pts path of `-serial pty` (QEMU prints it on its stdout, which we do not
        read: ask QMP), or None."""
        if self.pty:
            return self.pty
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.running():
            for dev in self.qmp.execute("query-chardev") or []:
                name = dev.get("filename", "")
                if name.startswith("pty:"):
                    self.pty = name[4:]
                    return self.pty
            time.sleep(0.05)
        return None

    # -- run and end --------------------------------------------------------------------
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout=None):
        """QEMU's exit code, or None if it is still running after timeout seconds."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """End QEMU: QMP quit, SIGTERM, SIGKILL (each given STOP_WAIT seconds)."""
        if not self.running():
            return
        self._stopping = True
        if self.qmp is not None and self.qmp.quit(timeout=1.0) and self.wait(STOP_WAIT) is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                return
            if self.wait(STOP_WAIT) is not None:
                return

    def status(self):
        rc = self.proc.returncode if self.proc is not None else None
        if self.qmp is not None:
            self.qmp.join(1.0)
        fatal = self.qmp.fatal if self.qmp is not None else None
        reason = self.qmp.shutdown_reason if self.qmp is not None else None
        if fatal and self.notice:
            print("ethox-uk: the guest stopped with QEMU run state %r (KVM internal error or "
                  "panic): status 125" % fatal, file=sys.stderr)
        return status.map_status(rc, fatal=fatal, shutdown_reason=reason)

    def close(self):
        if self.proc is not None:
            self.stop()
            if self._stderr_thread is not None:
                self._stderr_thread.join(2.0)
            if self.proc.stderr:
                self.proc.stderr.close()
        if self.console is not None:
            self.console.close()
        if self.udpfwd is not None:
            self.udpfwd.close()
        for path in self._cleanup:
            try:
                if os.path.exists(path):
                    os.unlink(path)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Console:
    """Bounded reads and writes on a guest console -- a socket (exec, repl, exec --attach),
    or QEMU's stdout and stdin pipes (console="pipe"); EOF when QEMU has gone. keep=True:
    everything read stays in .seen, for wait_for."""

    def __init__(self, sock, out=None, keep=False):
        self.sock = sock  # read from (a socket or a pipe: anything with fileno())
        self.out = sock if out is None else out  # written to
        self.eof = False
        self.seen = bytearray() if keep else None

    def fileno(self):
        return self.sock.fileno()

    def read(self, timeout):
        """Bytes that arrived within timeout (b"" on timeout or EOF; see .eof)."""
        if self.eof:
            return b""
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not r:
            return b""
        try:
            data = os.read(self.sock.fileno(), 65536)
        except (ConnectionResetError, OSError, ValueError):
            data = b""
        if not data:
            self.eof = True
        elif self.seen is not None:
            self.seen += data
        return data

    def write(self, data):
        try:
            fd = self.out.fileno()
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            return True
        except (BrokenPipeError, ConnectionResetError, OSError, ValueError):
            self.eof = True
            return False

    def wait_for(self, pattern, timeout):
        """Read until pattern (bytes, or a compiled regex) is in .seen (keep=True): the
        time.monotonic() at which it was there, or None at timeout or EOF."""
        dl = time.monotonic() + timeout
        while True:
            found = pattern.search(self.seen) if hasattr(pattern, "search") \
                else pattern in self.seen
            if found:
                return time.monotonic()
            if self.eof or time.monotonic() > dl:
                return None
            self.read(min(0.2, dl - time.monotonic()))

    def close(self):
        for f in (self.sock, self.out):
            try:
                f.close()
            except OSError:
                pass


def deadline(timeout):
    return None if timeout is None else time.monotonic() + timeout


def remaining(dl, cap=0.5):
    if dl is None:
        return cap
    return max(0.0, min(cap, dl - time.monotonic()))
