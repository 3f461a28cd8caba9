"""Files in a running VM, through mpremote's own transport (the same code `mpremote fs cp`
runs) on the VM's console pty: nothing of the protocol is written here.

    with session(pty) as t:        # raw REPL entered without a soft reset (mpremote resume)
        write(t, "/app.py", data)
        data = read(t, "/app.py")
"""

import contextlib

from .registry import VmError

CHUNK = 512  # bytes per raw-REPL exchange (mpremote's default is 256)
NO_FS = ("the image has no filesystem (its recipe says fs = \"0\"?): build it with a "
         "filesystem, e.g. fs = \"256K\" in recipe.toml")


@contextlib.contextmanager
def session(pty):
    from mpremote.transport import TransportError
    from mpremote.transport_serial import SerialTransport

    try:
        t = SerialTransport(pty, baudrate=115200)
    except TransportError as e:
        raise VmError("cannot open the VM's console %s: %s" % (pty, e)) from None
    try:
        try:
            t.enter_raw_repl(soft_reset=False)
        except TransportError as e:
            raise VmError("the VM's console %s does not answer (%s): is another client "
                          "using it?" % (pty, e)) from None
        yield t
    finally:
        with contextlib.suppress(Exception):
            t.exit_raw_repl()
        with contextlib.suppress(Exception):
            t.close()


def _fail(e, path):
    text = str(e)
    if "ilistdir" in text or "no attribute 'stat'" in text:
        return VmError(NO_FS)
    if isinstance(e, OSError) and e.errno is not None:
        import os

        return VmError("%s in the VM: %s" % (path, os.strerror(e.errno)))
    return VmError("%s in the VM: %s" % (path, text.strip().splitlines()[-1] if text else e))


def target_path(t, dst, basename):
    """dst, or dst/basename when dst is a folder (or ends with '/')."""
    from mpremote.transport import TransportError

    try:
        is_dir = dst.endswith("/") or t.fs_isdir(dst)
    except (TransportError, OSError) as e:
        raise _fail(e, dst) from None
    return dst.rstrip("/") + "/" + basename if is_dir else dst


def write(t, path, data):
    from mpremote.transport import TransportError

    try:
        t.fs_writefile(path, data, chunk_size=CHUNK)
    except (TransportError, OSError) as e:
        raise _fail(e, path) from None


def read(t, path):
    from mpremote.transport import TransportError

    try:
        return bytes(t.fs_readfile(path, chunk_size=CHUNK))
    except (TransportError, OSError) as e:
        raise _fail(e, path) from None
