"""Recipe loading (DESIGN §5): defaults, RECIPE forms, and one-line errors naming file, key
and expectation."""

from pathlib import Path

import pytest

from ethox_uk.build import recipe as R

ROOT = Path(__file__).resolve().parent.parent


def make(tmp_path, text, app="def main(net):\n    pass\n", name="demo"):
    base = tmp_path / ("r%d" % len(list(tmp_path.iterdir())))  # a fresh folder per recipe
    d = base / name
    d.mkdir(parents=True)
    (d / "recipe.toml").write_text(text)
    if app is not None:
        (d / "app.py").write_text(app)
    return d


def error(tmp_path, text, **kw):
    d = make(tmp_path, text, **kw)
    with pytest.raises(R.RecipeError) as e:
        R.load(d)
    msg = str(e.value)
    assert "\n" not in msg
    assert "recipe.toml" in msg
    return msg


def test_defaults(tmp_path):
    d = make(tmp_path, "")
    r = R.load(d)
    assert r.name == "demo" and r.app == "app" and r.modules == []
    assert r.memory == "64M" and r.memory_bytes == 64 << 20
    assert r.cmdline == R.DEFAULT_CMDLINE
    assert r.dir == d.resolve() and r.app_path == d / "app.py"


def test_every_key(tmp_path):
    d = make(tmp_path, 'name = "web-1"\napp = "server"\nmodules = ["util.py", "lib"]\n'
                       'memory = "1G"\ncmdline = "ip=10.0.3.5/16  gw=10.0.0.1 greeting=hi"\n',
             app=None)
    (d / "server.py").write_text("def main(net): pass\n")
    (d / "util.py").write_text("X = 1\n")
    (d / "lib").mkdir()
    (d / "lib" / "__init__.py").write_text("")
    r = R.load(d / "recipe.toml")
    assert (r.name, r.app, r.memory, r.memory_bytes) == ("web-1", "server", "1G", 1 << 30)
    assert r.modules == [(d / "util.py").resolve(), (d / "lib").resolve()]
    assert r.cmdline == "ip=10.0.3.5/16 gw=10.0.0.1 greeting=hi"
    assert [p.name for p in r.module_paths()] == ["server.py", "util.py", "lib"]


def test_app_may_be_a_package(tmp_path):
    d = make(tmp_path, 'app = "svc"\n', app=None)
    (d / "svc").mkdir()
    (d / "svc" / "__init__.py").write_text("def main(net): pass\n")
    assert R.load(d).app_path == d / "svc" / "__init__.py"


def test_recipe_argument_forms(tmp_path, monkeypatch):
    r = R.load("images/echo")
    assert r.name == "echo" and r.app_path == ROOT / "images" / "echo" / "app.py"
    assert R.load(ROOT / "images" / "echo" / "recipe.toml").file == r.file
    assert R.load("echo").file == r.file  # a bare name means images/<name>
    monkeypatch.chdir(tmp_path)  # relative paths fall back to the repository root
    assert R.load("images/echo").file == r.file


def test_echo_recipe_is_valid():
    r = R.load()
    assert r.name == "echo" and r.app == "app"
    assert "main(" in r.app_path.read_text()


def test_missing_recipe(tmp_path):
    with pytest.raises(R.RecipeError, match="no such recipe: expected images/<name>"):
        R.load(tmp_path / "nope")
    with pytest.raises(R.RecipeError, match="no recipe.toml in this folder"):
        R.load(tmp_path)


def test_unknown_key(tmp_path):
    msg = error(tmp_path, 'nmae = "x"\n')
    assert "nmae: unknown key: expected one of name, app, modules, memory, cmdline" in msg


def test_wrong_types(tmp_path):
    assert "memory: 64 is a integer: expected a size such as \"64M\"" in \
        error(tmp_path, "memory = 64\n")
    assert "modules: 'x.py' is a string: expected a list of paths" in \
        error(tmp_path, 'modules = "x.py"\n')
    assert "cmdline: ['ip=1.2.3.4'] is a list: expected a string of boot words" in \
        error(tmp_path, 'cmdline = ["ip=1.2.3.4"]\n')
    assert "name: True is a boolean" in error(tmp_path, "name = true\n")


