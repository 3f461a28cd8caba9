"""`ethox-uk bench --image` runs and produces every key (a smoke test with tiny counts under
TCG; no timing is asserted — the figures themselves belong to the benchmark)."""

import json
from pathlib import Path

import pytest

from ethox_uk.bench import floor
from ethox_uk.bench import image as bench_image
from ethox_uk.qemu.options import VmOptions
from ethox_uk.checksum import inet_checksum

REPO = Path(__file__).resolve().parents[1]


def test_floor_kernel_builds_and_frames_are_well_formed(tmp_path):
    elf = floor.build(tmp_path)
    assert elf.read_bytes()[:4] == b"\x7fELF"
    req = bench_image.echo_request(3)
    assert len(req) == 14 + 20 + 8 + 56
    assert inet_checksum(req[14:34]) == 0 and inet_checksum(req[34:]) == 0
    reply = req[6:12] + req[:6] + req[12:34] + b"\x00" + req[35:]
    assert bench_image.is_echo_reply(reply, 3) and not bench_image.is_echo_reply(reply, 4)


@pytest.fixture(scope="module")
def echo_image():
    from ethox_uk.build import image as image_mod

    return image_mod.build("images/echo", output=REPO / "build" / "test-bench" / "echo.elf",
                           quiet=True)


def test_bench_image_produces_every_key(echo_image, tmp_path, monkeypatch):
    # tiny counts: one run, 3 pings, a short idle window, 256 KiB / 1 s of TCP, a short loop
    monkeypatch.setattr(bench_image, "LOOP_N", 10000)
    monkeypatch.setattr(bench_image, "IDLE_SECONDS", 0.2)
    out = tmp_path / "bench.json"
    rc = bench_image.run_bench(str(echo_image), VmOptions(accel="tcg"), str(out), runs=1,
                               pings=3, idle_seconds=0.2, tcp_bytes=256 << 10, tcp_seconds=1.0)
    doc = json.loads(out.read_text())
    assert doc["accels"] == ["tcg"]
    res, why = doc["results"]["tcg"], doc["unavailable"]["tcg"]
    assert set(res) == set(bench_image.KEYS)
    for k in bench_image.KEYS:
        # every figure is measured, or says why not (e.g. TCP without root/namespaces)
        assert res[k] is not None or why.get(k), k
    for k in ("floor_line_ms", "floor_exit_ms", "banner_ms", "ready_ms", "exec_pass_ms",
              "first_arp_ms", "ping_p50_us", "loop_1m_ms", "image_bytes", "boots_16m"):
        assert res[k] is not None, (k, why.get(k), doc["errors"])
    assert rc in (0, 1)


def test_bench_without_an_assembler_measures_the_rest(echo_image, tmp_path, monkeypatch):
    # the floor kernel needs binutils' as/ld: without them its two figures say why and
    # the image's own figures are still measured (it used to end in a traceback)
    def no_binutils(folder):
        raise floor.FloorError("as not found: install binutils")

    monkeypatch.setattr(floor, "build", no_binutils)
    doc = bench_image.measure(str(echo_image), ["tcg"], runs=1, pings=3, idle_seconds=0.2,
                              tcp_bytes=64 << 10, tcp_seconds=0.5, loop=False)
    res, why = doc["results"]["tcg"], doc["unavailable"]["tcg"]
    for k in ("floor_line_ms", "floor_exit_ms"):
        assert res[k] is None and "install binutils" in why[k], (k, why)
    assert res["banner_ms"] is not None and res["ping_p50_us"] is not None, doc["errors"]
    assert any("floor kernel not built" in e for e in doc["errors"])
