"""Fixtures for host-mode end-to-end tests: `ethox-uk host` in a subprocess, a scapy peer on the
other unix socket, short socket paths under /tmp (sun_path < 100 bytes)."""

import shutil
import tempfile

import pytest
from hostutil import Served


@pytest.fixture
def sockdir():
    d = tempfile.mkdtemp(prefix="exe", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def echo_host():
    """One `ethox-uk host images/echo` for a module's tests; checks a clean stop at the end."""
    d = tempfile.mkdtemp(prefix="exe", dir="/tmp")
    try:
        s = Served(d)
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise
    try:
        yield s
    finally:
        status, out, err = s.close()
        shutil.rmtree(d, ignore_errors=True)
    assert status == 0, err
    assert "internal error" not in err, err
