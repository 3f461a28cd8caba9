/*
 * ethox-uk runtime: PVH entry, long mode, descriptor tables, trap stubs.
 *
 * Everything the CPU needs (GDT, TSS, IDT, page tables) is static data laid
 * out at assembly time, so the boot path executes only a few dozen ring-0
 * instructions: on the kvm_pvm hypervisor every ring-0 instruction is
 * emulated (DESIGN §8).  The interpreter then runs in ring 3 with IOPL=3.
 *
 * The .boot section is linked first, at KBASE (the linker script asserts
 * it), so addresses inside it are known constants: KBASE + offset.  That
 * lets the IDT gates and the TSS descriptor, whose address fields are split,
 * be plain assembly-time data.
 */

#include "x86.h"

        .section .note.pvh, "a", @note
        .balign 4
        .long   4                       /* name size: "Xen\0" */
        .long   8                       /* descriptor size: .quad */
        .long   18                      /* XEN_ELFNOTE_PHYS32_ENTRY */
        .asciz  "Xen"
        .balign 4
        .quad   pvh_start32
        .balign 4

        .section .boot, "awx", @progbits
        .globl  boot_start
boot_start:

/* ---- 32-bit PVH entry: flat protected mode, paging off, ebx = start_info */
        .code32
        .globl  pvh_start32
pvh_start32:
        cli
        cmpl    $PVH_MAGIC, (%ebx)
        jne     1f
        movl    %ebx, %esi              /* start_info, handed to ring 3 */
        lgdt    (KBASE + GDT_DESC_OFF)
        movl    $GDT_KDATA, %eax
        movl    %eax, %ds
        movl    %eax, %es
        movl    %eax, %ss
        movl    $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
        movl    %eax, %cr4
        movl    $pml4, %eax
        movl    %eax, %cr3
        movl    $MSR_EFER, %ecx
        movl    $EFER_LME, %eax
        xorl    %edx, %edx
        wrmsr
        movl    $(CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_MP | CR0_PE), %eax
        movl    %eax, %cr0
        ljmp    $GDT_KCODE, $long_entry
1:      hlt                             /* not a PVH start: nothing to do */
        jmp     1b

/* ---- 64-bit, ring 0 */
        .code64
long_entry:
        movq    $kstack_top, %rsp
        movw    $GDT_TSS, %ax
        ltr     %ax
        lidt    (KBASE + IDT_DESC_OFF)
        /* iretq into ring 3: SS, RSP, RFLAGS (IOPL=3, IF=0), CS, RIP */
        pushq   $(GDT_UDATA | 3)
        pushq   $ustack_top
        pushq   $(RFLAGS_IOPL3 | RFLAGS_RSVD1)
        pushq   $(GDT_UCODE | 3)
        pushq   $user_entry
        movl    %esi, %edi              /* umain(start_info) */
        iretq

/* ---- descriptor tables at fixed offsets */
        .org    GDT_OFF
gdt:
        .quad   0                       /* 0x00 null */
        .quad   0x00af9a000000ffff      /* 0x08 kernel code, 64-bit */
        .quad   0x00cf92000000ffff      /* 0x10 kernel data */
        .quad   0x00cff2000000ffff      /* 0x18 user data (DPL 3) */
        .quad   0x00affa000000ffff      /* 0x20 user code, 64-bit (DPL 3) */
        /* 0x28 TSS: 64-bit available TSS, base TSS_ADDR, limit 103 */
        .word   TSS_SIZE - 1
        .word   TSS_ADDR & 0xffff
        .byte   (TSS_ADDR >> 16) & 0xff
        .byte   0x89
        .byte   0
        .byte   (TSS_ADDR >> 24) & 0xff
        .long   0
        .long   0
gdt_end:

        .org    GDT_DESC_OFF
        .word   gdt_end - gdt - 1
        .quad   KBASE + GDT_OFF

        .org    IDT_DESC_OFF
        .word   256 * 16 - 1
        .quad   KBASE + IDT_OFF

        .org    TSS_OFF
        .globl  tss
tss:
        .long   0
        .quad   kstack_top              /* rsp0 */
        .quad   0                       /* rsp1 */
        .quad   0                       /* rsp2 */
        .quad   0
        .quad   0, 0, 0, 0, 0, 0, 0     /* ist1..ist7 */
        .quad   0
        .word   0
        .word   TSS_SIZE                /* I/O map base beyond the limit: no bitmap */

/* IDT: vectors 0..47 have stubs; the rest are not present. */
#define GATE(slot, type) \
        .word   (STUB_ADDR + 16 * (slot)) & 0xffff; \
        .word   GDT_KCODE; \
        .byte   0; \
        .byte   type; \
        .word   ((STUB_ADDR + 16 * (slot)) >> 16) & 0xffff; \
        .long   0; \
        .long   0

        .org    IDT_OFF
idt:
        .set    v, 0
        .rept   48
        GATE(v, 0x8e)
        .set    v, v + 1
        .endr
        .fill   (256 - 48) * 16, 1, 0

