"""Opening a `--pcap FILE` for writing without being led astray (host side, CPython).

Each writer -- QEMU's filter-dump, the host stack's PcapWriter, the frame relay, the
conformance peer -- gets a file opened here: never through a symlink (O_NOFOLLOW: a link
planted at FILE in a shared folder would otherwise truncate whatever it points to), never
onto a FIFO, device or socket (O_NONBLOCK keeps a FIFO from hanging the open; fstat then
refuses anything but a regular file). Only then is it truncated. QEMU gets the open file as
an inherited fd, named `/proc/self/fd/N` in its option string, so it never opens FILE by
name either.

    fd = open_capture(path)          # an fd, truncated, close-on-exec
    f = open_capture_file(path)      # the same as a binary file object
"""

import errno
import os
import stat


def check_capture_path(path):
    """ValueError saying what is wrong with path as a capture file (before anything is
    opened): a ',' (QEMU splits its options on it), a folder, or something there that is
    not a regular file."""
    if not path:
        raise ValueError("the file name is empty: give one, e.g. /tmp/trace.pcap")
    if "," in path:
        raise ValueError("%r contains ',' (QEMU splits options on it): pick a name without "
                         "one" % path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise ValueError("%s exists and is %s, not a regular file: refusing to overwrite it; "
                         "remove it or pick another name" % (path, _kind(st.st_mode)))


def open_capture(path):
    """An fd on path for writing a capture: created 0644 or truncated; OSError when path
    is a symlink or not a regular file (errno ELOOP / EINVAL), with the reason in it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OSError(e.errno, "it is a symlink: refusing to write through it; remove "
                                   "it or pick another name") from None
        if e.errno == errno.ENXIO:  # a FIFO nobody reads
            raise OSError(e.errno, "it is a FIFO, not a regular file: pick another name") \
                from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "it is %s, not a regular file: refusing to overwrite "
                                        "it; pick another name" % _kind(mode))
        os.ftruncate(fd, 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_capture_file(path):
    """open_capture as a binary file object (for PcapWriter and scapy's PcapWriter)."""
    return os.fdopen(open_capture(path), "wb")


def _kind(mode):
    for test, name in ((stat.S_ISLNK, "a symlink"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"
