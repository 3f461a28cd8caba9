# copy(dst, doff, src, soff, n): dst[doff:doff+n] = src[soff:soff+n], the one
# byte mover of the data path, without allocating where the interpreter allows:
#   the image      the runtime's native memmove (_ethox.copy: ~0.7 us per 32 KiB
#                  under KVM, 25x the viper loop)
#   MicroPython    the viper word loop (copy_viper.py)
#   CPython        a slice assignment between memoryviews (one memcpy)
# Ranges are checked (ValueError) on every path.
try:
    from _ethox import copy  # noqa: F401
except ImportError:
    try:
        from .copy_viper import copy  # noqa: F401
    except (ImportError, SyntaxError, ValueError, NotImplementedError):

        def copy(dst, doff, src, soff, n):
            if n < 0 or doff < 0 or soff < 0 or doff + n > len(dst) or soff + n > len(src):
                raise ValueError("copy out of range")
            if not isinstance(dst, memoryview):
                dst = memoryview(dst)
            if not isinstance(src, memoryview):
                src = memoryview(src)
            dst[doff:doff + n] = src[soff:soff + n]
