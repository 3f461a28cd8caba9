"""Exit statuses of `run`, `exec` and `repl` (DESIGN §5).

The guest ends QEMU through isa-debug-exit (iobase 0xf4) by writing 0x10+n; QEMU then exits
with ((0x10+n) << 1) | 1 = 33+2n, which `ethox-uk` maps back to n (0-111). QEMU's own
statuses stay distinct: 1 is QEMU's failure, 0 under -no-reboot a guest reset or triple
fault.
"""

import signal

GUEST_MAX = 111  # (0x10 + 111) << 1 | 1 = 255
QEMU_FAILED = 120  # QEMU failed to start (or failed on its own)
TIMEOUT = 124  # no ready line (or REPL prompt) within --timeout
CRASHED = 125  # guest reset, triple fault (exit 0 under -no-reboot), KVM internal error
BAD_IMAGE = 126  # missing, foreign or truncated image
INTERRUPTED = 128 + signal.SIGINT  # the user stopped it (Ctrl-C / SIGTERM to QEMU)


def guest_status(qemu_rc):
    """n when qemu_rc is isa-debug-exit's 33+2n (n in 0..111), else None."""
    if qemu_rc is not None and 33 <= qemu_rc <= 255 and qemu_rc & 1:
        return (qemu_rc - 33) >> 1
    return None


def map_status(qemu_rc, fatal=None, shutdown_reason=None):
    """The status `ethox-uk` exits with, from QEMU's exit code and what QMP saw.

    fatal: a QMP run state that ends the guest ("internal-error", "guest-panicked").
    shutdown_reason: the reason of QMP's SHUTDOWN event ("guest-reset", "host-signal", ...).
    """
    if fatal:
        return CRASHED
    n = guest_status(qemu_rc)
    if n is not None:
        return n
    if qemu_rc == 0:
        if shutdown_reason in ("host-signal", "host-qmp-quit", "host-ui"):
            return INTERRUPTED
        return CRASHED
    if qemu_rc is not None and qemu_rc < 0:  # killed by a signal
        return INTERRUPTED if -qemu_rc in (signal.SIGINT, signal.SIGTERM) else CRASHED
    return QEMU_FAILED


def describe(status):
    """A few words for a status that is not the guest's own."""
    return {
        QEMU_FAILED: "QEMU failed",
        TIMEOUT: "timed out",
        CRASHED: "the guest crashed (reset, triple fault or KVM internal error)",
        BAD_IMAGE: "invalid image",
        INTERRUPTED: "interrupted",
    }.get(status)
