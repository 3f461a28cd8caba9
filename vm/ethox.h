/* ethox-uk runtime: services shared between main.c, mphalport.c and the
 * _ethox module. */
#ifndef ETHOX_H
#define ETHOX_H

#include <stdint.h>
#include <stddef.h>

/* Boot information copied out of PVH start_info before anything else. */
#define ETHOX_CMDLINE_MAX   1024
#define ETHOX_MEMMAP_MAX    32
struct ethox_memmap_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;                  /* 1 = usable RAM (E820 numbering) */
    uint32_t reserved;
};
extern char ethox_cmdline[ETHOX_CMDLINE_MAX];
extern struct ethox_memmap_entry ethox_memmap[ETHOX_MEMMAP_MAX];
extern uint32_t ethox_memmap_entries;
extern uintptr_t ethox_heap_start, ethox_heap_end;

/* Leave QEMU through isa-debug-exit: status 0x10+n (QEMU exits 33+2n). */
__attribute__((noreturn)) void ethox_exit(int n);
extern int ethox_exit_on_error;

void ethox_halt(int timeout_ms);
/* libc.c: memcpy picks rep movsb or 8-byte moves by timing both at boot */
void memcpy_calibrate(void);
int memcpy_uses_words(void);
void ethox_irq_enable(int irq, int on);
uint32_t ethox_irq_take(void);

/* The PIT's input clock (clock.c calibrates against it, irq.c times halts). */
#define PIT_HZ      1193182u

/* Time (clock.c): calibration source 1 kvmclock, 2 cpuid, 3 PIT, 4 guess; the TSC
 * rate once known (0 before the first clock read). */
void ethox_clock_info(uint32_t *source, uint32_t *err_ppm, uint32_t *final);
uint64_t ethox_tsc_hz_known(void);

/* Interrupts (irq.c): set up yet? (the console polls the UART until they are) */
int ethox_irq_ready(void);

/* The poll hook (irq.c): exceptions it raised; reset its state. */
extern uint32_t ethox_hook_errors;
void ethox_hook_reset(void);

/* Writes performed at every soft reset before the heap is freed (main.c), so a
 * device stops DMA into buffers that are about to be freed.  width 8/16/32;
 * io: a port write instead of MMIO (MMIO writes are read back until they read
 * as written, at most 100 times: a virtio status reset completes).  The same
 * (addr, width, io) replaces its value; returns -1 when the table is full. */
#define ETHOX_RESET_WRITES_MAX 8
int ethox_reset_write_add(uint64_t addr, uint32_t value, int width, int io);
void ethox_reset_writes_clear(void);
size_t ethox_reset_writes_count(void);

#endif
