"""What `ethox-uk build` tells: errors at the user's file and line (mpy-cross run on the
recipe's own files first; compiler lines out of a failed make), a progress display only once
real work starts, one quiet line for a cached build."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from ethox_uk.build import image, toolchain
from ethox_uk.build.diagnose import check_sources, summarize
from ethox_uk.build.source import ToolchainError

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cross():
    return toolchain.mpy_cross()


@pytest.mark.parametrize("text,line,kind,shown", [
    ("def main(net):\n    x = (1,\n    pass\n", 3, "SyntaxError: invalid syntax", "    pass"),
    ("from ethox_uk.stack.compat import const\nX = const(len('ab'))\n", 2,
     "SyntaxError: not a constant (const() takes only a literal integer expression)",
     "X = const(len('ab'))"),
    ("def f():\n  return 1\n   y = 2\n", 3, "IndentationError: unexpected indent", "   y = 2"),
])
def test_python_errors_name_file_and_line(cross, tmp_path, text, line, kind, shown):
    good = tmp_path / "util.py"
    good.write_text("X = 1\n")
    bad = tmp_path / "app.py"
    bad.write_text(text)
    check_sources(cross, [good])  # fine: no error
    with pytest.raises(ToolchainError) as e:
        check_sources(cross, [good, bad])
    msg = str(e.value)
    assert msg.startswith("%s:%d: %s" % (bad, line, kind)), msg
    assert ("%4d | %s" % (line, shown)) in msg
    assert "/tmp/tmp" not in msg  # never the freezer's temporary copy


def test_build_stops_at_the_app_error_before_make(tmp_path):
    rec = tmp_path / "oops"
    rec.mkdir()
    (rec / "recipe.toml").write_text('name = "oops"\n')
    (rec / "app.py").write_text("def main(net):\n    return net.\n")
    r = subprocess.run([sys.executable, "-m", "ethox_uk.cli", "build", str(rec), "-o",
                        str(tmp_path / "out" / "oops.elf")], cwd=REPO, capture_output=True,
                       timeout=300)
    err = r.stderr.decode()
    assert r.returncode == 1 and "%s:2: SyntaxError: invalid syntax" % (rec / "app.py") in err
    assert "make" not in err and not (tmp_path / "out" / ".work" / "oops" / "vm").exists()


def test_summarize_compiler_and_linker_lines():
    log = ("$ make ...\nCC main.c\nmain.c:12:5: error: 'x' undeclared (first use in this "
           "function)\n   12 |     x = 1;\nmake: *** [Error 1]\n"
           "ld: lfs2.o: in function `f':\nlfs2.c:(.text+0x5): undefined reference to "
           "`strspn'\n")
    lines = summarize(log)
    assert lines[0] == "main.c:12:5: error: 'x' undeclared (first use in this function)"
    assert lines[1].endswith("undefined reference to `strspn'")
    assert summarize("make: nothing useful\n") == []


def test_progress_appears_only_when_work_starts():
    buf = io.StringIO()
    con = Console(file=buf, force_terminal=True, width=100)
    with image._Progress(console=con) as p:
        p.stage("MicroPython source")
        p.stage("compiling", total=10)
        p.step("GEN qstrdefs", work=False)  # make's every-time bookkeeping: no display
        assert p.progress is None and not p.worked
        p.step("CC py/vm.c")
        assert p.progress is not None and p.worked
    assert "CC py/vm.c" in buf.getvalue()  # the bar showed the step
    buf = io.StringIO()
    with image._Progress(console=Console(file=buf, force_terminal=True)) as p:
        p.download(1 << 20, 6 << 20)
        assert p.progress is not None
    # off a terminal: one line when work starts, none for a cached build
    quiet = image._Progress(what="ethox-uk: building x", console=Console(file=io.StringIO()))
    assert not quiet.live
    quiet.step("GEN x", work=False)
    assert not quiet.worked


def test_cached_build_is_one_quiet_line():
    argv = [sys.executable, "-m", "ethox_uk.cli", "build"]
    r = subprocess.run(argv, cwd=REPO, capture_output=True, timeout=900)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    r = subprocess.run(argv, cwd=REPO, capture_output=True, timeout=300)
    assert r.returncode == 0
    assert r.stderr.decode() == "ethox-uk: build/echo.elf is up to date\n"
    assert r.stdout == b""
