/*
 * ethox-uk runtime: the ring-0 service layer.
 *
 * Kept tiny on purpose: under kvm_pvm every ring-0 instruction is emulated
 * (DESIGN §8).  Built with -mgeneral-regs-only: the interpreter's SSE state
 * in ring 3 is never touched here, so traps need not save it.
 *
 * Services:
 *   #GP from ring 3 on in/out/ins/outs  -> perform the port access, skip it
 *       (kvm_pvm ignores IOPL; under TCG and hardware KVM IOPL=3 lets ring 3
 *       do port I/O directly and this path is never taken);
 *   #GP from ring 3 on `hlt`            -> a service call (rax = number):
 *       halt until an interrupt (with an optional PIT one-shot), COM1 output
 *       and input in batches, MSR access, invlpg, reset.  (kvm_pvm turns `int $0x80` from ring 3 into #UD,
 *       but forwards #GP faithfully);
 *   IRQ 0-15 (8259 PIC at vectors 32-47) -> note it in irq_pending, EOI
 *       (in assembly: boot.S's irq_fast);
 *   anything else                      -> report on COM1, triple fault.
 */
#include <stdint.h>
#include "x86.h"
#include "kernel.h"

volatile uint32_t irq_pending;      /* set by irq_fast (boot.S) */
volatile uint32_t irq_count;
volatile uint32_t io_traps;         /* port accesses emulated for ring 3 */

static inline void outb0(uint16_t port, uint8_t v) {
    __asm__ volatile ("outb %0, %1" : : "a" (v), "Nd" (port));
}

static inline uint8_t inb0(uint16_t port) {
    uint8_t v;
    __asm__ volatile ("inb %1, %0" : "=a" (v) : "Nd" (port));
    return v;
}

/* COM1 in batches, for when each ring-3 port access is a trap (~100 us under
 * kvm_pvm; a port access from ring 0 costs ~10 us there). */
static void uart_tx0(const uint8_t *p, uint64_t n) {
    while (n) {
        for (unsigned i = 0; !(inb0(0x3fd) & 0x20) && i < 100000; i++) {
        }
        uint64_t c = n < 16 ? n : 16;
        n -= c;
        __asm__ volatile ("rep outsb" : "+S" (p), "+c" (c) : "d" ((uint16_t)0x3f8) : "memory");
    }
}

static uint64_t uart_rx0(uint8_t *p, uint64_t room) {
    uint64_t n = 0;
    while (n < room && (inb0(0x3fd) & 1)) {
        p[n++] = inb0(0x3f8);
    }
    return n;
}

static int emulate_io(struct trapframe *f) {
    const uint8_t *ip = (const uint8_t *)f->rip;
    int op16 = 0, rep = 0, n = 0;
    uint8_t op;
    for (;;) {
        op = ip[n];
        if (op == 0x66) {
            op16 = 1;
        } else if (op == 0xf3) {
            rep = 1;
        } else {
            break;
        }
        if (++n > 4) {
            return 0;
        }
    }
    n++;
    io_traps++;
    uint16_t port;
    switch (op) {
        case 0xe4: case 0xe5: case 0xe6: case 0xe7:
            port = ip[n++];
            break;
        case 0xec: case 0xed: case 0xee: case 0xef:
        case 0x6c: case 0x6d: case 0x6e: case 0x6f:
            port = (uint16_t)f->rdx;
            break;
        default:
            return 0;
    }
    switch (op) {
        case 0xe4: case 0xec: {
            uint8_t v;
            __asm__ volatile ("inb %1, %0" : "=a" (v) : "d" (port));
            f->rax = (f->rax & ~0xffULL) | v;
            break;
        }
        case 0xe5: case 0xed:
            if (op16) {
                uint16_t v;
                __asm__ volatile ("inw %1, %0" : "=a" (v) : "d" (port));
                f->rax = (f->rax & ~0xffffULL) | v;
            } else {
                uint32_t v;
                __asm__ volatile ("inl %1, %0" : "=a" (v) : "d" (port));
                f->rax = v;
            }
            break;
        case 0xe6: case 0xee:
            __asm__ volatile ("outb %0, %1" : : "a" ((uint8_t)f->rax), "d" (port));
            break;
        case 0xe7: case 0xef:
            if (op16) {
                __asm__ volatile ("outw %0, %1" : : "a" ((uint16_t)f->rax), "d" (port));
            } else {
                __asm__ volatile ("outl %0, %1" : : "a" ((uint32_t)f->rax), "d" (port));
            }
            break;
        default: {
            /* string forms, byte or word/dword, forward direction only */
            if (f->rflags & RFLAGS_DF) {
                return 0;
            }
            uint64_t count = rep ? f->rcx : 1;
            int size = (op & 1) ? (op16 ? 2 : 4) : 1;
            if (op == 0x6e || op == 0x6f) {
                const uint8_t *src = (const uint8_t *)f->rsi;
                if (size == 1) {
                    __asm__ volatile ("rep outsb" : "+S" (src), "+c" (count) : "d" (port) : "memory");
                } else if (size == 2) {
                    __asm__ volatile ("rep outsw" : "+S" (src), "+c" (count) : "d" (port) : "memory");
                } else {
                    __asm__ volatile ("rep outsl" : "+S" (src), "+c" (count) : "d" (port) : "memory");
                }
                f->rsi = (uint64_t)src;
            } else {
                uint8_t *dst = (uint8_t *)f->rdi;
                if (size == 1) {
                    __asm__ volatile ("rep insb" : "+D" (dst), "+c" (count) : "d" (port) : "memory");
                } else if (size == 2) {
                    __asm__ volatile ("rep insw" : "+D" (dst), "+c" (count) : "d" (port) : "memory");
                } else {
                    __asm__ volatile ("rep insl" : "+D" (dst), "+c" (count) : "d" (port) : "memory");
                }
                f->rdi = (uint64_t)dst;
            }
            if (rep) {
                f->rcx = 0;
            }
            break;
        }
    }
    f->rip += n;
    return 1;
}