def test_missing_app_file(tmp_path):
    msg = error(tmp_path, 'app = "server"\n')
    assert "app: server.py not found in" in msg and "beside recipe.toml" in msg
    assert "without .py" in error(tmp_path, 'app = "server.py"\n')


def test_bad_memory_sizes(tmp_path):
    for bad in ["64", "64MB", "lots", "8M", "17G", "-1M"]:
        msg = error(tmp_path, 'memory = "%s"\n' % bad)
        assert "memory: " in msg and ("expected digits with K, M or G" in msg
                                      or "expected 16M to 16G" in msg), msg
    assert R.parse_memory("16M") == 16 << 20 and R.parse_memory("1g") == 1 << 30
    assert R.parse_memory("65536K") == 64 << 20


def test_toml_syntax_error_names_the_line(tmp_path):
    msg = error(tmp_path, 'name = "x"\nmemory "64M"\n')
    assert "not valid TOML" in msg and "line 2" in msg


def test_modules_must_exist_and_be_python(tmp_path):
    assert "modules: gone.py not found" in error(tmp_path, 'modules = ["gone.py"]\n')
    d = make(tmp_path, 'modules = ["notes.txt", "empty"]\n')
    (d / "notes.txt").write_text("x")
    with pytest.raises(R.RecipeError, match="modules: notes.txt is not a .py file or a folder"):
        R.load(d)
    d = make(tmp_path, 'modules = ["empty"]\n')
    (d / "empty").mkdir()
    with pytest.raises(R.RecipeError, match="folder empty holds no .py files"):
        R.load(d)
    assert "each entry to be a path string" in error(tmp_path, "modules = [1]\n")


def test_bad_name_and_cmdline(tmp_path):
    assert "name: 'My App': expected lower-case" in error(tmp_path, 'name = "My App"\n')
    assert "cmdline: bad IPv4 address" in error(tmp_path, 'cmdline = "ip=10.0.2.300/24"\n')
    assert "cmdline: gateway 10.9.9.9 is not inside" in \
        error(tmp_path, 'cmdline = "gw=10.9.9.9"\n')


def test_fs_key(tmp_path):
    r = R.load(make(tmp_path, ""))
    assert r.fs == "256K" and r.fs_bytes == 256 << 10  # a small filesystem by default
    r = R.load(make(tmp_path, 'fs = "0"\n'))
    assert r.fs_bytes == 0
    r = R.load(make(tmp_path, 'fs = "4m"\nmemory = "16M"\n'))
    assert (r.fs, r.fs_bytes) == ("4M", 4 << 20)
    assert r.as_dict()["fs"] == "4M"
    for text, expect in (('fs = 256\n', "expected a size such as \"256K\", or \"0\""),
                         ('fs = "1G"\n', "expected digits with K or M"),
                         ('fs = "8K"\n', "out of range: expected 16K to 64M"),
                         ('fs = "128M"\nmemory = "1G"\n', "out of range"),
                         ('fs = "8M"\nmemory = "16M"\n', "more than a quarter of memory")):
        msg = error(tmp_path, text)
        assert "fs: " in msg and expect in msg, msg


def test_features_default_all_and_select_the_optional_parts(tmp_path):
    assert R.load(make(tmp_path, "")).features == ("ipv6", "dhcp", "dns")
    r = R.load(make(tmp_path, 'features = ["dns", "ipv6"]\n'))
    assert r.features == ("ipv6", "dns")  # in the stack's order
    assert R.load(make(tmp_path, "features = []\n")).features == ()
    msg = error(tmp_path, 'features = ["ipv4"]\n')
    assert "features" in msg and "'ipv4' is not an optional part" in msg and "dhcp" in msg
    msg = error(tmp_path, 'features = "dns"\n')
    assert "features" in msg and "expected a list" in msg
