"""The bare runtime (vm/): build it with `make -C vm`, boot it in QEMU, talk to its REPL.

Every configuration boots the same image: KVM on microvm (TCG when /dev/kvm is unusable:
the test never skips), TCG on microvm and TCG on q35. QEMU's console is `-serial stdio`
on pipes; the raw REPL is driven by mpremote's own transport (SerialTransport) over a small
pyserial-like adapter of those pipes. Every wait is bounded.
"""

import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpremote.transport import TransportExecError
from mpremote.transport_serial import SerialTransport

from ethox_uk.qemu.cmdline import SANDBOX

REPO = Path(__file__).resolve().parents[2]
VM_DIR = REPO / "vm"
BUILD = REPO / "build" / "vm"
BANNER = b"MicroPython v1.25.0"
MACHINE_NAME = b"ethox-uk with x86_64"
PROMPT = b">>> "
BOOT_TIMEOUT = 20.0  # seconds: TCG on a loaded 2-core host is slow to start
MAKE_TIMEOUT = 900


def kvm_usable():
    try:
        from ethox_uk.qemu import kvm
    except ImportError:  # keep this test independent of the CLI side
        try:
            fd = os.open("/dev/kvm", os.O_RDWR)
        except OSError:
            return False
        os.close(fd)
        return True
    return kvm.usable()


KVM = "kvm" if kvm_usable() else "tcg"
CONFIGS = [(KVM, "microvm"), ("tcg", "microvm"), ("tcg", "q35")]
IDS = ["%s-microvm" % KVM, "tcg-microvm", "tcg-q35"]


def _source_and_cross():
    """MPY_DIR and mpy-cross: the project's pinned, cached source and toolchain."""
    try:
        from ethox_uk.build import source, toolchain
    except ImportError:
        src = Path.home() / ".cache" / "ethox-uk" / "micropython-1.25.0"
        return src, None
    return source.source_dir(), toolchain.mpy_cross()


@pytest.fixture(scope="module")
def image():
    """make -C vm (incremental after the first build); the path of ethox.elf."""
    src, cross = _source_and_cross()
    argv = ["make", "-j2", "-C", str(VM_DIR), "MPY_DIR=%s" % src, "BUILD=%s" % BUILD,
            "PYTHON=%s" % sys.executable]
    if cross is not None:
        argv.append("MICROPY_MPYCROSS=%s" % cross)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    r = subprocess.run(argv, capture_output=True, text=True, timeout=MAKE_TIMEOUT, env=env)
    assert r.returncode == 0, "make -C vm failed:\n" + (r.stdout + r.stderr)[-4000:]
    elf = BUILD / "ethox.elf"
    assert elf.is_file()
    return elf


# -- QEMU on pipes ---------------------------------------------------------------------------

