"""The recipe's `features` (ipv6, dhcp, dns) and `fs`: an image built with none of them is
the IPv4 stack alone and fits the 512 KiB budget (DESIGN §4) -- the services still answer --
and asking such an image for a part it lacks is a clear error, never a traceback."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ethox_uk.build import image as image_mod
from ethox_uk.qemu import kvm

REPO = Path(__file__).resolve().parents[2]
ACCEL = "kvm" if kvm.usable() else "tcg"
BUDGET = 512 * 1024


@pytest.fixture(scope="module")
def lean(tmp_path_factory):
    d = tmp_path_factory.mktemp("lean")
    shutil.copy(REPO / "images" / "echo" / "app.py", d / "app.py")
    (d / "recipe.toml").write_text('name = "lean"\nfs = "0"\nfeatures = []\n'
                                   'cmdline = "ip=10.0.2.15/24 gw=10.0.2.2"\n')
    return image_mod.build(str(d), output=REPO / "build" / "test-features" / "lean.elf",
                           quiet=True)


def stripped_size(elf, tmp_path):
    out = tmp_path / "s.elf"
    subprocess.run(["strip", "-o", str(out), str(elf)], check=True)
    return out.stat().st_size


def eu(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "ethox_uk.cli"] + [str(a) for a in args],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)


def test_the_ipv4_only_image_fits_the_budget(lean, tmp_path):
    size = stripped_size(lean, tmp_path)
    assert size <= BUDGET, "stripped %d bytes: %d over 512 KiB" % (size, size - BUDGET)
    r = eu("inspect", lean, "--json")
    assert r.returncode == 0, r.stderr
    mods = json.loads(r.stdout)["frozen_modules"]
    assert "ethox_uk.stack.layer.ip" in mods and "ethox_uk.stack.socket" in mods
    for gone in ("ethox_uk.stack.layer.ip6", "ethox_uk.stack.dhcp", "ethox_uk.stack.resolver"):
        assert gone not in mods, gone


def test_the_lean_image_serves_and_says_what_it_lacks(lean):
    code = ("import socket\n"
            "print(net.ip6 is None, net.config.ready_line())\n"
            "try:\n"
            "    socket.getaddrinfo('example.com', 80)\n"
            "except OSError as e:\n"
            "    print(e.args[0], e.args[1])\n")
    r = eu("exec", lean, code, "--accel", ACCEL)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "True ethox-uk: ready ip=10.0.2.15 mac=52:54:00:12:34:56", lines
    assert lines[1].startswith("-4 ") and 'leave out "dns"' in lines[1], lines


def test_asking_a_lean_image_for_dhcp_is_a_bad_boot_word(lean):
    r = eu("exec", lean, "print(1)", "--accel", ACCEL, "--ip", "dhcp")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert 'leave out "dhcp"' in r.stdout + r.stderr
