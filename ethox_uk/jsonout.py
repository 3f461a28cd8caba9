"""`--json -` for bench and conformance: their JSON document alone on stdout, so it can be
piped (`ethox-uk conformance ... --json - | jq`); the tables and progress they print go to
stderr meanwhile. They write JSON to a file, so `-` becomes a temporary file shown at the end.

    run(json_path, call) -> call(path)'s result; json_path None or a file name: passed through
"""

import contextlib
import os
import sys
import tempfile

STDOUT = "-"


def run(json_path, call):
    if json_path != STDOUT:
        return call(json_path)
    fd, tmp = tempfile.mkstemp(prefix="ethox-uk-", suffix=".json")
    os.close(fd)
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        # fd 1 itself, not only sys.stdout: rich consoles and child processes (QEMU,
        # MicroPython runs) write there too
        os.dup2(2, 1)
        try:
            with contextlib.redirect_stdout(sys.stderr):
                result = call(tmp)
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
        with open(tmp) as f:
            sys.stdout.write(f.read())
        sys.stdout.flush()
        return result
    finally:
        os.close(saved)
        os.unlink(tmp)
