"""Recipes (DESIGN §5): `images/<name>/recipe.toml` beside the app's Python files.

    name    = "echo"                      # default: the folder's name; [a-z0-9_-], names build/<name>.elf
    app     = "app"                       # module in the folder (app.py or app/__init__.py), default "app"
    modules = ["util.py", "lib"]          # extra .py files or folders (relative to the recipe folder)
    memory  = "64M"                       # guest RAM: digits + K/M/G, 16M..16G, default "64M"
    fs      = "256K"                      # the image's filesystem (littlefs2 in RAM, kept over
                                          # soft resets): 16K..64M and at most a quarter of
                                          # memory; "0" leaves the filesystem code out
    cmdline = "ip=10.0.2.15/24 gw=10.0.2.2 greeting=hi"   # default boot words
    features = ["ipv6", "dhcp", "dns"]    # the stack's optional parts to build in (default:
                                          # all); leaving one out saves image (IPv6 ~37 KB,
                                          # DHCP ~16 KB, DNS ~12 KB) and asking for it at
                                          # boot is then a clear error

`load(arg)` takes RECIPE as the CLI does: `images/<name>`, a path to a recipe folder, or a path
to a recipe.toml (a relative path not found from the working directory is also tried from the
repository root). Every error is a RecipeError whose message names the file, the key and the
expectation, e.g. `images/x/recipe.toml: memory: "64" is not a size: expected digits with K, M
or G, e.g. "64M"`.
"""

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..stack.config import Config

FILENAME = "recipe.toml"
DEFAULT_RECIPE = "images/echo"
DEFAULT_APP = "app"
DEFAULT_MEMORY = "64M"
DEFAULT_CMDLINE = "ip=10.0.2.15/24 gw=10.0.2.2"
DEFAULT_FS = "256K"
MIN_FS = 16 << 10
MAX_FS = 64 << 20
MIN_MEMORY = 16 << 20
MAX_MEMORY = 16 << 30
KEYS = ("name", "app", "modules", "memory", "cmdline", "fs", "features")
FEATURES = ("ipv6", "dhcp", "dns")
REPO_ROOT = Path(__file__).resolve().parent.parent.parent
# The runtime keeps the kernel command line in a 1024-byte buffer (vm/ethox.h,
# ETHOX_CMDLINE_MAX): 1023 bytes and the NUL. QEMU appends this word to it on
# microvm,acpi=off for the virtio-mmio device, so a line we pass may hold that much less.
KERNEL_CMDLINE_MAX = 1023
QEMU_MMIO_WORD = " virtio_mmio.device=512@0xfeb00e00:12"

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SIZE = re.compile(r"^([0-9]+)([KMG])$")
_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


class RecipeError(Exception):
    """A recipe that cannot be used; str() is one line naming file, key and expectation."""


@dataclass
class Recipe:
    file: Path  # the recipe.toml
    name: str
    app: str
    modules: list = field(default_factory=list)  # resolved Paths (files or folders)
    memory: str = DEFAULT_MEMORY
    cmdline: str = DEFAULT_CMDLINE
    fs: str = DEFAULT_FS
    features: tuple = FEATURES

    @property
    def dir(self) -> Path:
        return self.file.parent

    @property
    def app_path(self) -> Path:
        return app_file(self.dir, self.app)

    @property
    def memory_bytes(self) -> int:
        return parse_memory(self.memory)

    @property
    def fs_bytes(self) -> int:
        return parse_fs(self.fs)

    def module_paths(self):
        """Every Python source to freeze: the app and the extra modules, as Paths."""
        return [self.app_path] + list(self.modules)

    def as_dict(self):
        return {"file": str(self.file), "name": self.name, "app": self.app,
                "modules": [str(m) for m in self.modules], "memory": self.memory,
                "cmdline": self.cmdline, "fs": self.fs, "features": list(self.features)}


def parse_memory(text) -> int:
    """Bytes for a size such as "64M" or "1G"; ValueError with the expectation."""
    if not isinstance(text, str):
        raise ValueError("%r is not a size: expected a string with K, M or G, e.g. \"64M\""
                         % (text,))
    m = _SIZE.match(text.strip().upper())
    if not m:
        raise ValueError("%r is not a size: expected digits with K, M or G, e.g. \"64M\""
                         % text)
    n = int(m.group(1)) * _UNITS[m.group(2)]
    if not MIN_MEMORY <= n <= MAX_MEMORY:
        raise ValueError("%r is out of range: expected 16M to 16G" % text)
    return n


def parse_fs(text) -> int:
    """Bytes of the filesystem: "0", or a size such as "256K" (16K..64M); ValueError."""
    if isinstance(text, str) and text.strip() == "0":
        return 0
    if not isinstance(text, str):
        raise ValueError("%r is not a size: expected a string such as \"256K\", or \"0\" for "
                         "no filesystem" % (text,))
    m = _SIZE.match(text.strip().upper())
    if not m or m.group(2) == "G":
        raise ValueError("%r is not a size: expected digits with K or M, e.g. \"256K\" (\"0\": "
                         "no filesystem)" % text)
    n = int(m.group(1)) * _UNITS[m.group(2)]
    if not MIN_FS <= n <= MAX_FS:
        raise ValueError("%r is out of range: expected 16K to 64M, or \"0\"" % text)
    return n


def app_file(folder: Path, app: str) -> Path:
    single = folder / (app + ".py")
    if single.is_file():
        return single
    package = folder / app / "__init__.py"
    if package.is_file():
        return package
    return single


