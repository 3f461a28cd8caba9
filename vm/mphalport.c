/*
 * ethox-uk runtime: MicroPython HAL — console, time, idle.
 *
 * Time: the TSC, calibrated against PIT channel 1 (free-running, rate
 * generator) on first use: ~10 ms at first, refined once over a longer span
 * a few seconds later (the clock is rebased then, so it never jumps back).
 *
 * Idle: interrupts stay masked in ring 3.  ethox_wfe() asks ring 0 to
 * `sti; hlt; cli` with an optional PIT channel-0 one-shot for the deadline;
 * the UART's receive interrupt (IRQ 4) and any IRQ enabled through _ethox
 * wake it.
 */
#include <stdint.h>
#include "py/mphal.h"
#include "py/runtime.h"
#include "py/stream.h"
#include "kernel.h"
#include "uart.h"
#include "ethox.h"

#define PIT_HZ      1193182u
#define LAPIC_BASE  0xfee00000u

/* ---- time */

static uint64_t tsc_hz;             /* 0 until calibrated */
static uint64_t us_mul;             /* us = (dtsc * us_mul) >> 40 */
static uint64_t base_tsc, base_us;  /* time_us = base_us + scaled(tsc - base_tsc) */
static uint64_t cal_tsc;            /* first calibration sample, for the refinement */
static uint16_t cal_count;
static int cal_refined;

static uint16_t pit1_read(uint64_t *tsc) {
    *tsc = rdtsc();
    outb(0x43, 0x40);               /* latch channel 1 */
    uint8_t lo = inb(0x41);
    uint8_t hi = inb(0x41);
    return (uint16_t)(lo | (hi << 8));
}

static void set_hz(uint64_t hz, uint64_t now_tsc) {
    if (tsc_hz) {
        /* rebase: keep time continuous across the change of rate */
        base_us += (uint64_t)(((unsigned __int128)(now_tsc - base_tsc) * us_mul) >> 40);
        base_tsc = now_tsc;
    }
    tsc_hz = hz;
    us_mul = (uint64_t)(((unsigned __int128)1000000 << 40) / hz);
}

static void tsc_calibrate(void) {
    /* channel 1: lobyte/hibyte, mode 2, count 65536 */
    outb(0x43, 0x74);
    outb(0x41, 0);
    outb(0x41, 0);
    uint64_t t0, t1;
    uint16_t c0 = pit1_read(&t0), c1;
    unsigned guard = 0;
    do {
        c1 = pit1_read(&t1);
    } while ((uint16_t)(c0 - c1) < PIT_HZ / 100 && ++guard < 1000000);
    uint16_t counts = (uint16_t)(c0 - c1);
    uint64_t hz = counts ? (t1 - t0) * (uint64_t)PIT_HZ / counts : 0;
    if (hz < 10000000) {
        hz = 2000000000;            /* no usable PIT: guess, rather than divide by zero */
        cal_refined = 1;
    }
    cal_tsc = t0;
    cal_count = c0;
    base_tsc = t0;
    base_us = 0;
    set_hz(hz, t0);
}

static void tsc_refine(uint64_t now) {
    /* once, 2-20 s after the first calibration: count PIT wraps with the
     * rough rate, then take the rate over the whole span */
    uint64_t span = now - cal_tsc;
    if (cal_refined || span < 2 * tsc_hz || span > 20 * tsc_hz) {
        if (span > 20 * tsc_hz) {
            cal_refined = 1;
        }
        return;
    }
    cal_refined = 1;
    uint64_t t;
    uint16_t c = pit1_read(&t);
    uint64_t est = (uint64_t)(((unsigned __int128)(t - cal_tsc) * PIT_HZ) / tsc_hz);
    uint64_t part = (uint16_t)(cal_count - c);
    uint64_t wraps = (est - part + 32768) / 65536;
    uint64_t counts = wraps * 65536 + part;
    if (counts) {
        uint64_t hz = (uint64_t)(((unsigned __int128)(t - cal_tsc) * PIT_HZ) / counts);
        /* accept only a small correction */
        if (hz > tsc_hz - tsc_hz / 50 && hz < tsc_hz + tsc_hz / 50) {
            set_hz(hz, t);
        }
    }
}

uint64_t ethox_time_us(void) {
    uint64_t now = rdtsc();
    if (!tsc_hz) {
        tsc_calibrate();
        now = rdtsc();
    } else if (!cal_refined) {
        tsc_refine(now);
        now = rdtsc();
    }
    return base_us + (uint64_t)(((unsigned __int128)(now - base_tsc) * us_mul) >> 40);
}

uint64_t ethox_tsc_hz(void) {
    if (!tsc_hz) {
        ethox_time_us();
    }
    return tsc_hz;
}

mp_uint_t mp_hal_ticks_us(void) {
    return (mp_uint_t)ethox_time_us();
}

