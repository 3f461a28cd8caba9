"""`ethox-uk new`: a recipe folder (recipe.toml + app.py) from one of the templates in
ethox_uk/templates/, ready to build and boot as it is.

    create(name, template="http", parent=None) -> Path of the new folder
        parent None: images/ when the working directory has one (this repository), else
        the working directory. Raises ScaffoldError (one line: what is wrong, what to do).
"""

import os
import tempfile
from pathlib import Path

from .build.recipe import _NAME

TEMPLATES = ("http", "echo", "asyncio")
DEFAULT_TEMPLATE = "http"  # the quick start's: `run -d -p 8080:80` then curl
_HERE = Path(__file__).resolve().parent / "templates"


class ScaffoldError(Exception):
    pass


def _fill(text, **words):
    # @WORD@ placeholders rather than str.format: the templates' own braces
    # (e.g. ps --format '{pty}') stay as they are
    for k, v in words.items():
        text = text.replace("@%s@" % k.upper(), v)
    return text


def create(name, template=DEFAULT_TEMPLATE, parent=None):
    if not _NAME.match(name):
        raise ScaffoldError("%r is not a usable name: use lower-case letters, digits, '-' and '_', "
                            "starting with a letter or digit (it names build/NAME.elf)" % name)
    if template not in TEMPLATES:
        raise ScaffoldError("no template %r: choose one of %s" % (template, ", ".join(TEMPLATES)))
    if parent is None:
        parent = Path("images") if Path("images").is_dir() else Path(".")
    target = Path(parent) / name
    if target.exists():
        raise ScaffoldError("%s already exists: choose another NAME or remove it" % target)
    words = dict(name=name, template=template, dir=str(target))
    files = {"recipe.toml": (_HERE / "recipe.toml").read_text(),
             "app.py": (_HERE / template / "app.py").read_text()}
    # written beside, then renamed: an interrupted `new` leaves no half-made folder
    Path(parent).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".%s." % name, dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp's 0700 is for secrets, not an app folder
    try:
        for fname, text in files.items():
            (tmp / fname).write_text(_fill(text, **words))
        tmp.rename(target)
    except BaseException:
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
        raise
    return target
