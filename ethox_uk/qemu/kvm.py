"""Is /dev/kvm usable? Probed once per process: open it, check the API version, create
(and drop) a VM — the steps QEMU's `-accel kvm` takes first."""

import fcntl
import functools
import os

KVM_DEVICE = "/dev/kvm"
KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
KVM_API_VERSION = 12


@functools.lru_cache(maxsize=None)
def probe(device=KVM_DEVICE):
    """None when KVM works, else a short reason ("no /dev/kvm", "permission denied", ...)."""
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return "no %s" % device
    except OSError as e:
        return "cannot open %s: %s" % (device, e.strerror or e)
    try:
        try:
            version = fcntl.ioctl(fd, KVM_GET_API_VERSION)
        except OSError as e:
            return "%s: KVM_GET_API_VERSION failed: %s" % (device, e.strerror or e)
        if version != KVM_API_VERSION:
            return "%s: KVM API version %d, expected %d" % (device, version, KVM_API_VERSION)
        try:
            vm = fcntl.ioctl(fd, KVM_CREATE_VM, 0)
        except OSError as e:
            return "%s: cannot create a VM: %s" % (device, e.strerror or e)
        os.close(vm)
        return None
    finally:
        os.close(fd)


def usable():
    return probe() is None
