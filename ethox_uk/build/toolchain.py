"""mpy-cross and the MicroPython unix port, built from the pinned source (host side).

    mpy_cross()          -> Path of mpy-cross (built on first use)
    micropython_unix()   -> Path of the unix-port `micropython` binary (built on first use)

Both builds happen inside source.source_dir(). A stamp file beside each binary records
what it was built from (source tree, make flags, manifest), so a second call returns at
once without running make. Compiler output goes to <cache>/logs/<name>.log; on failure
the ToolchainError names that log and quotes its last lines.

`python -m ethox_uk.build.toolchain [unix|mpy-cross]` builds if needed and prints the path
(the Makefile's `toolchain` target uses it).
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from . import source
from .source import ToolchainError

JOBS = "-j2"  # the machines have 2 cores
LOG_TAIL = 25  # lines of a failed build's log quoted in the error

# The unix port freezes micropython-lib by default, which the +ds tarball lacks: freeze only
# asyncio (the stack's asyncio streams are tested with it) and point MPY_LIB_DIR at a folder
# that holds only a README.md, which is all the port's check looks for.
UNIX_MANIFEST = 'include("$(MPY_DIR)/extmod/asyncio")\n'
MPY_LIB_README = "Empty on purpose: the +ds source has no micropython-lib (ethox-uk).\n"
# SSL and btree need the absent mbedtls/axtls/berkeley-db submodules.
UNIX_FLAGS = ["MICROPY_PY_SSL=0", "MICROPY_SSL_AXTLS=0", "MICROPY_PY_BTREE=0"]
STAMP = ".ethox-uk-stamp"


def _support_dir() -> Path:
    """Manifest and the stand-in micropython-lib folder for the unix build, in the cache."""
    d = source.cache_dir() / "unix-port"
    lib = d / "micropython-lib"
    lib.mkdir(parents=True, exist_ok=True)
    _write_if_changed(d / "manifest.py", UNIX_MANIFEST)
    _write_if_changed(lib / "README.md", MPY_LIB_README)
    return d


def _write_if_changed(path: Path, text: str) -> None:
    # Leave mtimes alone when nothing changed, so make sees nothing new.
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _make_env() -> dict:
    env = dict(os.environ)
    # When run under an outer make (`make toolchain`), its jobserver and flags must not
    # leak into the MicroPython build: that build gets exactly the flags below.
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS"):
        env.pop(k, None)
    return env


def _key(argv: list, src: Path) -> str:
    # Which Python runs the code generators does not change the binary: leave it out, so
    # the venv's python and the system's agree that a build is current.
    argv = [a for a in argv if not a.startswith("PYTHON=")]
    return hashlib.sha256(repr((str(src), argv)).encode()).hexdigest()


def _is_current(binary: Path, key: str) -> bool:
    stamp = binary.parent / STAMP
    try:
        return binary.is_file() and os.access(binary, os.X_OK) and stamp.read_text() == key
    except OSError:
        return False


def _run_make(name: str, argv: list, src: Path, binary: Path, extra: str = "",
              notify=None) -> Path:
    """Run make (argv) in src unless binary's stamp says it is current; return binary.

    `extra` is anything else the build depends on (e.g. the manifest's text); notify(text),
    if given, is told instead of stderr that a build starts (a progress display)."""
    key = _key(argv + [extra], src)
    if _is_current(binary, key):
        return binary
    with source.cache_lock("build"):
        if _is_current(binary, key):  # built by another process while we waited
            return binary
        logs = source.cache_dir() / "logs"
        logs.mkdir(exist_ok=True)
        log = logs / f"{name}.log"
        if notify is not None:
            notify(f"building {name} (log: {log})")
        else:
            print(f"ethox-uk: building {name} (log: {log})", file=sys.stderr)
        (binary.parent / STAMP).unlink(missing_ok=True)
        with open(log, "w") as f:
            f.write("$ " + " ".join(argv) + "\n")
            f.flush()
            try:
                rc = subprocess.run(argv, cwd=src, stdout=f, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=_make_env()).returncode
            except OSError as e:
                raise ToolchainError(f"cannot run {argv[0]}: {e} (run `make deps`)") from e
        if rc != 0 or not binary.is_file():
            tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL:]
            raise ToolchainError(
                f"building {name} failed (exit {rc}); full log: {log}; last lines:\n"
                + "\n".join("  " + line for line in tail)
            )
        (binary.parent / STAMP).write_text(key)
    return binary


def mpy_cross(notify=None) -> Path:
    """Build (if needed) and return the path of mpy-cross."""
    src = source.source_dir()
    argv = ["make", JOBS, "-C", "mpy-cross", f"PYTHON={sys.executable}"]
    return _run_make("mpy-cross", argv, src, src / "mpy-cross" / "build" / "mpy-cross",
                     notify=notify)


def micropython_unix() -> Path:
    """Build (if needed) and return the path of the unix port's micropython binary."""
    cross = mpy_cross()
    src = source.source_dir()
    sup = _support_dir()
    argv = [
        "make", JOBS, "-C", "ports/unix",
        f"PYTHON={sys.executable}",
        f"MPY_CROSS={cross}",
        f"FROZEN_MANIFEST={sup / 'manifest.py'}",
        f"MPY_LIB_DIR={sup / 'micropython-lib'}",
        *UNIX_FLAGS,
    ]
    binary = src / "ports" / "unix" / "build-standard" / "micropython"
    # The manifest's text is part of the key: changing it must rebuild.
    return _run_make("micropython-unix", argv, src, binary, extra=UNIX_MANIFEST)


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    what = args[0] if args else "unix"
    try:
        if what == "unix":
            print(micropython_unix())
        elif what == "mpy-cross":
            print(mpy_cross())
        else:
            print("usage: python -m ethox_uk.build.toolchain [unix|mpy-cross]", file=sys.stderr)
            return 2
    except ToolchainError as e:
        print(f"ethox-uk: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
