/*
 * ethox-uk runtime: MicroPython HAL — console, time, idle.
 *
 * Time: the TSC; its rate from KVM's pvclock, CPUID or a short PIT window on
 * first use, then refined in stages against PIT channel 1 (see below).
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

/*
 * First calibration (on the first clock read, which pyexec makes before
 * boot.py): the TSC rate from KVM's paravirtual clock when the hypervisor
 * offers one (CPUID 0x40000000 "KVMKVMKVM", kvmclock2: one WRMSR, no port
 * access), else from CPUID leaf 0x15/0x16, else a short PIT channel-1 window
 * (>= 2 ms, longer only while the port-access jitter is above 0.2 %, at most
 * 12 ms).  Then, on later clock reads, refinement stages against PIT channel 1
 * over growing spans from one anchor sample (0.2 s, then x8 each stage): PIT
 * wraps (55 ms) are counted with the current rate, so a stage runs only when
 * its span is short enough for the current error; otherwise the anchor is
 * taken again.  Each accepted stage rebases the clock, so it never jumps back.
 * Stops once the error estimate is below 20 ppm.
 */
static uint64_t tsc_hz;             /* 0 until calibrated */
static uint64_t us_mul;             /* us = (dtsc * us_mul) >> 40 */
static uint64_t base_tsc, base_us;  /* time_us = base_us + scaled(tsc - base_tsc) */
static uint32_t err_ppm;            /* estimated relative error of tsc_hz */
static int cal_final;               /* no more refinement */
static int pit1_on;                 /* PIT channel 1 programmed (free-running) */
static int have_anchor;
static uint64_t ref_tsc, ref_unc;   /* the anchor sample: TSC, its uncertainty */
static uint16_t ref_count;
static uint64_t refine_at;          /* TSC of the next refinement stage */
static uint8_t cal_source;          /* 1 kvmclock, 2 cpuid, 3 PIT, 4 guess */

static void pit1_start(void) {
    /* channel 1: lobyte/hibyte, mode 2 (rate generator), count 65536 */
    outb(0x43, 0x74);
    outb(0x41, 0);
    outb(0x41, 0);
    pit1_on = 1;
}

/* Latch and read PIT channel 1; *tsc = the middle of the latch access,
 * *unc = half its duration (a VM exit: ~100 us under kvm_pvm). */
static uint16_t pit1_read(uint64_t *tsc, uint64_t *unc) {
    uint64_t a = rdtsc();
    outb(0x43, 0x40);               /* latch channel 1 */
    uint64_t b = rdtsc();
    uint8_t lo = inb(0x41);
    uint8_t hi = inb(0x41);
    *tsc = a + (b - a) / 2;
    *unc = (b - a) / 2 + 1;
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

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    __asm__ volatile ("cpuid" : "=a" (r[0]), "=b" (r[1]), "=c" (r[2]), "=d" (r[3])
                      : "a" (leaf), "c" (sub));
}

#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u

/* struct pvclock_vcpu_time_info */
static struct {
    uint32_t version, pad0;
    uint64_t tsc_timestamp, system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags, pad[2];
} __attribute__((aligned(64))) pvclock;

