"""One QEMU process running an image: start, console, stderr, stop, exit status.

    vm = Vm(image_info, vm_opts, net, console="socket" | "stdio" | "pty" | "unix:PATH")
    vm.start()                # QemuError (status 120) when QEMU cannot be started
    vm.console                # our end of the serial socketpair (console="socket")
    rc = vm.wait(timeout)     # QEMU's exit code, or None on timeout
    vm.stop()                 # QMP quit, then SIGTERM, then SIGKILL, each bounded
    vm.status()               # the exit status of DESIGN §5 (status.map_status)
    vm.close()                # stop if running, close sockets, remove socket files

QEMU's stderr goes through a filter thread: the known-harmless "pni" warning of this
machine's KVM is dropped, everything else is copied to our stderr as it comes, and the pty
path of `-serial pty` is picked up.
"""

import ctypes
import os
import re
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
PTY_LINE = re.compile(r"char device redirected to (/dev/pts/\d+)")


class Vm:
    def __init__(self, info, vm_opts, net=None, console="socket", append=None, notice=True):
        """info: elfinfo.ImageInfo; vm_opts: options.VmOptions; net: netspec.NetOpts."""
        self.info = info
        self.vm_opts = vm_opts
        self.net = net
        self.console_kind = console
        self.notice = notice
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

    # -- start ------------------------------------------------------------------------
    def argv(self, serial, qmp_fd, pcap_fd=None):
        self.accel, note = cmdline.choose_accel(self.vm_opts.accel)
        if note and self.notice:
            print(note, file=sys.stderr, flush=True)
        return cmdline.assemble(self.info.path, accel=self.accel, machine=self.vm_opts.machine,
                                mem=self.mem, append=self.append, net=self.net, serial=serial,
                                qmp_fd=qmp_fd, pcap_fd=pcap_fd, qemu=cmdline.qemu_binary())

    def start(self, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, new_session=True):
        ours, theirs = socket.socketpair()
        keep = [theirs.fileno()]
        con_theirs = None
        pcap_fd = None
        try:
            if self.console_kind == "socket":
                self.console, con_theirs = socket.socketpair()
                keep.append(con_theirs.fileno())
                serial = cmdline.Serial("fd", fd=con_theirs.fileno())
            elif self.console_kind.startswith("unix:"):
                serial = cmdline.Serial("unix", path=self.console_kind[5:])
            else:
                serial = cmdline.Serial(self.console_kind)
            pcap_fd = self._open_pcap()
            if pcap_fd is not None:
                keep.append(pcap_fd)
            argv = self.argv(serial, theirs.fileno(), pcap_fd)
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
                self.proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout,
                                             stderr=subprocess.PIPE, pass_fds=keep,
                                             start_new_session=new_session,
                                             preexec_fn=_die_with_parent)
            except OSError as e:
                raise cmdline.QemuError("cannot start %s: %s" % (argv[0], e.strerror or e)) \
                    from None
        except BaseException:
            ours.close()
            if self.console is not None:
                self.console.close()
                self.console = None
            raise
        finally:
            theirs.close()
            if con_theirs is not None:
                con_theirs.close()
            if pcap_fd is not None:
                os.close(pcap_fd)
            self._release_net_fds()
        self._stderr_thread = threading.Thread(target=self._pump_stderr, name="qemu-stderr",
                                               daemon=True)
        self._stderr_thread.start()
        self.qmp = QmpWatch(ours, on_stuck=self._kill_stuck).start()
        return self

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
    """Bounded reads and writes on a console socket; EOF when QEMU has gone."""

    def __init__(self, sock):
        self.sock = sock
        self.eof = False

    def read(self, timeout):
        """Bytes that arrived within timeout (b"" on timeout or EOF; see .eof)."""
        import select

        if self.eof:
            return b""
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not r:
            return b""
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, OSError):
            data = b""
        if not data:
            self.eof = True
        return data

    def write(self, data):
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.eof = True
            return False


def deadline(timeout):
    return None if timeout is None else time.monotonic() + timeout


def remaining(dl, cap=0.5):
    if dl is None:
        return cap
    return max(0.0, min(cap, dl - time.monotonic()))
