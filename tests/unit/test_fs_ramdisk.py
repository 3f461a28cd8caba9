# ethox_uk.fs (the image's filesystem: a RAM disk for littlefs2) under both
# interpreters. mount() is driven with a stand-in for MicroPython's vfs module,
# so what it does on a blank and on a formatted disk is checked here; the real
# littlefs2 in the image is tests/image/test_fs.py's.
import sys

import support
from ethox_uk import fs


def _disk(nblocks=8, bs=512):
    mem = memoryview(bytearray(nblocks * bs))
    return mem, fs.RamDisk(mem, bs)


def test_ioctl_reports_geometry_and_accepts_the_rest():
    mem, d = _disk(8)
    assert d.ioctl(4, 0) == 8  # block count
    assert d.ioctl(5, 0) == 512  # block size
    for op in (1, 2, 3, 6):  # init, deinit, sync, erase
        assert d.ioctl(op, 0) == 0


def test_blocks_read_back_with_offsets():
    mem, d = _disk(4)
    d.writeblocks(1, b"\x11" * 512)
    d.writeblocks(2, b"abc", 10)
    out = bytearray(512)
    d.readblocks(1, out)
    assert out == b"\x11" * 512
    part = bytearray(3)
    d.readblocks(2, part, 10)
    assert part == b"abc"
    # nothing around the write moved or changed
    assert bytes(mem[1024:1034]) == b"\x00" * 10 and bytes(mem[1037:1040]) == b"\x00" * 3
    assert bytes(mem[0:512]) == b"\x00" * 512 and bytes(mem[1536:2048]) == b"\x00" * 512


def test_outside_the_disk_is_an_error_not_a_write():
    mem, d = _disk(2)
    e = support.raises(OSError, d.writeblocks, 2, b"x")
    assert e.args[0] == 22
    support.raises(OSError, d.writeblocks, 1, b"x" * 2, 511)
    support.raises(OSError, d.readblocks, -1, bytearray(1))
    assert bytes(mem) == b"\x00" * 1024


class FakeLfs:
    """Plays vfs.VfsLfs2: refuses a disk whose first byte is 0 (blank), mkfs marks it."""
    made = []

    def __init__(self, disk, mtime=True):
        buf = bytearray(1)
        disk.readblocks(0, buf)
        if buf[0] != 0x4C:
            raise OSError(19)
        self.disk = disk
        self.mtime = mtime

    @staticmethod
    def mkfs(disk):
        FakeLfs.made.append(disk)
        disk.writeblocks(0, b"\x4c")


class FakeVfs:
    VfsLfs2 = FakeLfs

    def __init__(self):
        self.mounts = []

    def mount(self, obj, path):
        self.mounts.append((obj, path))


def test_mount_formats_a_blank_disk_once():
    area = bytearray(4 * 512)
    v = FakeVfs()
    FakeLfs.made = []
    had_lib = "/lib" in sys.path
    try:
        f = fs.mount(area, vfs=v, path="/t")
        assert len(FakeLfs.made) == 1 and area[0] == 0x4C
        assert v.mounts == [(f, "/t")] and f.mtime is False
        assert "/lib" in sys.path
        f2 = fs.mount(area, vfs=v, path="/t")  # formatted already: kept as it is
        assert len(FakeLfs.made) == 1 and v.mounts[1] == (f2, "/t")
        assert sys.path.count("/lib") == 1
    finally:
        if not had_lib:
            while "/lib" in sys.path:
                sys.path.remove("/lib")
