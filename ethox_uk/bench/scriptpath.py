"""The repository root for the bench scripts that MicroPython runs as files
(`micropython ethox_uk/bench/tcp.py ...`): they must put it on sys.path before
importing the stack. MicroPython-compatible (no os.path)."""

import sys


def _abspath(p):
    if not p.startswith("/"):
        import os

        p = os.getcwd() + "/" + p
    parts = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
        else:
            parts.append(part)
    return "/" + "/".join(parts)


def add_repo_root():
    """Put the repository holding the running script (ethox_uk/bench/NAME.py, three
    levels down) first on sys.path."""
    p = _abspath(sys.argv[0])
    for _ in range(3):
        p = p[:p.rfind("/")]
    if p not in sys.path:
        sys.path.insert(0, p)
