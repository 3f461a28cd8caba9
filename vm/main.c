/*
 * ethox-uk runtime: ring-3 entry and the MicroPython main loop.
 *
 * umain() is entered from boot.S with iretq (ring 3, IOPL=3, interrupts
 * masked) and the physical address of the PVH start_info in rdi.
 *
 * Start-up: copy the command line and memory map out of start_info, switch
 * on the UART FIFO, take the largest usable RAM region above the image as the
 * GC heap, then loop: mp_init, frozen boot.py (always: it mounts the
 * filesystem, starts the network and the app), then as on a board the
 * filesystem's /boot.py (always) and /main.py (friendly REPL mode only), the
 * REPL, and on Ctrl-D a soft reset ("MPY: soft reboot").  Frozen main.py, if
 * an image has one, runs before /main.py.
 *
 * Exit: sys.exit(n) anywhere at top level -> isa-debug-exit 0x10+n; an
 * uncaught exception (but KeyboardInterrupt) in boot.py/main.py, or any in
 * REPL code after _ethox.exit_on_error(True) -> 0x10+1.
 */
#include <stdint.h>
#include <string.h>

#include "py/compile.h"
#include "py/runtime.h"
#include "py/repl.h"
#include "py/gc.h"
#include "py/mphal.h"
#include "py/mperrno.h"
#include "py/stackctrl.h"
#include "py/frozenmod.h"
#include "shared/runtime/pyexec.h"
#include "kernel.h"
#include "uart.h"
#include "ethox.h"

extern char _end[];
extern char ustack_top[];

char ethox_cmdline[ETHOX_CMDLINE_MAX];
struct ethox_memmap_entry ethox_memmap[ETHOX_MEMMAP_MAX];
uint32_t ethox_memmap_entries;
uintptr_t ethox_heap_start, ethox_heap_end;
int ethox_exit_on_error;
static int running_startup;

/* Boot trace: TSC at checkpoints, printed once (before the REPL) when the
 * command line holds the word ethox.trace=1.  Costs a few rdtsc otherwise. */
enum { TR_UMAIN, TR_HEAP, TR_MPINIT, TR_BOOTPY, TR_FIRST_TX, TR_BOOTPY_END, TR_N };
uint64_t ethox_trace[TR_N];
uint32_t trace_traps[TR_N];
#define TRACE(i) (ethox_trace[i] = rdtsc(), trace_traps[i] = io_traps)
static const char *const trace_names[TR_N] = {
    "umain", "heap ready", "mp_init done", "boot.py start", "first console write",
    "boot.py done",
};

static int cmdline_has(const char *word) {
    size_t n = strlen(word);
    for (const char *p = ethox_cmdline; *p;) {
        while (*p == ' ') {
            p++;
        }
        const char *e = p;
        while (*e && *e != ' ') {
            e++;
        }
        if ((size_t)(e - p) == n && memcmp(p, word, n) == 0) {
            return 1;
        }
        p = e;
    }
    return 0;
}

static void trace_print(void) {
    uint64_t hz = ethox_tsc_hz();
    if (!hz) {
        return;
    }
    for (int i = 1; i < TR_N; i++) {
        if (ethox_trace[i]) {
            uint64_t us = (ethox_trace[i] - ethox_trace[TR_UMAIN]) * 1000000 / hz;
            mp_printf(&mp_plat_print, "ethox-uk: trace %s +%u us (port traps %u)\n",
                trace_names[i], (unsigned)us, (unsigned)trace_traps[i]);
        }
    }
}

static void bootinfo_copy(uintptr_t si) {
    if (!si || *(volatile uint32_t *)si != PVH_MAGIC) {
        return;
    }
    const char *cmd = (const char *)*(uint64_t *)(si + 24);
    if (cmd) {
        size_t i = 0;
        for (; i < ETHOX_CMDLINE_MAX - 1 && cmd[i]; i++) {
            ethox_cmdline[i] = cmd[i];
        }
        ethox_cmdline[i] = 0;
    }
    uint64_t mm = *(uint64_t *)(si + 40);
    uint32_t n = *(uint32_t *)(si + 48);
    if (n > ETHOX_MEMMAP_MAX) {
        n = ETHOX_MEMMAP_MAX;
    }
    if (mm) {
        memcpy(ethox_memmap, (const void *)mm, n * sizeof(ethox_memmap[0]));
        ethox_memmap_entries = n;
    }
}

