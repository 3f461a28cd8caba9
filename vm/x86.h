/* ethox-uk runtime: x86 constants shared by boot.S and the C code. */
#ifndef ETHOX_X86_H
#define ETHOX_X86_H

#define KBASE           0x200000        /* link address; .boot starts here.  Not
                                         * 1 MiB: the first 2 MiB are mapped with
                                         * 4 KiB pages (for the NULL trap), which
                                         * halves TCG's speed for code and data
                                         * living there */

/* fixed offsets inside .boot (see boot.S) */
#define GDT_OFF         0x400
#define GDT_DESC_OFF    0x480
#define IDT_DESC_OFF    0x490
#define TSS_OFF         0x500
#define TSS_SIZE        104
#define TSS_ADDR        (KBASE + TSS_OFF)
#define IDT_OFF         0x1000
#define STUB_OFF        0x2000
#define STUB_ADDR       (KBASE + STUB_OFF)

#define GDT_KCODE       0x08
#define GDT_KDATA       0x10
#define GDT_UDATA       0x18
#define GDT_UCODE       0x20
#define GDT_TSS         0x28

#define KSTACK_SIZE     (16 * 1024)
#define USTACK_SIZE     (256 * 1024)

#define PVH_MAGIC       0x336ec578

#define CR0_PE          0x00000001
#define CR0_MP          0x00000002
#define CR0_ET          0x00000010
#define CR0_NE          0x00000020
#define CR0_WP          0x00010000
#define CR0_PG          0x80000000
#define CR4_PAE         0x00000020
#define CR4_OSFXSR      0x00000200
#define CR4_OSXMMEXCPT  0x00000400
#define MSR_EFER        0xc0000080
#define EFER_LME        0x00000100

#define RFLAGS_RSVD1    0x00000002
#define RFLAGS_IF       0x00000200
#define RFLAGS_DF       0x00000400
#define RFLAGS_IOPL3    0x00003000

#define PTE_P           0x001
#define PTE_W           0x002
#define PTE_U           0x004
#define PTE_PWT         0x008
#define PTE_PCD         0x010
#define PTE_PS          0x080

/* services: `hlt` from ring 3 (rax = number, rdi/rsi = arguments, result in rax) */
#define SYS_HALT        1       /* rdi = PIT count for a one-shot wake-up, 0 = none */
#define SYS_RESET       2       /* triple fault: QEMU -no-reboot exits with status 0 */
#define SYS_RDMSR       3       /* rdi = msr; returns the value */
#define SYS_WRMSR       4       /* rdi = msr, rsi = value */
#define SYS_INVLPG      5       /* rdi = address */
#define SYS_UART_TX     6       /* rdi = buffer, rsi = length: COM1 output, 16 at a time */
#define SYS_UART_RX     7       /* rdi = buffer, rsi = room: COM1 input; returns the count */
#define SYS_OUTB_LIST   8       /* rdi = uint16_t pairs {port, value}, rsi = count: outb each */

/* PIC vectors */
#define IRQ_VECTOR_BASE 32

#endif