/* Trap stubs, 16 bytes each. Exceptions 0-31: push a zero error code unless
 * the CPU pushed one (8, 10-14, 17, 21, 29, 30), push the vector, go to
 * trap_common. The 8259's IRQs (vectors 32-47) take irq_fast instead: under
 * kvm_pvm every ring-0 instruction is emulated (~1 us each), and an IRQ ends
 * every idle halt, so its path is kept to a dozen instructions (the full
 * trap frame and C handler took ~55: ~100 us on each wake-up). */
        .org    STUB_OFF
        .set    v, 0
        .rept   48
        .org    STUB_OFF + 16 * v
        .if     v >= IRQ_VECTOR_BASE
        pushq   %rax
        movl    $(v - IRQ_VECTOR_BASE), %eax
        jmp     irq_fast
        .else
        .if     (v == 8) || (v >= 10 && v <= 14) || (v == 17) || (v == 21) || (v == 29) || (v == 30)
        .else
        pushq   $0
        .endif
        pushq   $v
        jmp     trap_common
        .endif
        .set    v, v + 1
        .endr
        .org    STUB_OFF + 16 * 48

/* IRQ n (in eax; rax saved): note it in irq_pending and irq_count, end it at
 * the 8259 (the slave too for 8-15), return. Flags are restored by iretq. */
irq_fast:
        pushq   %rcx
        movl    %eax, %ecx
        movl    $1, %eax
        shll    %cl, %eax
        lock orl %eax, irq_pending(%rip)
        incl    irq_count(%rip)
        movb    $0x20, %al
        cmpl    $8, %ecx
        jb      1f
        outb    %al, $0xa0
1:      outb    %al, $0x20
        popq    %rcx
        popq    %rax
        iretq

/* Frame layout: struct trapframe in kernel.h. */
trap_common:
        pushq   %rax
        pushq   %rcx
        pushq   %rdx
        pushq   %rsi
        pushq   %rdi
        pushq   %r8
        pushq   %r9
        pushq   %r10
        pushq   %r11
        movq    %rsp, %rdi
        cld
        call    trap
        popq    %r11
        popq    %r10
        popq    %r9
        popq    %r8
        popq    %rdi
        popq    %rsi
        popq    %rdx
        popq    %rcx
        popq    %rax
        addq    $16, %rsp
        iretq

/* ---- ring 3 entry: rsp = ustack_top (16-aligned), rdi = start_info */
        .text
        .globl  user_entry
user_entry:
        call    umain
        ud2

/* ---- identity page tables, 0-4 GiB, with U/S set so ring 3 reaches
 * everything; the first 2 MiB (firmware, start_info; not the image) use
 * 4 KiB pages so that page 0 can be unmapped after boot to catch NULL
 * dereferences; the rest are 2 MiB pages.  The top GiB (MMIO) is uncached. */
        .section .data.pagetables, "aw", @progbits
        .balign 4096
pml4:
        .quad   pdpt + PTE_P + PTE_W + PTE_U
        .fill   511, 8, 0
pdpt:
        .quad   pd0 + PTE_P + PTE_W + PTE_U
        .quad   pd1 + PTE_P + PTE_W + PTE_U
        .quad   pd2 + PTE_P + PTE_W + PTE_U
        .quad   pd3 + PTE_P + PTE_W + PTE_U
        .fill   508, 8, 0
pd0:
        .quad   pt0 + PTE_P + PTE_W + PTE_U
        .set    i, 1
        .rept   511
        .quad   (i << 21) + PTE_P + PTE_W + PTE_U + PTE_PS
        .set    i, i + 1
        .endr
pd1:
        .set    i, 512
        .rept   512
        .quad   (i << 21) + PTE_P + PTE_W + PTE_U + PTE_PS
        .set    i, i + 1
        .endr
pd2:
        .set    i, 1024
        .rept   512
        .quad   (i << 21) + PTE_P + PTE_W + PTE_U + PTE_PS
        .set    i, i + 1
        .endr
pd3:
        .set    i, 1536
        .rept   512
        .quad   (i << 21) + PTE_P + PTE_W + PTE_U + PTE_PS + PTE_PWT + PTE_PCD
        .set    i, i + 1
        .endr
        .globl  pt0
pt0:
        .quad   PTE_P + PTE_W + PTE_U   /* page 0: unmapped by umain() once
                                         * start_info is copied (pvh.bin puts
                                         * it there on pc/q35) */
        .set    i, 1
        .rept   511
        .quad   (i << 12) + PTE_P + PTE_W + PTE_U
        .set    i, i + 1
        .endr

/* ---- stacks (QEMU's loader zeroes .bss) */
        .section .bss.stacks, "aw", @nobits
        .balign 16
        .space  KSTACK_SIZE
        .globl  kstack_top
kstack_top:
        .balign 16
        .globl  ustack_bottom
ustack_bottom:
        .space  USTACK_SIZE
        .globl  ustack_top
ustack_top:

        .section .note.GNU-stack, "", @progbits
