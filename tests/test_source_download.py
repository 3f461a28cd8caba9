"""The MicroPython source download (issue 11 item 14): a mirror that sends more than the
pinned tarball, or sends it too slowly, is cut off with a clear error and leaves nothing
behind. No network: a local file:// URL for the real tarball, a fake response otherwise."""

import time

import pytest

from ethox_uk.build import source
from ethox_uk.build.source import TARBALL, TARBALL_SIZE, ToolchainError


class FakeResponse:
    """What urlopen returns, sending `chunk` every `delay` seconds without end."""

    def __init__(self, chunk=b"\0" * 65536, delay=0.0, length=None):
        self.chunk, self.delay, self.sent = chunk, delay, 0
        self.headers = {} if length is None else {"Content-Length": str(length)}

    def read1(self, n):
        if self.sent > 4 * TARBALL_SIZE:  # a client without a cap: end the test, not CI
            raise AssertionError("the client kept reading past %d bytes" % self.sent)
        time.sleep(self.delay)
        self.sent += len(self.chunk)
        return self.chunk[:n]

    read = read1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def serve(monkeypatch, response):
    monkeypatch.setattr(source.urllib.request, "urlopen", lambda url, timeout: response)
    return response


def download_error(tmp_path):
    dest = tmp_path / TARBALL
    with pytest.raises(ToolchainError) as e:
        source._download("http://mirror.invalid/" + TARBALL, dest)
    assert list(tmp_path.iterdir()) == []  # no tarball, no .part left
    return str(e.value)


def test_a_mirror_that_sends_too_much_is_cut_off(monkeypatch, tmp_path):
    r = serve(monkeypatch, FakeResponse())
    msg = download_error(tmp_path)
    assert "sent more than the 5983992 bytes" in msg and "ETHOX_UK_MICROPYTHON_SRC" in msg
    assert r.sent <= TARBALL_SIZE + 65536


def test_a_mirror_that_drips_meets_the_deadline(monkeypatch, tmp_path):
    monkeypatch.setattr(source, "DOWNLOAD_DEADLINE", 1)
    serve(monkeypatch, FakeResponse(chunk=b"\0", delay=0.05))
    t0 = time.monotonic()
    msg = download_error(tmp_path)
    assert time.monotonic() - t0 < 3
    assert "took longer than 1 s" in msg and "of 5983992 bytes" in msg, msg


def test_a_wrong_announced_size_is_refused_before_reading(monkeypatch, tmp_path):
    r = serve(monkeypatch, FakeResponse(length=TARBALL_SIZE * 100))
    msg = download_error(tmp_path)
    assert "announces 598399200 bytes" in msg and r.sent == 0


def test_the_real_tarball_still_downloads(tmp_path):
    cached = source.tarball_path()  # the shared cache's verified copy (no network)
    dest = tmp_path / "out" / TARBALL
    dest.parent.mkdir()
    source._download(cached.as_uri(), dest)
    assert dest.stat().st_size == TARBALL_SIZE
    assert source.file_sha256(dest) == source.SHA256