static void heap_find(void) {
    uintptr_t lo = ((uintptr_t)_end + 4095) & ~(uintptr_t)4095;
    uintptr_t best_start = 0, best_end = 0;
    for (uint32_t i = 0; i < ethox_memmap_entries; i++) {
        if (ethox_memmap[i].type != 1) {
            continue;
        }
        uint64_t s = ethox_memmap[i].addr, e = s + ethox_memmap[i].size;
        if (e > 0x100000000ULL) {
            e = 0x100000000ULL;     /* identity map ends at 4 GiB */
        }
        if (s < lo) {
            s = lo;
        }
        e &= ~(uint64_t)4095;
        if (e > s && e - s > best_end - best_start) {
            best_start = s;
            best_end = e;
        }
    }
    if (best_end == best_start) {
        /* no memory map: assume 16 MiB of RAM */
        best_start = lo;
        best_end = 16 << 20;
    }
    ethox_heap_start = best_start;
    ethox_heap_end = best_end;
}

__attribute__((noreturn)) void ethox_exit(int n) {
    if (n < 0 || n > 111) {
        n = 1;
    }
    uart_flush();
    outb(0xf4, (uint8_t)(0x10 + n));
    /* no isa-debug-exit device: reset (QEMU -no-reboot exits with 0) */
    syscall1(SYS_RESET, 0);
    for (;;) {
    }
}

void ethox_after_exec(void *exc, int *ret) {
    (void)ret;
    if (exc == NULL) {
        return;
    }
    mp_obj_t e = MP_OBJ_FROM_PTR(exc);
    const mp_obj_type_t *t = ((mp_obj_base_t *)exc)->type;
    if (mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(t), MP_OBJ_FROM_PTR(&mp_type_SystemExit))) {
        mp_obj_t v = mp_obj_exception_get_value(e);
        int n;
        if (v == mp_const_none) {
            n = 0;
        } else if (mp_obj_is_int(v)) {
            n = (int)mp_obj_get_int(v);
        } else {
            mp_obj_print(v, PRINT_STR);
            mp_hal_stdout_tx_strn("\r\n", 2);
            n = 1;
        }
        ethox_exit(n);
    }
    if (ethox_exit_on_error || (running_startup
                                && !mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(t), MP_OBJ_FROM_PTR(&mp_type_KeyboardInterrupt)))) {
        ethox_exit(1);
    }
}

void gc_collect(void) {
    uintptr_t regs[6];
    __asm__ volatile (
        "mov %%rbx, 0(%0)\n"
        "mov %%rbp, 8(%0)\n"
        "mov %%r12, 16(%0)\n"
        "mov %%r13, 24(%0)\n"
        "mov %%r14, 32(%0)\n"
        "mov %%r15, 40(%0)\n"
        : : "r" (regs) : "memory");
    gc_collect_start();
    gc_collect_root((void **)regs,
        ((uintptr_t)MP_STATE_THREAD(stack_top) - (uintptr_t)regs) / sizeof(uintptr_t));
    gc_collect_end();
}

/* ---- soft-reset writes (see ethox.h): static, they outlive the heap */

static struct {
    uint64_t addr;
    uint32_t value;
    uint8_t width, io;
} reset_writes[ETHOX_RESET_WRITES_MAX];
static size_t n_reset_writes;

int ethox_reset_write_add(uint64_t addr, uint32_t value, int width, int io) {
    size_t i = 0;
    while (i < n_reset_writes && !(reset_writes[i].addr == addr
                                   && reset_writes[i].width == width && reset_writes[i].io == io)) {
        i++;
    }
    if (i == n_reset_writes) {
        if (i == ETHOX_RESET_WRITES_MAX) {
            return -1;
        }
        n_reset_writes++;
    }
    reset_writes[i].addr = addr;
    reset_writes[i].value = value;
    reset_writes[i].width = (uint8_t)width;
    reset_writes[i].io = (uint8_t)io;
    return 0;
}

void ethox_reset_writes_clear(void) {
    n_reset_writes = 0;
}

size_t ethox_reset_writes_count(void) {
    return n_reset_writes;
}

static uint32_t mmio_rw(uint64_t a, int width, int write, uint32_t v) {
    switch (width) {
        case 8:
            if (write) {
                *(volatile uint8_t *)(uintptr_t)a = (uint8_t)v;
            }
            return *(volatile uint8_t *)(uintptr_t)a;
        case 16:
            if (write) {
                *(volatile uint16_t *)(uintptr_t)a = (uint16_t)v;
            }
            return *(volatile uint16_t *)(uintptr_t)a;
        default:
            if (write) {
                *(volatile uint32_t *)(uintptr_t)a = v;
            }
            return *(volatile uint32_t *)(uintptr_t)a;
    }
}

/* Kept registered across soft resets: the device is still there; the next
 * driver start registers the same writes again (replacing them). */
