/*
 * ethox-uk runtime: interrupts and idle.  Interrupts stay masked in ring 3;
 * ethox_halt() asks ring 0 to `sti; hlt; cli` with an optional PIT channel-0
 * one-shot for the deadline; the UART's receive interrupt (IRQ 4) and any IRQ
 * enabled through _ethox wake it.  The Python-level poll hook and the VM hook
 * (Ctrl-C during long computations) live here too: both run on the idle and
 * wake-up paths.
 */
#include <stdint.h>
#include "py/runtime.h"
#include "kernel.h"
#include "uart.h"
#include "ethox.h"
#include "py/mphal.h"

#define LAPIC_BASE  0xfee00000u

static int irq_ready;

int ethox_irq_ready(void) {
    return irq_ready;
}
static uint16_t pic_mask = 0xffff;

/* A list of port writes: one service call when ring-3 port I/O traps
 * (kvm_pvm: ~170 us a trap against ~10 us a write made in ring 0), else
 * plain outb. */
static void outb_list(const uint16_t *l, size_t n) {
    if (io_traps) {
        syscall2(SYS_OUTB_LIST, (uint64_t)(uintptr_t)l, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        outb(l[2 * i], (uint8_t)l[2 * i + 1]);
    }
}

static void pic_write_mask(void) {
    const uint16_t l[] = { 0x21, (uint8_t)pic_mask, 0xa1, (uint8_t)(pic_mask >> 8) };
    outb_list(l, 2);
}

static void irq_init(void) {
    irq_ready = 1;
    pic_mask &= ~((1u << 0) | (1u << 2) | (1u << 4));
    const uint16_t l[] = {
        /* 8259 pair: edge-triggered, vectors 32-47, cascade on IRQ 2 */
        0x20, 0x11, 0xa0, 0x11,
        0x21, IRQ_VECTOR_BASE, 0xa1, IRQ_VECTOR_BASE + 8,
        0x21, 0x04, 0xa1, 0x02,
        0x21, 0x01, 0xa1, 0x01,
        /* PIT channel 0 off the periodic mode firmware left it in: one-shot,
         * reprogrammed by each timed halt */
        0x43, 0x30, 0x40, 0xff, 0x40, 0xff,
        0x21, (uint8_t)pic_mask, 0xa1, (uint8_t)(pic_mask >> 8),
        /* COM1: DTR, RTS, OUT2 (IRQ gate on PCs); interrupt on received data
         * (uart_irq_init) */
        0x3fc, 0x0b, 0x3f9, 0x01,
    };
    outb_list(l, sizeof(l) / sizeof(l[0]) / 2);
    /* Local APIC in virtual-wire mode, so the 8259's output (LINT0, ExtINT)
     * reaches the CPU: QEMU's TCG APIC comes up masked after qboot; KVM's is
     * already set like this.  Spurious vector 47 (handled like IRQ 15). */
    *(volatile uint32_t *)(LAPIC_BASE + 0xf0) = 0x100 | (IRQ_VECTOR_BASE + 15);
    *(volatile uint32_t *)(LAPIC_BASE + 0x350) = 0x700;
}

void ethox_irq_enable(int irq, int on) {
    if (!irq_ready) {
        irq_init();
    }
    if (on) {
        pic_mask &= ~(1u << irq);
        if (irq >= 8) {
            pic_mask &= ~(1u << 2);
        }
    } else {
        pic_mask |= 1u << irq;
    }
    pic_write_mask();
}

uint32_t ethox_irq_take(void) {
    return __atomic_exchange_n(&irq_pending, 0, __ATOMIC_SEQ_CST);
}

static int hook_wait_ms = -1;       /* the poll hook's own deadline, -1 = none */
uint64_t halt_start_us, halt_end_us; /* the last halt (diagnostics: _ethox.last_halt()) */
uint32_t ethox_hook_errors;         /* exceptions the poll hook raised, counted */

void ethox_halt(int timeout_ms) {
    if (!irq_ready) {
        irq_init();
    }
    if (hook_wait_ms >= 0 && (timeout_ms < 0 || hook_wait_ms < timeout_ms)) {
        timeout_ms = hook_wait_ms;
    }
    if (timeout_ms == 0) {
        return;
    }
    uint64_t count = 0;
    if (timeout_ms > 0) {
        count = (uint64_t)timeout_ms * (PIT_HZ / 1000);
        if (count > 0xffff) {
            count = 0xffff;
        }
    }
    halt_start_us = ethox_time_us();
    syscall1(SYS_HALT, count);
    halt_end_us = ethox_time_us();
    if (irq_pending & (1u << 4)) {
        __atomic_fetch_and(&irq_pending, ~(1u << 4), __ATOMIC_SEQ_CST);
        uart_drain();
    }
}

/* MICROPY_INTERNAL_WFE: callers (stdin, select.poll, sleep) have looked at
 * their sources just before; input arriving since is latched by the PIC and
 * ends the halt at once. */
void ethox_wfe(int timeout_ms) {
    ethox_halt(timeout_ms);
}

/* The Python-level poll hook (_ethox.poll_hook): called whenever the
 * interpreter waits (REPL input, select.poll, time.sleep).  Its return value,
 * if an int, caps the next halt in milliseconds.
 *
 * If it raises: KeyboardInterrupt and SystemExit (and any other exception that
 * is not an Exception) go on to the code that was waiting, and the hook stays
 * (a Ctrl-C must not leave the network dead); where nothing could catch them
 * (the REPL's own input wait) they are dropped.  Any other exception is printed
 * and counted; the hook is removed only after HOOK_MAX_FAILS failures in a row
 * (a call that returns resets the count). */
#define HOOK_MAX_FAILS 5
static int in_hook;
static int hook_fails;

void ethox_event_hook(void) {
    mp_obj_t hook = MP_STATE_PORT(ethox_poll_hook);
    if (hook == MP_OBJ_NULL || hook == mp_const_none || in_hook) {
        hook_wait_ms = -1;
        return;
    }
    in_hook = 1;
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t r = mp_call_function_0(hook);
        nlr_pop();
        in_hook = 0;
        hook_fails = 0;
        hook_wait_ms = mp_obj_is_int(r) ? (int)mp_obj_get_int(r) : -1;
        if (hook_wait_ms < -1) {
            hook_wait_ms = 0;
        }
        return;
    }
    in_hook = 0;
    hook_wait_ms = -1;
    mp_obj_t exc = MP_OBJ_FROM_PTR(nlr.ret_val);
    if (!mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(exc)),
                                 MP_OBJ_FROM_PTR(&mp_type_Exception))) {
        if (MP_STATE_THREAD(nlr_top) != NULL) {
            nlr_jump(nlr.ret_val);
        }
        return;
    }
    hook_fails++;
    ethox_hook_errors++;
    if (hook_fails >= HOOK_MAX_FAILS) {
        mp_printf(&mp_plat_print, "ethox-uk: poll hook raised %d times in a row; hook removed\n",
                  hook_fails);
        MP_STATE_PORT(ethox_poll_hook) = MP_OBJ_NULL;
        hook_fails = 0;
    } else {
        mp_printf(&mp_plat_print, "ethox-uk: poll hook raised (kept, %d in a row):\n", hook_fails);
    }
    mp_obj_print_exception(&mp_plat_print, exc);
}

void ethox_hook_reset(void) {
    hook_fails = 0;
    hook_wait_ms = -1;
}

/* Every MICROPY_VM_HOOK_COUNT bytecodes: every ~20 ms look at the UART, so
 * Ctrl-C reaches long computations. */
void ethox_vm_hook(void) {
    static uint64_t next;
    uint64_t now = rdtsc();
    if (now >= next) {
        uint64_t hz = ethox_tsc_hz_known();
        next = now + (hz ? hz / 50 : 50000000);
        uart_drain();
    }
}
