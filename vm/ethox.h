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
void ethox_irq_enable(int irq, int on);
uint32_t ethox_irq_take(void);

#endif