def qemu_argv(elf, accel, machine, mem="64M", serial="stdio", append="ip=10.0.2.15/24 gw=10.0.2.2"):
    """DESIGN §5's canonical line (no network)."""
    argv = [shutil.which("qemu-system-x86_64") or "qemu-system-x86_64",
            "-sandbox", SANDBOX, "-M", "microvm,acpi=off" if machine == "microvm" else machine,
            "-accel", accel, "-m", mem, "-nodefaults", "-no-user-config", "-nographic",
            "-no-reboot", "-serial", serial,
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
    if machine == "microvm":
        argv += ["-global", "virtio-mmio.force-legacy=false"]
    return argv + ["-kernel", str(elf), "-append", append]


class Guest:
    """One QEMU with its serial console on our pipes; pyserial-like (for SerialTransport)."""

    def __init__(self, elf, accel, machine, **kw):
        self.proc = subprocess.Popen(qemu_argv(elf, accel, machine, **kw), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.buf = bytearray()
        self.seen = bytearray()  # everything the guest printed
        self.timeout = 10.0  # pyserial's read timeout, for mpremote's blocking reads
        self.eof = False  # QEMU closed the console: reads return what is left

    # pyserial's surface, as mpremote's SerialTransport uses it
    def _fill(self, wait):
        if self.eof:
            time.sleep(min(max(0.0, wait), 0.01))
            return False
        r, _, _ = select.select([self.proc.stdout], [], [], max(0.0, wait))
        if not r:
            return False
        data = os.read(self.proc.stdout.fileno(), 65536)
        if not data:
            self.eof = True
            return False
        self.buf += data
        self.seen += data
        return True

    def read(self, n=1):
        deadline = time.monotonic() + self.timeout
        while len(self.buf) < n and time.monotonic() < deadline and not self.eof:
            self._fill(deadline - time.monotonic())
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def inWaiting(self):
        self._fill(0)
        return len(self.buf)

    def write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()
        return len(data)

    def close(self):
        pass

    # test helpers
    def read_until(self, marker, timeout=BOOT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                raise AssertionError("no %r within %gs (QEMU status %r); got %r"
                                     % (marker, timeout, self.proc.poll(), bytes(self.seen)))
            self._fill(min(left, 0.5))
        i = self.buf.index(marker) + len(marker)
        out = bytes(self.buf[:i])
        del self.buf[:i]
        return out

    def transport(self):
        """mpremote's SerialTransport on this console (its __init__ would open a device)."""
        t = SerialTransport.__new__(SerialTransport)
        t.in_raw_repl = False
        t.use_raw_paste = True
        t.device_name = "qemu-stdio"
        t.mounted = False
        t.is_pty = False
        t.serial = self
        return t

    def wait(self, timeout=10.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def drain(self, timeout=5.0):
        """Read what the guest printed until QEMU closes the console (after it exited)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.eof:
            self._fill(deadline - time.monotonic())
        return bytes(self.seen)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


@pytest.fixture
def boot(image):
    guests = []

    def start(accel, machine, **kw):
        g = Guest(image, accel, machine, **kw)
        guests.append(g)
        return g

    yield start
    for g in guests:
        g.stop()


def raw_exec(guest, code, soft_reset=False):
    """Enter the raw REPL through mpremote's transport and run code; (stdout, transport)."""
    t = guest.transport()
    t.enter_raw_repl(soft_reset=soft_reset, timeout_overall=BOOT_TIMEOUT)
    return t.exec(code), t


def raw_repl(boot, accel=KVM, machine="microvm"):
    """A guest booted to its prompt, then in the raw REPL: (Guest, mpremote's transport)."""
    g = boot(accel, machine)
    g.read_until(PROMPT)
    t = g.transport()
    t.enter_raw_repl(soft_reset=False)
    return g, t


# -- tests -----------------------------------------------------------------------------------

@pytest.mark.parametrize("accel,machine", CONFIGS, ids=IDS)
def test_banner_and_friendly_repl(boot, accel, machine):
    g = boot(accel, machine)
    out = g.read_until(PROMPT)
    assert BANNER in out and MACHINE_NAME in out
    g.write(b"print(6*7)\r")
    assert b"42\r\n" in g.read_until(PROMPT, 10)


@pytest.mark.parametrize("accel,machine", CONFIGS, ids=IDS)
def test_raw_repl_print(boot, accel, machine):
    g = boot(accel, machine)
    g.read_until(PROMPT)
    # soft reset first, as plain `mpremote exec` does ("MPY: soft reboot")
    out, t = raw_exec(g, "print(6*7)", soft_reset=True)
    assert out == b"42\r\n"
    assert b"MPY: soft reboot" in g.seen
    assert t.exec("import sys\nprint(sys.platform, 2**70)") == b"ethox 1180591620717411303424\r\n"


@pytest.mark.parametrize("accel,machine", CONFIGS, ids=IDS)
def test_sys_exit_status(boot, accel, machine):
    g, t = raw_repl(boot, accel, machine)
    t.exec_raw_no_follow("import sys\nsys.exit(3)")
    assert g.wait(10) == 33 + 2 * 3  # guest wrote 0x10+3 to isa-debug-exit


@pytest.mark.parametrize("accel,machine", CONFIGS, ids=IDS)
def test_exception_status(boot, accel, machine):
    g, t = raw_repl(boot, accel, machine)
    t.exec("import _ethox\n_ethox.exit_on_error(True)")
    t.exec_raw_no_follow("raise ValueError('boom')")
    assert g.wait(10) == 35  # uncaught exception -> 0x10+1
    assert b"ValueError: boom" in g.drain()


def test_exception_without_exit_on_error_keeps_running(boot):
    g, t = raw_repl(boot)
    with pytest.raises(TransportExecError) as e:
        t.exec("raise ValueError('boom')")
    assert "ValueError: boom" in e.value.error_output
    assert t.exec("print(1)") == b"1\r\n"
    assert g.proc.poll() is None


def test_sys_exit_friendly_repl_and_no_arg(boot):
    g = boot(KVM, "microvm")
    g.read_until(PROMPT)
    g.write(b"import sys; sys.exit()\r")
    assert g.wait(10) == 33  # exit status 0 -> 0x10


def test_no_native_compiler_at_run_time(boot):
    """The runtime has no native emitter (vm/nonative.c): @micropython.native typed at the
    REPL is refused with a message saying what to do, and the REPL goes on. (The frozen
    stack's native functions, which mpy-cross compiled, serve every image test's traffic.)"""
    g, t = raw_repl(boot)
    with pytest.raises(TransportExecError) as e:
        t.exec("import micropython\n@micropython.native\ndef f(): return 1\n")
    assert "NotImplementedError" in e.value.error_output
    assert "frozen modules keep theirs" in e.value.error_output
    assert t.exec("print(sum(range(10)))") == b"45\r\n"
    assert g.proc.poll() is None


def test_native_module(boot):
    g = boot(KVM, "microvm")
    g.read_until(PROMPT)
    code = """
import _ethox, time
b = bytes(range(256)) * 6 + b'\\x01'
def ref(b, s, e, init):
    t = init
    for i in range(s, e - 1, 2):
        t += b[i] << 8 | b[i + 1]
    if (e - s) & 1:
        t += b[e - 1] << 8
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return t
ok = all(_ethox.checksum(b, s, e, i) == ref(b, s, e, i)
         for s, e, i in ((0, len(b), 0), (1, 1000, 0x1234), (3, 3, 0), (0, 1, 0xffff), (7, 8, 0x1ffff)))
print('csum', ok, _ethox.checksum(b) == ref(b, 0, len(b), 0), _ethox.checksum(bytearray(20)))
a = bytearray(16)
_ethox.write32(_ethox.addressof(a) + 4, 0x11223344)
print('mem', _ethox.read32(_ethox.addressof(a) + 4) == 0x11223344, a[4:8] == b'\\x44\\x33\\x22\\x11',
      _ethox.read8(_ethox.addressof(a) + 7))
_ethox.write64(_ethox.addressof(a), 0xfedcba9876543210)
print('mem64', hex(_ethox.read64(_ethox.addressof(a))))
_ethox.outb(0x3ff, 0x5a)  # the UART scratch register
print('port', _ethox.inb(0x3ff) == 0x5a)
_ethox.mfence(); _ethox.lfence(); _ethox.sfence()
t0 = _ethox.ticks_us(); time.sleep_ms(50); dt = _ethox.ticks_us() - t0
print('sleep', 45000 <= dt < 500000, _ethox.tsc_hz() > 10**8)
print('boot', _ethox.cmdline(), any(t == 1 for a, s, t in _ethox.memmap()))
"""
    out, _ = raw_exec(g, code)
    lines = out.decode().splitlines()
    assert lines[0] == "csum True True 0"
    assert lines[1] == "mem True True 17"
    assert lines[2] == "mem64 0xfedcba9876543210"
    assert lines[3] == "port True"
    assert lines[4] == "sleep True True"
    assert lines[5] == "boot ip=10.0.2.15/24 gw=10.0.2.2 True"


def test_poll_hook_runs_while_waiting(boot):
    g = boot(KVM, "microvm")
    g.read_until(PROMPT)
    code = """
import _ethox, time, select, sys
n = [0]
def hook():
    n[0] += 1
    return 5
_ethox.poll_hook(hook)
time.sleep_ms(100)
p = select.poll()
p.register(sys.stdin, select.POLLIN)
p.poll(50)
_ethox.poll_hook(None)
print('hook', n[0] >= 5)
"""
    out, _ = raw_exec(g, code)
    assert out == b"hook True\r\n"


def test_asyncio(boot):
    g = boot(KVM, "microvm")
    g.read_until(PROMPT)
    code = """
import asyncio
async def f(i):
    await asyncio.sleep_ms(10 * i)
    return i
async def main():
    return await asyncio.gather(*(f(i) for i in range(5)))
print(asyncio.run(main()))
"""
    out, _ = raw_exec(g, code)
    assert out == b"[0, 1, 2, 3, 4]\r\n"


def test_ctrl_c_interrupts_running_code(boot):
    g = boot(KVM, "microvm")
    g.read_until(PROMPT)
    g.write(b"while True: pass\r")
    g.read_until(b"... ", 5)
    g.write(b"\r")  # ends the compound statement: it runs
    time.sleep(0.3)
    g.write(b"\x03")
    assert b"KeyboardInterrupt" in g.read_until(PROMPT, 10)


def test_small_memory(boot):
    g = boot(KVM, "microvm", mem="16M")
    g.read_until(PROMPT)
    out, _ = raw_exec(g, "import gc\nb = bytearray(8 << 20)\nprint(len(b), gc.mem_free() > 0)")
    assert out == b"8388608 True\r\n"


def test_cpu_fault_resets_guest(boot):
    g, t = raw_repl(boot)
    t.exec_raw_no_follow("import _ethox\n_ethox.read8(0)")  # page 0 is unmapped
    assert g.wait(10) == 0  # triple fault; -no-reboot makes QEMU exit 0 (ethox-uk: 125)
    assert b"fatal CPU exception 0x000000000000000e" in g.drain()


def test_mpremote_over_pty(image):
    """Plain `mpremote connect /dev/pts/N exec ...` (it soft-resets first)."""
    proc = subprocess.Popen(qemu_argv(image, KVM, "microvm", serial="pty"),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # QEMU 7.2 names the pty on stdout
    try:
        pty, err = None, b""
        deadline = time.monotonic() + BOOT_TIMEOUT
        while pty is None and time.monotonic() < deadline:
            r, _, _ = select.select([proc.stdout], [], [], 0.5)
            if r:
                data = os.read(proc.stdout.fileno(), 4096)
                if not data:
                    break
                err += data
                m = re.search(rb"/dev/pts/\d+", err)
                pty = m.group().decode() if m else None
        assert pty, "QEMU named no pty: %r" % err
        for _ in range(2):
            r = subprocess.run([sys.executable, "-m", "mpremote", "connect", pty, "exec",
                                "print(6*7)"], capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r.stderr
            assert r.stdout == "42\n"
    finally:
        proc.kill()
        proc.wait(5)
        proc.stdout.close()


def test_poll_hook_survives_keyboard_interrupt_and_single_errors(boot):
    """KeyboardInterrupt raised in the hook reaches the waiting code and the hook stays; other
    exceptions are printed and counted, the hook goes only after 5 failures in a row."""
    g = boot(KVM, "microvm")
    g.read_until(PROMPT)
    code = """
import _ethox, time
n = [0]
def hook():
    n[0] += 1
    if n[0] == 3:
        raise KeyboardInterrupt
    if n[0] == 6:
        raise ValueError('boom')
    return 2
_ethox.poll_hook(hook)
try:
    time.sleep_ms(100)
    print('no kbi')
except KeyboardInterrupt:
    print('kbi', n[0])
time.sleep_ms(50)
time.sleep_ms(5)
print('kept', n[0] > 6, _ethox.hook_errors())
def bad():
    raise OSError(5)
_ethox.poll_hook(bad)
for i in range(6):
    time.sleep_ms(2)
print('errors', _ethox.hook_errors())
m = n[0]
_ethox.poll_hook(hook)
time.sleep_ms(20)
_ethox.poll_hook(None)
print('again', n[0] > m)
"""
    out, _ = raw_exec(g, code)
    text = out.decode()
    lines = [ln for ln in text.splitlines() if ln.startswith(("kbi", "no kbi", "kept", "errors",
                                                             "again"))]
    assert lines == ["kbi 3", "kept True 1", "errors 6", "again True"], text
    assert "ValueError: boom" in text and "hook removed" in text
    assert text.count("poll hook raised (kept") == 5


def test_ctrl_c_while_waiting_keeps_poll_hook(boot):
    g = boot(KVM, "microvm")
    g.read_until(PROMPT)
    g.write(b"import _ethox, time; d = {}; _ethox.poll_hook(lambda: d.update(n=d.get('n', 0) + 1))\r")
    g.read_until(PROMPT, 5)
    for _ in range(3):
        g.write(b"while True: time.sleep_ms(1)\r")
        g.read_until(b"... ", 5)
        g.write(b"\r")
        time.sleep(0.3)
        g.write(b"\x03")
        assert b"KeyboardInterrupt" in g.read_until(PROMPT, 10)
    g.write(b"k = d['n']; time.sleep_ms(30); print('hook', d['n'] > k, _ethox.hook_errors())\r")
    assert b"hook True 0" in g.read_until(PROMPT, 10)
    assert b"poll hook raised" not in g.seen