mp_uint_t mp_hal_ticks_ms(void) {
    return (mp_uint_t)(ethox_time_us() / 1000);
}

mp_uint_t mp_hal_ticks_cpu(void) {
    return (mp_uint_t)rdtsc();
}

void mp_hal_delay_us(mp_uint_t us) {
    uint64_t end = ethox_time_us() + us;
    while (ethox_time_us() < end) {
        __asm__ volatile ("pause");
    }
}

void mp_hal_delay_ms(mp_uint_t ms) {
    uint64_t end = ethox_time_us() + (uint64_t)ms * 1000;
    for (;;) {
        uint64_t now = ethox_time_us();
        if (now >= end) {
            break;
        }
        uint64_t left = end - now;
        if (left < 1000) {
            mp_hal_delay_us((mp_uint_t)left);
            break;
        }
        mp_event_wait_ms((mp_uint_t)(left / 1000));
    }
}

uint32_t ethox_random_seed(void) {
    uint64_t t = rdtsc();
    return (uint32_t)(t ^ (t >> 32));
}

/* ---- interrupts and idle */

static int irq_ready;
static uint16_t pic_mask = 0xffff;

static void pic_write_mask(void) {
    outb(0x21, (uint8_t)pic_mask);
    outb(0xa1, (uint8_t)(pic_mask >> 8));
}

static void irq_init(void) {
    irq_ready = 1;
    /* 8259 pair: edge-triggered, vectors 32-47, cascade on IRQ 2 */
    outb(0x20, 0x11);
    outb(0xa0, 0x11);
    outb(0x21, IRQ_VECTOR_BASE);
    outb(0xa1, IRQ_VECTOR_BASE + 8);
    outb(0x21, 0x04);
    outb(0xa1, 0x02);
    outb(0x21, 0x01);
    outb(0xa1, 0x01);
    /* PIT channel 0 off the periodic mode firmware left it in: one-shot,
     * reprogrammed by each timed halt */
    outb(0x43, 0x30);
    outb(0x40, 0xff);
    outb(0x40, 0xff);
    pic_mask &= ~((1u << 0) | (1u << 2) | (1u << 4));
    pic_write_mask();
    /* Local APIC in virtual-wire mode, so the 8259's output (LINT0, ExtINT)
     * reaches the CPU: QEMU's TCG APIC comes up masked after qboot; KVM's is
     * already set like this.  Spurious vector 47 (handled like IRQ 15). */
    *(volatile uint32_t *)(LAPIC_BASE + 0xf0) = 0x100 | (IRQ_VECTOR_BASE + 15);
    *(volatile uint32_t *)(LAPIC_BASE + 0x350) = 0x700;
    uart_irq_init();
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
    syscall1(SYS_HALT, count);
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
 * if an int, caps the next halt in milliseconds. */
static int in_hook;

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
        hook_wait_ms = mp_obj_is_int(r) ? (int)mp_obj_get_int(r) : -1;
        if (hook_wait_ms < -1) {
            hook_wait_ms = 0;
        }
    } else {
        mp_printf(&mp_plat_print, "ethox-uk: poll hook raised; hook removed\n");
        mp_obj_print_exception(&mp_plat_print, MP_OBJ_FROM_PTR(nlr.ret_val));
        MP_STATE_PORT(ethox_poll_hook) = MP_OBJ_NULL;
        hook_wait_ms = -1;
    }
    in_hook = 0;
}

/* Every MICROPY_VM_HOOK_COUNT bytecodes: every ~20 ms look at the UART, so
 * Ctrl-C reaches long computations. */
void ethox_vm_hook(void) {
    static uint64_t next;
    uint64_t now = rdtsc();
    if (now >= next) {
        next = now + (tsc_hz ? tsc_hz / 50 : 50000000);
        uart_drain();
    }
}

/* ---- console */

int mp_hal_stdin_rx_chr(void) {
    for (;;) {
        int c = uart_rx_get();
        if (c >= 0) {
            return c;
        }
        uart_drain();
        c = uart_rx_get();
        if (c >= 0) {
            return c;
        }
        mp_event_wait_indefinite();
    }
}

mp_uint_t mp_hal_stdout_tx_strn(const char *str, size_t len) {
    uart_write(str, len);
    return len;
}

uintptr_t mp_hal_stdio_poll(uintptr_t poll_flags) {
    uintptr_t ret = 0;
    if (poll_flags & MP_STREAM_POLL_RD) {
        if (!uart_rx_available()) {
            uart_drain();
        }
        if (uart_rx_available()) {
            ret |= MP_STREAM_POLL_RD;
        }
    }
    if (poll_flags & MP_STREAM_POLL_WR) {
        ret |= MP_STREAM_POLL_WR;
    }
    return ret;
}

MP_REGISTER_ROOT_POINTER(mp_obj_t ethox_poll_hook);
