"""`--json -` (bench, conformance): the JSON document alone on stdout, everything else the
command prints (rich tables, child processes) on stderr; a file name still writes the file."""

import json
import os
import subprocess
import sys
from pathlib import Path

from ethox_uk import jsonout

REPO = Path(__file__).resolve().parent.parent


def test_dash_sends_only_the_json_to_stdout_and_the_rest_to_stderr(capfd):
    def call(path):
        print("a table line")
        subprocess.run(["echo", "a child's line"], check=True)  # writes to fd 1 directly
        Path(path).write_text('{"ok": 1}\n')
        return 7

    assert jsonout.run("-", call) == 7
    out, err = capfd.readouterr()
    assert json.loads(out) == {"ok": 1}
    assert "a table line" in err and "a child's line" in err


def test_a_file_name_is_passed_through(tmp_path):
    seen = []
    assert jsonout.run(str(tmp_path / "r.json"), lambda p: seen.append(p) or 0) == 0
    assert seen == [str(tmp_path / "r.json")]
    assert jsonout.run(None, lambda p: seen.append(p) or 3) == 3 and seen[-1] is None


def test_conformance_json_dash_is_pipeable():
    r = subprocess.run([sys.executable, "-m", "ethox_uk.cli", "conformance", "--host",
                        "images/echo", "--smoke", "--json", "-"], cwd=REPO,
                       env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    doc = json.loads(r.stdout)
    assert doc["summary"] and len(doc["checks"]) >= 20
    assert b"conformance: " in r.stderr  # the summary line went to stderr
