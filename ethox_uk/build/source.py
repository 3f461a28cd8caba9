"""The pinned MicroPython source: fetch, verify, cache, extract (host side, CPython).

The source is Debian's orig tarball of micropython 1.25.0+ds, taken from the pool of
the Debian mirror apt is already configured with (no host name is written here).

    source_dir()     -> Path of the extracted tree (fetched and extracted on first use)
    source_sha256()  -> sha256 of the tarball the tree came from (None for a directory
                        given through ETHOX_UK_MICROPYTHON_SRC)
    cache_dir()      -> $ETHOX_UK_CACHE or ~/.cache/ethox-uk

Environment:
    ETHOX_UK_CACHE              where tarball, extracted tree and build logs live
    ETHOX_UK_MICROPYTHON_SRC    a local tarball (checked against the pinned sha256) or an
                                extracted source directory (used as is, builds happen in it)

Every failure is a ToolchainError whose message is one line the CLI can print.
"""

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

VERSION = "1.25.0"
TARBALL = "micropython_1.25.0+ds.orig.tar.xz"
SHA256 = "7b25be99a502f070b2de81dafc08da7051d992325d6e67daa9045a918fffdbea"
TARBALL_SIZE = 5983992  # bytes: anything longer cannot have the pinned sha256
POOL_PATH = "pool/main/m/micropython/" + TARBALL
TREE_NAME = "micropython-" + VERSION  # the tarball's top directory, and our cache name

ENV_CACHE = "ETHOX_UK_CACHE"
ENV_SRC = "ETHOX_UK_MICROPYTHON_SRC"

DOWNLOAD_TIMEOUT = 60  # seconds a single read may wait for data
DOWNLOAD_DEADLINE = 600  # seconds for the whole download (checked after every read)
CHUNK = 1 << 16


class ToolchainError(Exception):
    """A source or toolchain step failed; str(e) is a one-line message for the user."""


def cache_dir() -> Path:
    d = Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "ethox-uk").expanduser()
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ToolchainError(f"cannot create cache directory {d}: {e} (set {ENV_CACHE})") from e
    return d


@contextlib.contextmanager
def cache_lock(name="source"):
    """Serialise fetch/extract/build between processes sharing one cache."""
    path = cache_dir() / f".{name}.lock"
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- where apt fetches from ----------------------------------------------------------


def _is_security(uri: str) -> bool:
    return "security" in uri


