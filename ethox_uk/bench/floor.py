"""The floor of QEMU itself: a tiny 32-bit PVH ELF that prints one line on COM1 and ends QEMU
through isa-debug-exit (0x10 -> QEMU status 33). `ethox-uk bench --image` builds it with the
GNU assembler and linker (binutils, no C compiler) and boots it with the image's own QEMU
line, so "image − floor" is what the image itself costs.

    path = floor.build(folder)      # folder/floor.elf (rebuilt when the source changes)
"""

import hashlib
import subprocess
from pathlib import Path

LINE = b"ethox-uk floor: hello"
EXIT_STATUS = 33  # isa-debug-exit 0x10: (0x10 << 1) | 1

# PVH: a PT_NOTE with the "Xen" note of type 18 (XEN_ELFNOTE_PHYS32_ENTRY) holding the
# 32-bit entry address; QEMU enters it in 32-bit protected mode, paging off.
_ASM = r"""
    .section .note.xen, "a"
    .p2align 2
    .long 4, 4, 18
    .asciz "Xen"
    .long _start

    .text
    .code32
    .globl _start
_start:
    mov $msg, %esi
    mov $0x3f8, %dx
1:  lodsb
    test %al, %al
    jz 2f
    outb %al, %dx
    jmp 1b
2:  mov $0x10, %al
    mov $0xf4, %dx
    outb %al, %dx
3:  hlt
    jmp 3b

    .section .rodata
msg: .asciz "@LINE@\r\n"
""".replace("@LINE@", LINE.decode())

_LDS = """
ENTRY(_start)
PHDRS { text PT_LOAD FLAGS(5); note PT_NOTE FLAGS(4); }
SECTIONS {
    . = 0x100000;
    .text : { *(.text) *(.rodata) } :text
    .note.xen : { *(.note.xen) } :text :note
    /DISCARD/ : { *(*) }
}
"""


class FloorError(Exception):
    pass


def build(folder):
    """Assemble and link the floor kernel in folder; returns its path (FloorError)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "floor.elf"
    stamp = folder / "floor.sha256"
    digest = hashlib.sha256((_ASM + _LDS).encode()).hexdigest()
    if out.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        return out
    (folder / "floor.S").write_text(_ASM)
    (folder / "floor.lds").write_text(_LDS)
    for argv in (["as", "--32", "-o", str(folder / "floor.o"), str(folder / "floor.S")],
                 ["ld", "-m", "elf_i386", "-nostdlib", "-static", "-z", "max-page-size=4096",
                  "-T", str(folder / "floor.lds"), "-o", str(out), str(folder / "floor.o")]):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        except FileNotFoundError:
            raise FloorError("%s not found: install binutils" % argv[0]) from None
        if r.returncode != 0:
            raise FloorError("%s failed: %s" % (argv[0], (r.stderr or r.stdout).strip()))
    stamp.write_text(digest + "\n")
    return out
