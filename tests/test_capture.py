"""--pcap FILE (issue 11 item 11): a ',' is refused before QEMU could read it as an option,
and no writer (QEMU's filter-dump, the host stack's PcapWriter, the relay, the conformance
peer) follows a symlink or overwrites anything but a regular file. The file is opened here
(ethox_uk/capture.py) and QEMU inherits it."""

import os
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ethox_uk.build import image as image_mod
from ethox_uk.capture import check_capture_path, open_capture, open_capture_file
from ethox_uk.qemu import kvm

REPO = Path(__file__).resolve().parent.parent
ACCEL = "kvm" if kvm.usable() else "tcg"
PCAP_MAGIC = struct.pack("<I", 0xA1B2C3D4)
PRECIOUS = b"someone else's file\n"


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "ethox_uk.cli", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def victim(tmp_path):
    v = tmp_path / "victim"
    v.write_bytes(PRECIOUS)
    return v


def test_open_capture_refuses_symlinks_fifos_and_devices(tmp_path, victim):
    link = tmp_path / "link.pcap"
    os.symlink(victim, link)
    with pytest.raises(OSError, match="symlink"):
        open_capture(str(link))
    fifo = tmp_path / "fifo.pcap"
    os.mkfifo(fifo)
    result = []
    t = threading.Thread(target=lambda: result.append(_error_of(open_capture, str(fifo))))
    t.start()
    t.join(5)
    assert not t.is_alive(), "opening a FIFO nobody reads hung"
    assert "FIFO" in result[0]
    with pytest.raises(OSError, match="character device"):
        open_capture("/dev/null")
    assert victim.read_bytes() == PRECIOUS


def _error_of(fn, *args):
    try:
        fn(*args)
    except OSError as e:
        return e.strerror
    return "no error"


def test_open_capture_truncates_a_regular_file(tmp_path):
    f = tmp_path / "old.pcap"
    f.write_bytes(b"x" * 1000)
    with open_capture_file(str(f)) as out:
        out.write(b"new")
    assert f.read_bytes() == b"new"


def test_check_capture_path(tmp_path, victim):
    with pytest.raises(ValueError, match="contains ','"):
        check_capture_path(str(tmp_path / "a,id=x.pcap"))
    os.symlink(victim, tmp_path / "l")
    with pytest.raises(ValueError, match="is a symlink, not a regular file"):
        check_capture_path(str(tmp_path / "l"))
    check_capture_path(str(tmp_path / "new.pcap"))
    check_capture_path(str(victim))  # a regular file is overwritten


@pytest.mark.parametrize("command", ["run", "host"])
def test_cli_refuses_commas_and_symlinks(tmp_path, victim, command):
    target = REPO / "build" / "echo.elf" if command == "run" else REPO / "images" / "echo"
    net = "dgram:%s,%s" % (tmp_path / "g", tmp_path / "p")
    r = cli(command, target, "--net", net, "--pcap", tmp_path / "x.pcap,id=f9")
    assert r.returncode == 2 and "contains ','" in r.stderr, r.stderr
    os.symlink(victim, tmp_path / "trace.pcap")
    r = cli(command, target, "--net", net, "--pcap", tmp_path / "trace.pcap")
    assert r.returncode == 2 and "symlink" in r.stderr and "refusing" in r.stderr, r.stderr
    assert victim.read_bytes() == PRECIOUS


def test_host_writer_never_follows_a_link_planted_after_the_check(tmp_path, victim):
    """The CLI's check and the open are apart in time: the open itself must refuse."""
    from ethox_uk.host.runner import HostError, build_nic
    from ethox_uk.netspec import NetOpts, parse_spec

    pcap = tmp_path / "t.pcap"
    os.symlink(victim, pcap)
    net = NetOpts(parse_spec("dgram:%s,%s" % (tmp_path / "g", tmp_path / "p")),
                  pcap=str(pcap))
    with pytest.raises(HostError, match="symlink"):
        build_nic(net)
    assert victim.read_bytes() == PRECIOUS


@pytest.fixture(scope="module")
def image():
    return image_mod.build("images/echo", output=REPO / "build" / "echo.elf", quiet=True)


def test_qemu_records_into_the_file_we_opened(image, tmp_path):
    pcap = tmp_path / "qemu.pcap"
    pcap.write_bytes(b"stale bytes from an older run" * 100)
    r = cli("exec", image, "print('ok')", "--accel", ACCEL, "--net",
            "dgram:%s,%s" % (tmp_path / "g", tmp_path / "p"), "--pcap", pcap)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr
    data = pcap.read_bytes()
    assert data[:4] == PCAP_MAGIC and b"stale bytes" not in data