static uint64_t hz_from_kvmclock(void) {
    uint32_t r[4];
    cpuid(0x40000000, 0, r);
    if (r[1] != 0x4b4d564b || r[2] != 0x564b4d56 || r[3] != 0x4d || r[0] < 0x40000001) {
        return 0;                   /* not "KVMKVMKVM\0\0\0" */
    }
    cpuid(0x40000001, 0, r);
    if (!(r[0] & (1u << 3))) {      /* KVM_FEATURE_CLOCKSOURCE2 */
        return 0;
    }
    syscall2(SYS_WRMSR, MSR_KVM_SYSTEM_TIME_NEW, (uintptr_t)&pvclock | 1);
    uint32_t v, mul;
    int shift;
    int tries = 0;
    do {
        v = __atomic_load_n(&pvclock.version, __ATOMIC_ACQUIRE);
        mul = pvclock.tsc_to_system_mul;
        shift = pvclock.tsc_shift;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while (((v & 1) || v != pvclock.version) && ++tries < 1000);
    syscall2(SYS_WRMSR, MSR_KVM_SYSTEM_TIME_NEW, 0);   /* the rate is all we need */
    if (!mul || shift < -31 || shift > 31) {
        return 0;
    }
    /* ns = ((tsc << shift) * mul) >> 32  =>  hz = 1e9 * 2^32 / mul / 2^shift */
    unsigned __int128 hz = ((unsigned __int128)1000000000 << 32) / mul;
    hz = shift >= 0 ? hz >> shift : hz << -shift;
    return (uint64_t)hz;
}

static uint64_t hz_from_cpuid(void) {
    uint32_t r[4];
    cpuid(0, 0, r);
    uint32_t max = r[0];
    if (max >= 0x15) {
        cpuid(0x15, 0, r);          /* TSC/crystal ratio ebx/eax, crystal Hz ecx */
        if (r[0] && r[1] && r[2]) {
            return (uint64_t)r[2] * r[1] / r[0];
        }
    }
    if (max >= 0x16) {
        cpuid(0x16, 0, r);          /* base frequency, MHz (nominal) */
        if (r[0]) {
            return (uint64_t)r[0] * 1000000;
        }
    }
    return 0;
}

static void tsc_calibrate(void) {
    uint64_t now = rdtsc();
    uint64_t hz = hz_from_kvmclock();
    if (hz >= 10000000) {
        cal_source = 1;
        err_ppm = 1000;             /* the host's tsc_khz: kHz steps, host-calibrated */
    } else if ((hz = hz_from_cpuid()) >= 10000000) {
        cal_source = 2;
        err_ppm = 5000;             /* nominal */
    } else {
        pit1_start();
        uint64_t t0, u0, t1, u1;
        uint16_t c0 = pit1_read(&t0, &u0), c1;
        uint16_t counts;
        unsigned guard = 0;
        do {
            c1 = pit1_read(&t1, &u1);
            counts = (uint16_t)(c0 - c1);
        } while ((counts < PIT_HZ / 500
                  || (counts < PIT_HZ * 12 / 1000 && (u0 + u1) * 500 > t1 - t0))
                 && ++guard < 1000000);
        hz = counts ? (t1 - t0) * (uint64_t)PIT_HZ / counts : 0;
        if (hz < 10000000) {
            hz = 2000000000;        /* no usable PIT: guess, rather than divide by zero */
            cal_source = 4;
            cal_final = 1;
        } else {
            cal_source = 3;
            err_ppm = (uint32_t)((u0 + u1) * 1000000 / (t1 - t0) + 1000000 / counts + 1);
            have_anchor = 1;
            ref_tsc = t0;
            ref_unc = u0;
            ref_count = c0;
        }
        now = t0;
    }
    base_tsc = now;
    base_us = 0;
    set_hz(hz, now);
    refine_at = now + hz / 5;
}

static void tsc_refine(uint64_t now) {
    uint64_t t, u;
    if (!pit1_on) {
        pit1_start();
    }
    uint16_t c = pit1_read(&t, &u);
    if (!have_anchor) {
        goto anchor;
    }
    uint64_t span = t - ref_tsc;
    uint64_t est = (uint64_t)(((unsigned __int128)span * PIT_HZ) / tsc_hz);
    /* how far off the estimated count may be, in PIT counts */
    uint64_t slack = est * err_ppm / 1000000 + (u + ref_unc) * PIT_HZ / tsc_hz + 2;
    if (slack >= 20000) {
        goto anchor;                /* wraps could be miscounted: start over from here */
    }
    uint64_t part = (uint16_t)(ref_count - c);
    uint64_t counts = est + 32768 < part ? part
        : ((est - part + 32768) / 65536) * 65536 + part;
    if (!counts) {
        goto anchor;
    }
    uint64_t hz = (uint64_t)(((unsigned __int128)span * PIT_HZ) / counts);
    uint64_t diff = hz > tsc_hz ? hz - tsc_hz : tsc_hz - hz;
    uint64_t diff_ppm = (uint64_t)(((unsigned __int128)diff * 1000000) / tsc_hz);
    if (diff_ppm > 3 * (uint64_t)err_ppm + 100) {
        goto anchor;                /* implausible: measure again */
    }
    uint32_t e = (uint32_t)((u + ref_unc) * 1000000 / span + 1000000 / counts + 1);
    if (e < err_ppm) {
        set_hz(hz, t);
        err_ppm = e;
    }
    if (err_ppm < 20) {
        cal_final = 1;
        return;
    }
    refine_at = ref_tsc + span * 8;
    return;
anchor:
    have_anchor = 1;
    ref_tsc = t;
    ref_unc = u;
    ref_count = c;
    refine_at = t + tsc_hz / 5;
    (void)now;
}

uint64_t ethox_time_us(void) {
    uint64_t now = rdtsc();
    if (!tsc_hz) {
        tsc_calibrate();
        now = rdtsc();
    } else if (!cal_final && now >= refine_at) {
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

/* (source, error estimate in ppm, final) of the TSC calibration */
void ethox_clock_info(uint32_t *source, uint32_t *err, uint32_t *final) {
    ethox_tsc_hz();
    *source = cal_source;
    *err = err_ppm;
    *final = (uint32_t)cal_final;
}

mp_uint_t mp_hal_ticks_us(void) {
    return (mp_uint_t)ethox_time_us();
}

mp_uint_t mp_hal_ticks_ms(void) {
    return (mp_uint_t)(ethox_time_us() / 1000);
}

#if MICROPY_VFS_LFS2
/* littlefs' file times (only with VfsLfs2(mtime=True); ethox_uk/fs.py mounts
 * without): there is no real-time clock, so the epoch is the boot. */
uint64_t mp_hal_time_ns(void) {
    return ethox_time_us() * 1000;
}
#endif

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
        next = now + (tsc_hz ? tsc_hz / 50 : 50000000);
        uart_drain();
    }
}

/* ---- console */

/* Reading the UART is port I/O: under kvm_pvm a trap into emulated ring 0
 * (~130 us measured on every wake-up before this).  Once interrupts are set
 * up, the UART's IRQ 4 tells when there is input (ethox_halt drains it then);
 * otherwise -- before the first halt, or should an edge ever be missed -- look
 * at most every UART_POLL_MS. */
#define UART_POLL_MS 250
static uint64_t uart_polled_us;

static void uart_drain_if_due(void) {
    uint64_t now = ethox_time_us();
    if (!irq_ready || now - uart_polled_us >= UART_POLL_MS * 1000) {
        uart_polled_us = now;
        uart_drain();
    }
}

int mp_hal_stdin_rx_chr(void) {
    for (;;) {
        int c = uart_rx_get();
        if (c >= 0) {
            return c;
        }
        uart_drain_if_due();
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
            uart_drain_if_due();
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
