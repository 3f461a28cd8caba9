"""The kernel command line (issue 11 item 14): the runtime keeps 1023 bytes (vm/ethox.h) and
used to cut a longer line short in silence; the host refuses one that would not fit, counting
the word QEMU itself appends on microvm, in every QEMU line it builds and in recipes."""

import re
import time
from pathlib import Path

import pytest

from ethox_uk.build import elfinfo
from ethox_uk.build import image as image_mod
from ethox_uk.build.recipe import (KERNEL_CMDLINE_MAX, QEMU_MMIO_WORD, RecipeError,
                                   load)
from ethox_uk.netspec import NetOpts, parse_spec
from ethox_uk.qemu import cmdline, kvm, rawrepl
from ethox_uk.qemu.options import VmOptions
from ethox_uk.qemu.vm import Console, Vm

REPO = Path(__file__).resolve().parent.parent
ACCEL = "kvm" if kvm.usable() else "tcg"
BASE = "ip=10.0.2.15/24 gw=10.0.2.2"


def words_of(n):
    """Boot words of exactly n bytes: the default address and one long free word."""
    pad = n - len(BASE) - len(" x=")
    return BASE + " x=" + "y" * pad


def test_the_limit_is_the_runtimes_buffer():
    text = (REPO / "vm" / "ethox.h").read_text()
    size = int(re.search(r"#define ETHOX_CMDLINE_MAX\s+(\d+)", text).group(1))
    assert KERNEL_CMDLINE_MAX == size - 1  # and the NUL


def test_every_qemu_line_refuses_what_would_be_cut():
    net = NetOpts(parse_spec("dgram:/tmp/euk-g,/tmp/euk-p"))
    fits = KERNEL_CMDLINE_MAX - len(QEMU_MMIO_WORD)
    cmdline.assemble("i.elf", accel="tcg", net=net, append=words_of(fits))
    with pytest.raises(cmdline.QemuError) as e:
        cmdline.assemble("i.elf", accel="tcg", net=net, append=words_of(fits + 1))
    msg = str(e.value)
    assert e.value.status == 2 and "\n" not in msg
    assert "would be 1024 bytes (987 of boot words + 37 for the word QEMU appends" in msg
    assert "keeps 1023" in msg and "x=yyy" in msg and "(959 bytes)" in msg, msg
    # q35, or microvm without a device: QEMU appends nothing, the whole 1023 are ours
    cmdline.assemble("i.elf", accel="tcg", machine="q35", net=net,
                     append=words_of(KERNEL_CMDLINE_MAX))
    cmdline.assemble("i.elf", accel="tcg", append=words_of(KERNEL_CMDLINE_MAX))
    with pytest.raises(cmdline.QemuError, match="would be 1024 bytes;"):
        cmdline.assemble("i.elf", accel="tcg", append=words_of(KERNEL_CMDLINE_MAX + 1))


def test_a_recipe_cmdline_must_leave_room_for_qemus_word(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / "app.py").write_text("def main(net):\n    pass\n")
    fits = KERNEL_CMDLINE_MAX - len(QEMU_MMIO_WORD)
    (d / "recipe.toml").write_text('name = "r"\ncmdline = "%s"\n' % words_of(fits))
    assert len(load(d).cmdline) == fits
    (d / "recipe.toml").write_text('name = "r"\ncmdline = "%s"\n' % words_of(fits + 1))
    with pytest.raises(RecipeError, match=r"recipe.toml: cmdline: the kernel command line "
                                          r"would be 1024 bytes .*keeps 1023"):
        load(d)


@pytest.fixture(scope="module")
def image():
    return image_mod.build("images/echo", output=REPO / "build" / "echo.elf", quiet=True)


def test_the_longest_line_allowed_reaches_the_guest_whole(image, tmp_path):
    """At the limit nothing is lost: the guest sees 1023 bytes ending in QEMU's word."""
    words = words_of(KERNEL_CMDLINE_MAX - len(QEMU_MMIO_WORD))
    net = NetOpts(parse_spec("dgram:%s,%s" % (tmp_path / "g", tmp_path / "p")))
    vm = Vm(elfinfo.check(image), VmOptions(ACCEL, "microvm"), net, console="socket",
            append=words)
    try:
        vm.start()
        con = Console(vm.console)
        seen = bytearray()
        dl = time.monotonic() + 60
        while not seen.endswith(b">>> ") and time.monotonic() < dl and not con.eof:
            seen += con.read(0.5)
        assert seen.endswith(b">>> "), bytes(seen[-300:])
        repl = rawrepl.RawRepl(con)
        repl.enter(timeout=10.0, interrupt=False)
        out = []
        # the guest checks the line it got against its expected shape (short code)
        pad = len(words) - len(BASE) - len(" x=")
        repl.exec(b"import _ethox\nc = _ethox.cmdline()\n"
                  b"print(len(c), c == '%s x=' + 'y' * %d + '%s')"
                  % (BASE.encode(), pad, QEMU_MMIO_WORD.encode()), out.append, out.append)
        assert b"".join(out).strip() == b"1023 True", out
    finally:
        vm.close()


def test_inspect_of_an_image_whose_line_cannot_fit_says_so():
    """An image built elsewhere may carry any cmdline: `inspect` names the problem in its
    qemu line instead of failing."""
    from ethox_uk.cli.image import _plain_qemu

    info = elfinfo.ImageInfo("old.elf", 0, 0, 0, [], {"cmdline": words_of(2000)}, [])
    text = _plain_qemu(info)
    assert text.startswith("qemu                none: the kernel command line would be 2037")
    assert "\n" not in text
