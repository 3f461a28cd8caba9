"""Build errors that point at the user's file and line.

    check_sources(mpy_cross, paths)   compile the recipe's own Python files with mpy-cross
                                      first (a few ms each): a SyntaxError (or a const() that
                                      is not a constant) becomes `app.py:6: SyntaxError: ...`
                                      with the line itself, not a make log
    summarize(log_text)               the compiler's own error lines out of a failed make
                                      (`file.c:12:5: error: ...`, undefined references,
                                      mpy-cross tracebacks), a few lines instead of a log tail

Why mpy-cross ourselves: MicroPython's freezing step compiles a preprocessed copy in a
temporary file, so its traceback names `/tmp/tmpXXXX.py`, never the user's file.
"""

import os
import re
import subprocess
import tempfile
from pathlib import Path

from .source import ToolchainError

# mpy-cross's flags for frozen code (vm/Makefile MPY_CROSS_FLAGS): the same checks
CROSS_FLAGS = ["-march=x64", "-msmall-int-bits=63"]
_TRACE = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')
_ERROR = re.compile(r"^(?P<kind>\w*(Error|Exception)): ?(?P<msg>.*)$", re.M)
_CC = re.compile(r"^(?P<where>[^\s:]+:\d+(:\d+)?): (?P<kind>(fatal )?error): (?P<msg>.*)$", re.M)
_LD = re.compile(r"^.*(undefined reference to .*|multiple definition of .*)$", re.M)
MAX_LINES = 8


def shown(path) -> str:
    """path relative to the working folder when it lies below it, else absolute."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def _source_line(path, n):
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return None
    if 1 <= n <= len(lines):
        return lines[n - 1]
    return None


def format_python_error(text, fallback_file):
    """mpy-cross's traceback -> `file:line: Kind: message` + the line (None if unknown)."""
    err = _ERROR.search(text)
    where = _TRACE.findall(text)
    if not err:
        return None
    path = where[-1][0] if where else str(fallback_file)
    line = int(where[-1][1]) if where else 0
    kind, msg = err.group("kind"), err.group("msg").strip()
    out = "%s:%d: %s: %s" % (shown(path), line, kind, msg or "(no message)")
    if msg == "not a constant":
        out += " (const() takes only a literal integer expression)"
    src = _source_line(path, line)
    if src is None and line > 1:  # an error at the end of the file: show the last line
        src = _source_line(path, line - 1)
        line -= 1
    if src is not None:
        out += "\n  %4d | %s" % (line, src)
    return out


def check_sources(mpy_cross, paths):
    """ToolchainError naming file and line for the first of paths mpy-cross refuses."""
    with tempfile.TemporaryDirectory(prefix="eu-check-") as tmp:
        out = os.path.join(tmp, "x.mpy")
        for path in paths:
            try:
                r = subprocess.run([str(mpy_cross)] + CROSS_FLAGS + ["-o", out, str(path)],
                                   capture_output=True, text=True, errors="replace",
                                   timeout=60)
            except (OSError, subprocess.SubprocessError) as e:
                raise ToolchainError("cannot run mpy-cross (%s): %s" % (mpy_cross, e)) from None
            if r.returncode != 0:
                text = r.stderr + r.stdout
                msg = format_python_error(text, path) or "%s: %s" % (shown(path), text.strip())
                raise ToolchainError("%s\nfix it and build again" % msg)


def summarize(text):
    """The lines of a failed make that say what is wrong, or [] when none is recognised."""
    lines = []
    for m in _CC.finditer(text):
        lines.append("%s: %s: %s" % (m.group("where"), m.group("kind"), m.group("msg")))
    for m in _LD.finditer(text):
        lines.append(m.group(0).strip())
    if "error compiling" in text or "Traceback" in text:
        i = text.find("error compiling")
        chunk = text[i:] if i >= 0 else text[text.find("Traceback"):]
        first = chunk.splitlines()[0] if i >= 0 else ""
        py = format_python_error(chunk, first.replace("error compiling", "").strip(" :"))
        if py:
            lines.append(py)
    seen = []
    for line in lines:
        if line not in seen:
            seen.append(line)
    return seen[:MAX_LINES]
