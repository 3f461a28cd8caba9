# The image's filesystem (MicroPython only; the frozen boot.py calls mount()).
#
# littlefs2 on a RAM disk: the runtime's static area (_ethox.fs_area(), sized by
# the recipe's `fs` key), which lies outside the GC heap and survives soft
# resets, so files copied in (mpremote fs cp, ethox-uk cp) stay until the VM
# ends. The first boot finds it zeroed and formats it. Mounted at "/", with
# sys.path as on MicroPython boards: ['', '.frozen', '/lib'] -- the current
# folder first, so a file on the filesystem (or in a folder mpremote mounted
# and changed into) shadows a frozen module of the same name, e.g. /app.py the
# recipe's app at the next soft reset.
#
# RamDisk is the block-device protocol of MicroPython's VFS (readblocks,
# writeblocks with offsets, ioctl); it also runs under CPython for the tests.

BLOCK_SIZE = 512


class RamDisk:
    def __init__(self, mem, block_size=BLOCK_SIZE):
        self.mem = memoryview(mem)  # slices of it are views (a bytearray's are copies)
        self.bs = block_size
        self.blocks = len(mem) // block_size

    def _span(self, block, offset, n):
        a = block * self.bs + offset
        if block < 0 or offset < 0 or a + n > self.blocks * self.bs:
            raise OSError(22)  # EINVAL: outside the disk
        return a

    def readblocks(self, block, buf, offset=0):
        n = len(buf)
        a = self._span(block, offset, n)
        buf[:] = self.mem[a:a + n]

    def writeblocks(self, block, buf, offset=0):
        n = len(buf)
        a = self._span(block, offset or 0, n)
        # a slice of the slice: a memoryview's slice assignment moves everything
        # after it in MicroPython 1.25; this way there is nothing after it
        self.mem[a:a + n][:] = buf

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.blocks
        if op == 5:  # block size
            return self.bs
        return 0  # init, deinit, sync, erase: nothing to do in RAM


def mount(area=None, vfs=None, path="/"):
    """Mount littlefs2 on area (default: the runtime's); format it when it holds none.
    Returns the filesystem, or None when the image has no filesystem."""
    if area is None:
        import _ethox

        area = _ethox.fs_area()
        if area is None:
            return None
    if vfs is None:
        import vfs
    import sys

    disk = RamDisk(area)
    try:
        fs = vfs.VfsLfs2(disk, mtime=False)
    except OSError:  # blank (first boot) or damaged: a fresh filesystem
        vfs.VfsLfs2.mkfs(disk)
        fs = vfs.VfsLfs2(disk, mtime=False)
    vfs.mount(fs, path)
    if "/lib" not in sys.path:
        sys.path.append("/lib")
    return fs