def _uris_from_indextargets() -> list:
    try:
        out = subprocess.run(
            ["apt-get", "indextargets", "--format", "$(REPO_URI)"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def _uris_from_sources_files(root: Path = Path("/etc/apt")) -> list:
    """URIs of `deb` entries in sources.list, sources.list.d/*.list and deb822 *.sources."""
    uris = []
    files = [root / "sources.list"]
    d = root / "sources.list.d"
    if d.is_dir():
        files += sorted(d.iterdir())
    for f in files:
        try:
            text = f.read_text(errors="replace")
        except OSError:
            continue
        if f.name.endswith(".list"):
            for line in text.splitlines():
                line = line.split("#", 1)[0].strip()
                # deb [opt=val ...] URI suite [component ...]
                m = re.match(r"deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+", line)
                if m:
                    uris.append(m.group(1))
        elif f.name.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                key = None
                for line in stanza.splitlines():
                    if line.startswith("#"):
                        continue
                    if line[:1] in (" ", "\t") and key:
                        fields[key] += " " + line.strip()
                        continue
                    if ":" in line:
                        key, val = line.split(":", 1)
                        key = key.strip().lower()
                        fields[key] = val.strip()
                if fields.get("enabled", "yes").lower() == "no":
                    continue
                if "deb" not in fields.get("types", "").split():
                    continue
                uris += fields.get("uris", "").split()
    return uris


def mirror_base() -> str:
    """The Debian archive base URL apt uses (the non-security entry), ending in '/'."""
    for uris in (_uris_from_indextargets(), _uris_from_sources_files()):
        for uri in uris:
            if uri.startswith(("http://", "https://")) and not _is_security(uri):
                return uri if uri.endswith("/") else uri + "/"
    raise ToolchainError(
        "cannot find a Debian mirror in apt's configuration (apt-get indextargets, "
        f"/etc/apt/sources.list*): set {ENV_SRC} to a local {TARBALL} or source directory"
    )


def tarball_url() -> str:
    return mirror_base() + POOL_PATH


# --- fetch, verify, extract ------------------------------------------------------------


def _mismatch(path: Path, actual: str, removed: bool, hint: str) -> ToolchainError:
    what = " (removed)" if removed else ""
    return ToolchainError(
        f"checksum mismatch for {path}{what}: expected sha256 {SHA256}, got {actual}; {hint}"
    )


def _download(url: str, dest: Path) -> None:
    """Download url to dest through a temp file in the same folder; verify; rename."""
    print(f"ethox-uk: downloading {url}", file=sys.stderr)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".download-", suffix=".part")
    tmp = Path(tmp)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as resp:
                    _check_announced_size(url, resp)
                    for chunk in _bounded_chunks(url, resp):
                        h.update(chunk)
                        out.write(chunk)
            except (urllib.error.URLError, OSError) as e:
                raise ToolchainError(
                    f"cannot download {url}: {e}; check the network or set {ENV_SRC} "
                    f"to a local {TARBALL}"
                ) from e
        actual = h.hexdigest()
        if actual != SHA256:
            raise _mismatch(url, actual, True,
                            f"the mirror served a different file; set {ENV_SRC} "
                            f"to a good local {TARBALL}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _check_announced_size(url: str, resp) -> None:
    length = resp.headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) != TARBALL_SIZE:
        raise ToolchainError(
            f"{url} announces {int(length)} bytes, but the pinned {TARBALL} has "
            f"{TARBALL_SIZE}: not the right file; set {ENV_SRC} to a local copy")


def _bounded_chunks(url: str, resp):
    """The body in chunks, cut off (ToolchainError) past TARBALL_SIZE bytes or past
    DOWNLOAD_DEADLINE seconds: a mirror that sends for ever or drips cannot hold the build
    up or fill the disk. read1 returns what one read brings, so a slow mirror is noticed."""
    deadline = time.monotonic() + DOWNLOAD_DEADLINE
    got = 0
    while True:
        chunk = resp.read1(CHUNK)
        if not chunk:
            return
        got += len(chunk)
        if got > TARBALL_SIZE:
            raise ToolchainError(
                f"{url} sent more than the {TARBALL_SIZE} bytes of the pinned {TARBALL}: "
                f"stopped; set {ENV_SRC} to a local copy")
        if time.monotonic() > deadline:
            raise ToolchainError(
                f"downloading {url} took longer than {DOWNLOAD_DEADLINE} s ({got} of "
                f"{TARBALL_SIZE} bytes): stopped; try again, or set {ENV_SRC} to a local "
                f"{TARBALL}")
        yield chunk


def tarball_path() -> Path:
    """A verified copy of the pinned tarball: the override, the cache, or a download."""
    override = os.environ.get(ENV_SRC)
    if override and Path(override).expanduser().is_file():
        p = Path(override).expanduser()
        actual = file_sha256(p)
        if actual != SHA256:
            # The user's own file: name it, leave it where it is.
            raise _mismatch(p, actual, False,
                            f"point {ENV_SRC} at the genuine {TARBALL} or unset it")
        return p
    dest = cache_dir() / TARBALL
    if dest.exists():
        actual = file_sha256(dest)
        if actual == SHA256:
            return dest
        dest.unlink()
        raise _mismatch(dest, actual, True, "run the command again to download it afresh")
    _download(tarball_url(), dest)
    return dest


def _extract(tarball: Path, dest: Path) -> None:
    """Extract into a temp folder next to dest, then rename: dest is whole or absent."""
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".extract-"))
    try:
        try:
            with tarfile.open(tarball, "r:xz") as tf:
                kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tf.extractall(tmp, **kw)
        except (tarfile.TarError, OSError, EOFError) as e:
            raise ToolchainError(f"cannot extract {tarball}: {e}") from e
        top = tmp / TREE_NAME
        if not (top / "py").is_dir():
            raise ToolchainError(f"{tarball} has no {TREE_NAME}/py: not a MicroPython source")
        os.rename(top, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_tree(d: Path) -> Path:
    if not (d / "py" / "mpconfig.h").is_file() or not (d / "ports" / "unix").is_dir():
        raise ToolchainError(
            f"{d} is not a MicroPython source tree (no py/mpconfig.h or ports/unix); "
            f"fix {ENV_SRC} or unset it"
        )
    return d.resolve()


def source_dir() -> Path:
    """The MicroPython source tree, fetched, verified and extracted on first use."""
    override = os.environ.get(ENV_SRC)
    if override:
        p = Path(override).expanduser()
        if p.is_dir():
            return _check_tree(p)
        if not p.is_file():
            raise ToolchainError(f"{ENV_SRC}={override}: no such file or directory")
    # A user's tarball is pinned by the same sha256, so it extracts to the same tree.
    dest = cache_dir() / TREE_NAME
    if dest.is_dir():
        return _check_tree(dest)
    with cache_lock():
        if not dest.is_dir():  # another process may have finished while we waited
            # Leftovers of a process killed mid-way (we hold the lock: nobody uses them).
            for junk in dest.parent.glob(".extract-*"):
                shutil.rmtree(junk, ignore_errors=True)
            for junk in dest.parent.glob(".download-*"):
                junk.unlink(missing_ok=True)
            _extract(tarball_path(), dest)
    return _check_tree(dest)


def source_sha256():
    """sha256 of the tarball the tree comes from; None when the source is a directory."""
    override = os.environ.get(ENV_SRC)
    if override and Path(override).expanduser().is_dir():
        return None
    return SHA256


def main(argv=None) -> int:
    """`python -m ethox_uk.build.source`: print the source directory."""
    try:
        print(source_dir())
    except ToolchainError as e:
        print(f"ethox-uk: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
