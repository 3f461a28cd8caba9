"""`ethox-uk new`: each template makes a folder whose recipe loads and whose app compiles;
bad names, unknown templates and existing folders are refused with status 2 and a message
saying what to do; nothing half-made is left behind. (Building and booting each template:
tests/image/test_new_apps.py.)"""

import os
import subprocess
import sys
from pathlib import Path

from ethox_uk.build import recipe
from ethox_uk.scaffold import TEMPLATES

REPO = Path(__file__).resolve().parent.parent


def eu(cwd, *args):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "ethox_uk.cli"] + list(args), cwd=cwd,
                          env=env, capture_output=True, timeout=60)


def test_each_template_makes_a_loadable_recipe_and_a_compiling_app(tmp_path):
    for t in TEMPLATES:
        r = eu(tmp_path, "new", "app-" + t, "--template", t)
        assert r.returncode == 0, r.stderr.decode()
        d = tmp_path / ("app-" + t)
        assert sorted(os.listdir(d)) == ["app.py", "recipe.toml"]
        assert oct(d.stat().st_mode & 0o777) != oct(0o700)  # not mkdtemp's private mode
        rec = recipe.load(str(d))
        assert rec.name == "app-" + t and rec.app == "app" and rec.fs == "256K"
        src = (d / "app.py").read_text()
        assert "@" + "NAME@" not in src and "@DIR@" not in src
        compile(src, str(d / "app.py"), "exec")
        assert "ethox-uk build %s" % d.name in r.stdout.decode()
    # nothing but the three folders: the temporary folder was renamed, not left
    assert sorted(os.listdir(tmp_path)) == sorted("app-" + t for t in TEMPLATES)


def test_new_goes_into_images_when_the_working_directory_has_one(tmp_path):
    (tmp_path / "images").mkdir()
    r = eu(tmp_path, "new", "web")
    assert r.returncode == 0, r.stderr.decode()
    assert (tmp_path / "images" / "web" / "recipe.toml").is_file()
    r = eu(tmp_path, "new", "web2", "-C", "elsewhere/deep")
    assert r.returncode == 0, r.stderr.decode()
    assert (tmp_path / "elsewhere" / "deep" / "web2" / "app.py").is_file()


def test_bad_input_is_refused_with_a_reason(tmp_path):
    r = eu(tmp_path, "new", "My App")
    assert r.returncode == 2 and b"not a usable name" in r.stderr
    assert r.stderr.startswith(b"ethox-uk new: error: "), r.stderr  # names the command
    r = eu(tmp_path, "new", "x", "--template", "nope")
    assert r.returncode == 2 and b"nope" in r.stderr
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    r = eu(tmp_path, "new", "taken")
    assert r.returncode == 2 and b"already exists" in r.stderr
    assert os.listdir(tmp_path / "taken") == ["keep.txt"]  # untouched
    assert sorted(os.listdir(tmp_path)) == ["taken"]