def find(arg) -> Path:
    """The recipe.toml named by RECIPE (a folder or the file itself); RecipeError if none."""
    p = Path(arg)
    candidates = [p]
    if not p.is_absolute():
        candidates.append(REPO_ROOT / p)
        if len(p.parts) == 1 and p.suffix != ".toml":  # a bare name: images/<name>
            candidates.append(REPO_ROOT / "images" / p)
    for c in candidates:
        if c.is_dir() and (c / FILENAME).is_file():
            return c / FILENAME
        if c.is_file() and c.name.endswith(".toml"):
            return c
    for c in candidates:
        if c.is_dir():
            raise RecipeError("%s: no %s in this folder: a recipe folder holds recipe.toml "
                              "and the app (see images/echo)" % (arg, FILENAME))
    raise RecipeError("%s: no such recipe: expected images/<name>, a recipe folder or a "
                      "path to its recipe.toml" % (arg,))


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load(arg=DEFAULT_RECIPE) -> Recipe:
    file = find(arg)
    shown = _shown(file)

    def err(key, msg):
        return RecipeError("%s: %s: %s" % (shown, key, msg) if key else "%s: %s" % (shown, msg))

    try:
        data = tomllib.loads(file.read_text())
    except tomllib.TOMLDecodeError as e:
        raise err(None, "not valid TOML: %s" % e) from None
    except (OSError, UnicodeDecodeError) as e:
        raise err(None, "cannot read: %s" % e) from None

    for key in data:
        if key not in KEYS:
            raise err(key, "unknown key: expected one of %s" % ", ".join(KEYS))

    def get(key, default, kind, expect):
        v = data.get(key, default)
        if not isinstance(v, kind) or isinstance(v, bool) and kind is not bool:
            raise err(key, "%r is a %s: expected %s" % (v, _toml_type(v), expect))
        return v

    name = get("name", file.parent.name, str, 'a string such as "echo"')
    if not _NAME.match(name):
        raise err("name", "%r: expected lower-case letters, digits, '-' or '_' (it names "
                          "build/<name>.elf)" % name)
    app = get("app", DEFAULT_APP, str, 'a module name such as "app"')
    if app.endswith(".py"):
        raise err("app", "%r: give the module name without .py, e.g. %r" % (app, app[:-3]))
    if not _MODULE.match(app):
        raise err("app", "%r is not a Python module name" % app)
    if not app_file(file.parent, app).is_file():
        raise err("app", "%s.py not found in %s: the app module must sit beside recipe.toml"
                         % (app, _shown(file.parent)))

    mods = get("modules", [], list, 'a list of paths, e.g. ["util.py", "lib"]')
    modules = []
    for m in mods:
        if not isinstance(m, str):
            raise err("modules", "%r is a %s: expected each entry to be a path string"
                                 % (m, _toml_type(m)))
        mp = (file.parent / m)
        if not mp.exists():
            raise err("modules", "%s not found (paths are relative to %s)"
                                 % (m, _shown(file.parent)))
        if mp.is_file() and mp.suffix != ".py":
            raise err("modules", "%s is not a .py file or a folder" % m)
        if mp.is_dir() and not any(mp.rglob("*.py")):
            raise err("modules", "folder %s holds no .py files" % m)
        modules.append(mp.resolve())

    memory = get("memory", DEFAULT_MEMORY, str, 'a size such as "64M"')
    try:
        parse_memory(memory)
    except ValueError as e:
        raise err("memory", str(e)) from None

    fs = get("fs", DEFAULT_FS, str, 'a size such as "256K", or "0" for no filesystem')
    try:
        fs_bytes = parse_fs(fs)
    except ValueError as e:
        raise err("fs", str(e)) from None
    if fs_bytes * 4 > parse_memory(memory):
        raise err("fs", "%r is more than a quarter of memory (%s): the filesystem lives in "
                        "guest RAM; make it smaller or raise memory" % (fs, memory))

    feats = get("features", list(FEATURES), list, 'a list drawn from %s, e.g. ["dns"]'
                % ", ".join('"%s"' % f for f in FEATURES))
    for f in feats:
        if f not in FEATURES:
            raise err("features", "%r is not an optional part of the stack: expected some of %s"
                                  % (f, ", ".join(FEATURES)))
    features = tuple(f for f in FEATURES if f in feats)

    cmdline = get("cmdline", DEFAULT_CMDLINE, str,
                  'a string of boot words, e.g. "ip=10.0.2.15/24 gw=10.0.2.2"')
    try:
        Config.from_words(cmdline)
        check_cmdline_length(" ".join(cmdline.split()), QEMU_MMIO_WORD)
    except ValueError as e:
        raise err("cmdline", str(e)) from None

    return Recipe(file=file.resolve(), name=name, app=app, modules=modules, memory=memory,
                  cmdline=" ".join(cmdline.split()), fs=fs.strip().upper(), features=features)


def check_cmdline_length(words, qemu_adds=""):
    """ValueError unless the boot words and what QEMU appends (`qemu_adds`) fit the
    runtime's buffer; the message gives the length, the limit and the longest words."""
    n = len(words.encode())
    total = n + len(qemu_adds.encode())
    if total <= KERNEL_CMDLINE_MAX:
        return
    longest = sorted(words.split(), key=lambda w: -len(w.encode()))[:3]
    shown = ", ".join("%s (%d bytes)" % (w if len(w) <= 40 else w[:36] + "...",
                                          len(w.encode())) for w in longest)
    parts = " (%d of boot words + %d for the word QEMU appends,%s)" % (n, total - n, qemu_adds) \
        if qemu_adds else ""
    raise ValueError("the kernel command line would be %d bytes%s; the image's runtime keeps "
                     "%d (vm/ethox.h): shorten or drop boot words, the longest are %s"
                     % (total, parts, KERNEL_CMDLINE_MAX, shown))


def _toml_type(v) -> str:
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "float"), (str, "string"),
                       (list, "list"), (dict, "table")):
        if isinstance(v, kind):
            return name
    return type(v).__name__
