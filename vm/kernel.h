/* ethox-uk runtime: what ring 3 knows about the ring-0 layer, and the
 * inline port/timer/syscall helpers used by the ring-3 C code. */
#ifndef ETHOX_KERNEL_H
#define ETHOX_KERNEL_H

#include <stdint.h>
#include "x86.h"

/* Frame pushed by boot.S trap_common, lowest address first. */
struct trapframe {
    uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
    uint64_t vec, err;
    uint64_t rip, cs, rflags, rsp, ss;
};

void trap(struct trapframe *f);

/* Written by ring 0 on each IRQ (bit n = IRQ n); ring 3 reads and clears it. */
extern volatile uint32_t irq_pending;
extern volatile uint32_t irq_count;
/* Non-zero once ring 0 has had to perform a ring-3 port access (kvm_pvm). */
extern volatile uint32_t io_traps;

/* Port I/O: direct under TCG/hardware KVM (IOPL=3); a #GP emulated by ring 0
 * under kvm_pvm. */
static inline uint8_t inb(uint16_t port) {
    uint8_t v;
    __asm__ volatile ("inb %w1, %0" : "=a" (v) : "Nd" (port));
    return v;
}
static inline uint16_t inw(uint16_t port) {
    uint16_t v;
    __asm__ volatile ("inw %w1, %0" : "=a" (v) : "Nd" (port));
    return v;
}
static inline uint32_t inl(uint16_t port) {
    uint32_t v;
    __asm__ volatile ("inl %w1, %0" : "=a" (v) : "Nd" (port));
    return v;
}
static inline void outb(uint16_t port, uint8_t v) {
    __asm__ volatile ("outb %0, %w1" : : "a" (v), "Nd" (port));
}
static inline void outw(uint16_t port, uint16_t v) {
    __asm__ volatile ("outw %0, %w1" : : "a" (v), "Nd" (port));
}
static inline void outl(uint16_t port, uint32_t v) {
    __asm__ volatile ("outl %0, %w1" : : "a" (v), "Nd" (port));
}
/* n bytes to one port in a single instruction (one trap under kvm_pvm) */
static inline void outsb(uint16_t port, const void *buf, uint64_t n) {
    __asm__ volatile ("rep outsb" : "+S" (buf), "+c" (n) : "d" (port) : "memory");
}

static inline uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile ("rdtsc" : "=a" (lo), "=d" (hi));
    return ((uint64_t)hi << 32) | lo;
}

/* Service calls: `hlt` in ring 3 raises #GP on every platform (TCG, hardware
 * KVM, kvm_pvm — which does not pass `int $0x80` through), and the ring-0 #GP
 * handler treats it as a call: rax = service, rdi/rsi = arguments. */
static inline uint64_t syscall1(uint64_t n, uint64_t a) {
    __asm__ volatile ("hlt" : "+a" (n) : "D" (a) : "memory");
    return n;
}
static inline uint64_t syscall2(uint64_t n, uint64_t a, uint64_t b) {
    __asm__ volatile ("hlt" : "+a" (n) : "D" (a), "S" (b) : "memory");
    return n;
}

#endif
