"""Guest RAM too small for the image (its code, data and filesystem area plus a heap): refused
before QEMU starts with status 2 and the --mem that works, instead of a guest that hangs
without a word (QEMU loads the image past the end of RAM) or dies on its first allocations.
A real image's end is read from its PT_LOAD segments."""

import pytest

from ethox_uk.build import elfinfo
from ethox_uk.qemu import cmdline
from ethox_uk.qemu.options import VmOptions
from ethox_uk.qemu.vm import MIN_HEAP, Vm

MIB = 1 << 20


def info(load_end, memory="64M"):
    return elfinfo.ImageInfo("big.elf", 0, 0, 0, [], {"memory": memory}, [], load_end)


def test_mem_below_the_image_and_a_heap_is_refused_before_qemu():
    vm = Vm(info(18 * MIB + 830 * 1024), VmOptions(accel="tcg", mem="19M"))
    with pytest.raises(cmdline.QemuError) as e:
        vm.start()
    assert e.value.status == 2
    assert "--mem 19M is too small for big.elf" in str(e.value)
    assert "18.8 MiB" in str(e.value) and "give --mem 20M or more" in str(e.value)
    assert vm.proc is None  # QEMU never started


def test_enough_mem_passes_the_check():
    vm = Vm(info(18 * MIB + 830 * 1024), VmOptions(accel="tcg", mem="20M"))
    vm._check_memory()  # no error: 20M holds the image and MIN_HEAP
    assert 18 * MIB + 830 * 1024 + MIN_HEAP <= 20 * MIB


def test_a_real_image_reports_its_load_end(tmp_path):
    # a hand-made minimal ELF would need a PVH note; the checked-in linker script puts the
    # image at 2 MiB, so any built image ends above that (tests/image builds one)
    from pathlib import Path

    elf = Path(__file__).resolve().parent.parent / "build" / "echo.elf"
    if not elf.is_file():
        from ethox_uk.build.image import build

        build(None, str(elf), quiet=True)
    i = elfinfo.check(str(elf))
    assert 2 * MIB < i.load_end < 16 * MIB, hex(i.load_end)