static void put0(const char *s) {
    while (*s) {
        outb0(0x3f8, (uint8_t)*s++);
    }
}

static void hex0(uint64_t v) {
    char b[19];
    b[0] = '0';
    b[1] = 'x';
    for (int i = 0; i < 16; i++) {
        b[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
    }
    b[18] = 0;
    put0(b);
}

/* Triple fault: an empty IDT, then touch the unmapped page 0.  (kvm_pvm's
 * instruction emulator cannot execute int3 in ring 0, but it raises the
 * page fault.)  QEMU with -no-reboot then exits with status 0. */
__attribute__((noreturn)) static void reset0(void) {
    static const struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } null_idt = { 0, 0 };
    __asm__ volatile ("lidt %0; movl 0, %%eax" : : "m" (null_idt) : "eax", "memory");
    for (;;) {
        __asm__ volatile ("cli; hlt");
    }
}

__attribute__((noreturn)) static void fatal(struct trapframe *f) {
    uint64_t cr2;
    __asm__ volatile ("mov %%cr2, %0" : "=r" (cr2));
    put0("\r\nethox-uk: fatal CPU exception ");
    hex0(f->vec);
    put0(" err=");
    hex0(f->err);
    put0(" rip=");
    hex0(f->rip);
    put0(" cs=");
    hex0(f->cs);
    put0(" rsp=");
    hex0(f->rsp);
    put0(" cr2=");
    hex0(cr2);
    put0("\r\n");
    reset0();
}

static void syscall0(struct trapframe *f) {
    switch (f->rax) {
        case SYS_HALT:
            if (f->rdi) {
                /* PIT channel 0, lobyte/hibyte, mode 0 (interrupt on terminal count) */
                outb0(0x43, 0x30);
                outb0(0x40, (uint8_t)f->rdi);
                outb0(0x40, (uint8_t)(f->rdi >> 8));
            }
            __asm__ volatile ("sti; hlt; cli" : : : "memory");
            f->rax = 0;
            return;
        case SYS_RDMSR: {
            uint32_t lo, hi;
            __asm__ volatile ("rdmsr" : "=a" (lo), "=d" (hi) : "c" ((uint32_t)f->rdi));
            f->rax = ((uint64_t)hi << 32) | lo;
            return;
        }
        case SYS_WRMSR:
            __asm__ volatile ("wrmsr" : : "c" ((uint32_t)f->rdi), "a" ((uint32_t)f->rsi),
                "d" ((uint32_t)(f->rsi >> 32)));
            f->rax = 0;
            return;
        case SYS_UART_TX:
            uart_tx0((const uint8_t *)f->rdi, f->rsi);
            f->rax = 0;
            return;
        case SYS_UART_RX:
            f->rax = uart_rx0((uint8_t *)f->rdi, f->rsi);
            return;
        case SYS_OUTB_LIST: {
            const uint16_t *l = (const uint16_t *)f->rdi;
            for (uint64_t i = 0; i < f->rsi; i++) {
                outb0(l[2 * i], (uint8_t)l[2 * i + 1]);
            }
            f->rax = 0;
            return;
        }
        case SYS_INVLPG:
            __asm__ volatile ("invlpg (%0)" : : "r" (f->rdi) : "memory");
            f->rax = 0;
            return;
        case SYS_RESET:
            reset0();
        default:
            f->rax = (uint64_t)-1;
            return;
    }
}

void trap(struct trapframe *f) {
    uint64_t vec = f->vec;
    if (vec >= IRQ_VECTOR_BASE && vec < IRQ_VECTOR_BASE + 16) {
        /* not reached: boot.S's irq_fast takes vectors 32-47 */
        uint32_t irq = (uint32_t)(vec - IRQ_VECTOR_BASE);
        irq_pending |= 1u << irq;
        irq_count++;
        if (irq >= 8) {
            outb0(0xa0, 0x20);
        }
        outb0(0x20, 0x20);
        return;
    }
    if (vec == 13 && (f->cs & 3) == 3 && f->err == 0) {
        if (*(const uint8_t *)f->rip == 0xf4) {
            f->rip += 1;
            syscall0(f);
            return;
        }
        if (emulate_io(f)) {
            return;
        }
    }
    fatal(f);
}