static void reset_writes_run(void) {
    for (size_t i = 0; i < n_reset_writes; i++) {
        uint64_t a = reset_writes[i].addr;
        uint32_t v = reset_writes[i].value;
        int w = reset_writes[i].width;
        if (reset_writes[i].io) {
            if (w == 8) {
                outb((uint16_t)a, (uint8_t)v);
            } else if (w == 16) {
                outw((uint16_t)a, (uint16_t)v);
            } else {
                outl((uint16_t)a, v);
            }
            continue;
        }
        uint32_t mask = w == 8 ? 0xff : w == 16 ? 0xffff : 0xffffffff;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        uint32_t r = mmio_rw(a, w, 1, v);
        for (int k = 0; k < 100 && r != (v & mask); k++) {
            r = mmio_rw(a, w, 0, 0);
        }
    }
}

static void run_startup(const char *name) {
    if (mp_find_frozen_module(name, NULL, NULL) == MP_IMPORT_STAT_FILE) {
        running_startup = 1;
        pyexec_frozen_module(name, true);
        running_startup = 0;
    }
}

void umain(uintptr_t start_info) {
    ethox_trace[TR_UMAIN] = rdtsc();
    memcpy_calibrate();
    bootinfo_copy(start_info);
    /* now unmap page 0: NULL dereferences fault */
    extern volatile uint64_t pt0[];
    pt0[0] = 0;
    syscall1(SYS_INVLPG, 0);
    uart_init();
    heap_find();

    mp_stack_set_top(ustack_top);
    mp_stack_set_limit(USTACK_SIZE - 16 * 1024);
    gc_init((void *)ethox_heap_start, (void *)ethox_heap_end);
    TRACE(TR_HEAP);
    int trace = cmdline_has("ethox.trace=1");

    for (;;) {
        mp_init();
        MP_STATE_PORT(ethox_poll_hook) = MP_OBJ_NULL;
        ethox_exit_on_error = 0;

        if (trace) {
            TRACE(TR_MPINIT);
            uart_trace_tx = &ethox_trace[TR_FIRST_TX];
            uart_trace_traps = &trace_traps[TR_FIRST_TX];
            TRACE(TR_BOOTPY);
        }
        run_startup("boot.py");
        if (trace) {
            TRACE(TR_BOOTPY_END);
            trace_print();
            trace = 0;
        }
        #if MICROPY_VFS
        /* the user's scripts: an exception is printed and the REPL starts (as on a
         * board); sys.exit(n) ends the VM with n */
        pyexec_file_if_exists("/boot.py");
        #endif
        if (pyexec_mode_kind == PYEXEC_MODE_FRIENDLY_REPL) {
            run_startup("main.py");
            #if MICROPY_VFS
            pyexec_file_if_exists("/main.py");
            #endif
        }

        for (;;) {
            if (pyexec_mode_kind == PYEXEC_MODE_RAW_REPL) {
                if (pyexec_raw_repl() != 0) {
                    break;
                }
            } else {
                if (pyexec_friendly_repl() != 0) {
                    break;
                }
            }
        }

        /* stop devices' DMA into the heap first (their buffers are freed now) */
        MP_STATE_PORT(ethox_poll_hook) = MP_OBJ_NULL;
        ethox_hook_reset();
        reset_writes_run();
        mp_printf(&mp_plat_print, "MPY: soft reboot\n");
        gc_sweep_all();
        mp_deinit();
    }
}

#if !MICROPY_VFS
/* no filesystem (the recipe says fs = "0") */
mp_lexer_t *mp_lexer_new_from_file(qstr filename) {
    mp_raise_OSError(MP_ENOENT);
}

mp_obj_t mp_builtin_open(size_t n_args, const mp_obj_t *args, mp_map_t *kwargs) {
    mp_raise_OSError(MP_ENOENT);
}
MP_DEFINE_CONST_FUN_OBJ_KW(mp_builtin_open_obj, 1, mp_builtin_open);

mp_import_stat_t mp_import_stat(const char *path) {
    (void)path;
    return MP_IMPORT_STAT_NO_EXIST;
}
#endif

void nlr_jump_fail(void *val) {
    mp_printf(&mp_plat_print, "ethox-uk: uncaught NLR %p\n", val);
    ethox_exit(1);
}

void NORETURN __fatal_error(const char *msg) {
    mp_printf(&mp_plat_print, "ethox-uk: fatal: %s\n", msg);
    ethox_exit(1);
}

#ifndef NDEBUG
void __assert_func(const char *file, int line, const char *func, const char *expr) {
    mp_printf(&mp_plat_print, "assertion '%s' failed at %s:%d\n", expr, file, line);
    __fatal_error("assertion failed");
}
#endif
