/*
 * ethox-uk runtime: the clock.  Time since boot from the TSC; its rate from
 * KVM's pvclock, CPUID or a short PIT window on first use, then refined in
 * stages against PIT channel 1 (see below).
 */
#include <stdint.h>
#include "kernel.h"
#include "ethox.h"
#include "py/mphal.h"

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

/* The rate if calibrated already, else 0 (no calibration started from here). */
uint64_t ethox_tsc_hz_known(void) {
    return tsc_hz;
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

uint32_t ethox_random_seed(void) {
    uint64_t t = rdtsc();
    return (uint32_t)(t ^ (t >> 32));
}
