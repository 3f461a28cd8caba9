/*
 * ethox-uk runtime: the `_ethox` native module.
 *
 *   inb(port) inw(port) inl(port) outb(port, v) outw(port, v) outl(port, v)
 *       Port I/O.  Under kvm_pvm each access traps to ring 0 (~100 us).
 *   read8(addr) read16 read32 read64, write8(addr, v) write16 write32 write64
 *       Volatile MMIO / physical memory access (memory is identity-mapped).
 *   addressof(buf)         address of a buffer's storage (= physical address;
 *                          the GC never moves it: keep a reference)
 *   mfence() lfence() sfence()
 *   ticks_us() ticks_ms()  monotonic time since boot (TSC), never wraps
 *   tsc_hz()               the calibrated TSC frequency
 *   checksum(buf, start=0, end=len(buf), initial=0)   (positional only)
 *       The 16-bit one's-complement sum (RFC 1071) of buf[start:end] taken as
 *       big-endian 16-bit words (an odd last byte is padded with zero),
 *       plus `initial`, folded to 16 bits and NOT inverted: the Internet
 *       checksum field is `~checksum(...) & 0xffff`; a packet verifies when
 *       checksum(...) == 0xffff.  `initial` may be any non-negative int < 2**48
 *       (e.g. a pseudo-header sum).
 *   copy(dst, doff, src, soff, n)
 *                          dst[doff:doff+n] = src[soff:soff+n] (memmove,
 *                          ranges checked, no allocation)
 *   copy_words()           True when memcpy moves 8-byte words (it timed
 *                          them faster than rep movsb at boot: TCG)
 *   cmdline()              the kernel command line (str)
 *   memmap()               [(addr, size, type), ...] from PVH start_info
 *   heap()                 (start, end) of the GC heap
 *   fs_area()              memoryview of the filesystem's RAM (kept over soft
 *                          resets), None without a filesystem
 *   poll_hook(fn)          fn() runs whenever the interpreter waits (REPL
 *                          input, select.poll, time.sleep); an int it returns
 *                          caps the next halt (ms); None clears the hook
 *   idle(ms)               run the hook, then halt up to ms (-1: until an
 *                          interrupt) — the same wait select.poll does
 *   irq_enable(n, on=True) unmask/mask 8259 IRQ n (wakes idle halts)
 *   irq_pending()          bitmask of IRQs seen since the last call (cleared)
 *   exit(n)                leave QEMU now through isa-debug-exit (status 33+2n)
 *   exit_on_error(flag)    uncaught exceptions in REPL code then exit with 1
 *   irq_count()            interrupts taken so far (diagnostics)
 *   last_halt()            (start_us, end_us) of the latest halt (diagnostics)
 *   on_soft_reset(addr, value=0, width=32, io=False)
 *                          at every soft reset, before the heap is freed,
 *                          write value to MMIO addr (read back until it reads
 *                          so, <= 100 times) or to port addr (io=True):
 *                          drivers stop DMA this way (virtio status = 0).
 *                          Same (addr, width, io) replaces; kept across soft
 *                          resets; returns the count; on_soft_reset(None)
 *                          clears the table.  At most 8.
 *   clock_info()           (source, tsc_hz, error_ppm, final): source of the
 *                          first calibration 'kvmclock'/'cpuid'/'pit'/'guess'
 *   hook_errors()          exceptions the poll hook raised (it is kept unless
 *                          it fails 5 times in a row; KeyboardInterrupt passes
 *                          through to the waiting code)
 */
#include <stdint.h>
#include <string.h>

#include "py/runtime.h"
#include "py/objint.h"
#include "py/objarray.h"
#include "py/mphal.h"
#include "kernel.h"
#include "ethox.h"

static mp_obj_t mk_uint(uint64_t v) {
    return mp_obj_new_int_from_ull(v);
}

static uint16_t port_arg(mp_obj_t o) {
    return (uint16_t)mp_obj_get_int(o);
}

static mp_obj_t e_inb(mp_obj_t p) {
    return MP_OBJ_NEW_SMALL_INT(inb(port_arg(p)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(e_inb_obj, e_inb);
static mp_obj_t e_inw(mp_obj_t p) {
    return MP_OBJ_NEW_SMALL_INT(inw(port_arg(p)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(e_inw_obj, e_inw);
static mp_obj_t e_inl(mp_obj_t p) {
    return MP_OBJ_NEW_SMALL_INT(inl(port_arg(p)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(e_inl_obj, e_inl);
static mp_obj_t e_outb(mp_obj_t p, mp_obj_t v) {
    outb(port_arg(p), (uint8_t)mp_obj_get_int_truncated(v));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(e_outb_obj, e_outb);
static mp_obj_t e_outw(mp_obj_t p, mp_obj_t v) {
    outw(port_arg(p), (uint16_t)mp_obj_get_int_truncated(v));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(e_outw_obj, e_outw);
static mp_obj_t e_outl(mp_obj_t p, mp_obj_t v) {
    outl(port_arg(p), (uint32_t)mp_obj_get_int_truncated(v));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(e_outl_obj, e_outl);

static uintptr_t addr_arg(mp_obj_t o) {
    return (uintptr_t)mp_obj_get_int_truncated(o);
}

static mp_obj_t e_read8(mp_obj_t a) {
    return MP_OBJ_NEW_SMALL_INT(*(volatile uint8_t *)addr_arg(a));
}
static MP_DEFINE_CONST_FUN_OBJ_1(e_read8_obj, e_read8);
static mp_obj_t e_read16(mp_obj_t a) {
    return MP_OBJ_NEW_SMALL_INT(*(volatile uint16_t *)addr_arg(a));
}
static MP_DEFINE_CONST_FUN_OBJ_1(e_read16_obj, e_read16);
static mp_obj_t e_read32(mp_obj_t a) {
    return MP_OBJ_NEW_SMALL_INT(*(volatile uint32_t *)addr_arg(a));
}
static MP_DEFINE_CONST_FUN_OBJ_1(e_read32_obj, e_read32);
static mp_obj_t e_read64(mp_obj_t a) {
    return mk_uint(*(volatile uint64_t *)addr_arg(a));
}
static MP_DEFINE_CONST_FUN_OBJ_1(e_read64_obj, e_read64);

static uint64_t val_arg(mp_obj_t o) {
    if (mp_obj_is_small_int(o)) {
        return (uint64_t)MP_OBJ_SMALL_INT_VALUE(o);
    }
    uint64_t v = 0;
    mp_obj_int_to_bytes_impl(o, false, sizeof(v), (byte *)&v);
    return v;
}

static mp_obj_t e_write8(mp_obj_t a, mp_obj_t v) {
    *(volatile uint8_t *)addr_arg(a) = (uint8_t)val_arg(v);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(e_write8_obj, e_write8);
static mp_obj_t e_write16(mp_obj_t a, mp_obj_t v) {
    *(volatile uint16_t *)addr_arg(a) = (uint16_t)val_arg(v);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(e_write16_obj, e_write16);
static mp_obj_t e_write32(mp_obj_t a, mp_obj_t v) {
    *(volatile uint32_t *)addr_arg(a) = (uint32_t)val_arg(v);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(e_write32_obj, e_write32);
static mp_obj_t e_write64(mp_obj_t a, mp_obj_t v) {
    *(volatile uint64_t *)addr_arg(a) = val_arg(v);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(e_write64_obj, e_write64);

static mp_obj_t e_addressof(mp_obj_t buf) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(buf, &bi, MP_BUFFER_READ);
    return mk_uint((uintptr_t)bi.buf);
}
static MP_DEFINE_CONST_FUN_OBJ_1(e_addressof_obj, e_addressof);

static mp_obj_t e_mfence(void) {
    __asm__ volatile ("mfence" : : : "memory");
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(e_mfence_obj, e_mfence);
static mp_obj_t e_lfence(void) {
    __asm__ volatile ("lfence" : : : "memory");
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(e_lfence_obj, e_lfence);
static mp_obj_t e_sfence(void) {
    __asm__ volatile ("sfence" : : : "memory");
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(e_sfence_obj, e_sfence);

static mp_obj_t e_ticks_us(void) {
    return mp_obj_new_int_from_ull(ethox_time_us());
}
static MP_DEFINE_CONST_FUN_OBJ_0(e_ticks_us_obj, e_ticks_us);
static mp_obj_t e_ticks_ms(void) {
    return mp_obj_new_int_from_ull(ethox_time_us() / 1000);
}
static MP_DEFINE_CONST_FUN_OBJ_0(e_ticks_ms_obj, e_ticks_ms);
static mp_obj_t e_tsc_hz(void) {
    return mk_uint(ethox_tsc_hz());
}
static MP_DEFINE_CONST_FUN_OBJ_0(e_tsc_hz_obj, e_tsc_hz);

/* One's-complement sum of native (little-endian) 16-bit words; the caller
 * byte-swaps the folded result into network order (RFC 1071 §2(B)). */
static uint64_t csum_le(const uint8_t *p, size_t n) {
    uint64_t s = 0;
    while (n >= 32) {
        uint64_t a, b, c, d;
        memcpy(&a, p, 8);
        memcpy(&b, p + 8, 8);
        memcpy(&c, p + 16, 8);
        memcpy(&d, p + 24, 8);
        s += (a & 0xffffffff) + (a >> 32) + (b & 0xffffffff) + (b >> 32)
            + (c & 0xffffffff) + (c >> 32) + (d & 0xffffffff) + (d >> 32);
        p += 32;
        n -= 32;
    }
    while (n >= 8) {
        uint64_t a;
        memcpy(&a, p, 8);
        s += (a & 0xffffffff) + (a >> 32);
        p += 8;
        n -= 8;
    }
    while (n >= 2) {
        s += (uint16_t)(p[0] | (p[1] << 8));
        p += 2;
        n -= 2;
    }
    if (n) {
        s += p[0];
    }
    return s;
}

static uint32_t fold16(uint64_t s) {
    s = (s & 0xffffffff) + (s >> 32);
    s = (s & 0xffffffff) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return (uint32_t)s;
}

/* Positional only: called per packet, so no keyword parsing. */
static mp_obj_t e_checksum(size_t n_args, const mp_obj_t *args) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(args[0], &bi, MP_BUFFER_READ);
    mp_int_t len = (mp_int_t)bi.len;
    mp_int_t start = n_args > 1 ? mp_obj_get_int(args[1]) : 0;
    mp_int_t end = (n_args > 2 && args[2] != mp_const_none) ? mp_obj_get_int(args[2]) : len;
    if (start < 0) {
        start += len;
    }
    if (end < 0) {
        end += len;
    }
    if (start < 0 || end > len || start > end) {
        mp_raise_ValueError(MP_ERROR_TEXT("bad start/end"));
    }
    uint64_t initial = n_args > 3 ? val_arg(args[3]) : 0;
    uint32_t le = fold16(csum_le((const uint8_t *)bi.buf + start, (size_t)(end - start)));
    uint32_t be = ((le & 0xff) << 8) | (le >> 8);
    return MP_OBJ_NEW_SMALL_INT(fold16((uint64_t)be + (initial & 0xffffffffffffULL)));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(e_checksum_obj, 1, 4, e_checksum);

/* copy(dst, doff, src, soff, n): dst[doff:doff+n] = src[soff:soff+n] with the
 * runtime's memmove, ranges checked; no allocation (a slice assignment makes
 * slice objects and, in 1.25, moves a big buffer's tail onto itself). */
static mp_obj_t e_copy(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    mp_buffer_info_t d, s;
    mp_get_buffer_raise(args[0], &d, MP_BUFFER_WRITE);
    mp_get_buffer_raise(args[2], &s, MP_BUFFER_READ);
    mp_int_t doff = mp_obj_get_int(args[1]);
    mp_int_t soff = mp_obj_get_int(args[3]);
    mp_int_t n = mp_obj_get_int(args[4]);
    if (n < 0 || doff < 0 || soff < 0 || (size_t)(doff + n) > d.len || (size_t)(soff + n) > s.len) {
        mp_raise_ValueError(MP_ERROR_TEXT("copy out of range"));
    }
    memmove((uint8_t *)d.buf + doff, (const uint8_t *)s.buf + soff, (size_t)n);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(e_copy_obj, 5, 5, e_copy);

static mp_obj_t e_copy_words(void) {
    return mp_obj_new_bool(memcpy_uses_words());
}
static MP_DEFINE_CONST_FUN_OBJ_0(e_copy_words_obj, e_copy_words);

static mp_obj_t e_cmdline(void) {
    return mp_obj_new_str(ethox_cmdline, strlen(ethox_cmdline));
}
static MP_DEFINE_CONST_FUN_OBJ_0(e_cmdline_obj, e_cmdline);

static mp_obj_t e_memmap(void) {
    mp_obj_t l = mp_obj_new_list(0, NULL);
    for (uint32_t i = 0; i < ethox_memmap_entries; i++) {
        mp_obj_t t[3] = {
            mk_uint(ethox_memmap[i].addr),
            mk_uint(ethox_memmap[i].size),
            MP_OBJ_NEW_SMALL_INT(ethox_memmap[i].type),
        };
        mp_obj_list_append(l, mp_obj_new_tuple(3, t));
    }
    return l;
}
static MP_DEFINE_CONST_FUN_OBJ_0(e_memmap_obj, e_memmap);

static mp_obj_t e_heap(void) {
    mp_obj_t t[2] = { mk_uint(ethox_heap_start), mk_uint(ethox_heap_end) };
    return mp_obj_new_tuple(2, t);
}
static MP_DEFINE_CONST_FUN_OBJ_0(e_heap_obj, e_heap);

/* The filesystem's RAM (fsarea.c) as a writable memoryview, or None. */
static mp_obj_t e_fs_area(void) {
    size_t n;
    uint8_t *p = ethox_fs_area(&n);
    if (p == NULL) {
        return mp_const_none;
    }
    return mp_obj_new_memoryview('B' | MP_OBJ_ARRAY_TYPECODE_FLAG_RW, n, p);
}
static MP_DEFINE_CONST_FUN_OBJ_0(e_fs_area_obj, e_fs_area);

static mp_obj_t e_poll_hook(mp_obj_t fn) {
    MP_STATE_PORT(ethox_poll_hook) = fn == mp_const_none ? MP_OBJ_NULL : fn;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(e_poll_hook_obj, e_poll_hook);

static mp_obj_t e_idle(mp_obj_t ms) {
    mp_int_t t = mp_obj_get_int(ms);
    if (t < 0) {
        mp_event_wait_indefinite();
    } else {
        mp_event_wait_ms((mp_uint_t)t);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(e_idle_obj, e_idle);

static mp_obj_t e_irq_enable(size_t n_args, const mp_obj_t *args) {
    mp_int_t irq = mp_obj_get_int(args[0]);
    if (irq < 0 || irq > 15) {
        mp_raise_ValueError(MP_ERROR_TEXT("irq 0-15"));
    }
    ethox_irq_enable((int)irq, n_args < 2 || mp_obj_is_true(args[1]));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(e_irq_enable_obj, 1, 2, e_irq_enable);

static mp_obj_t e_irq_pending(void) {
    return MP_OBJ_NEW_SMALL_INT(ethox_irq_take());
}
static MP_DEFINE_CONST_FUN_OBJ_0(e_irq_pending_obj, e_irq_pending);

/* (start_us, end_us) of the last halt: wake-up latency measurements */
extern uint64_t halt_start_us, halt_end_us;
static mp_obj_t e_last_halt(void) {
    mp_obj_t t[2] = { mk_uint(halt_start_us), mk_uint(halt_end_us) };
    return mp_obj_new_tuple(2, t);
}
static MP_DEFINE_CONST_FUN_OBJ_0(e_last_halt_obj, e_last_halt);

static mp_obj_t e_irq_count(void) {
    return mk_uint(irq_count);
}
static MP_DEFINE_CONST_FUN_OBJ_0(e_irq_count_obj, e_irq_count);

static mp_obj_t e_exit(mp_obj_t n) {
    ethox_exit((int)mp_obj_get_int(n));
}
static MP_DEFINE_CONST_FUN_OBJ_1(e_exit_obj, e_exit);

static mp_obj_t e_exit_on_error(mp_obj_t flag) {
    ethox_exit_on_error = mp_obj_is_true(flag);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(e_exit_on_error_obj, e_exit_on_error);

static mp_obj_t e_on_soft_reset(size_t n_args, const mp_obj_t *args, mp_map_t *kw_args) {
    enum { ARG_addr, ARG_value, ARG_width, ARG_io };
    static const mp_arg_t allowed[] = {
        { MP_QSTR_addr, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL} },
        { MP_QSTR_value, MP_ARG_OBJ, {.u_obj = MP_OBJ_NEW_SMALL_INT(0)} },
        { MP_QSTR_width, MP_ARG_INT, {.u_int = 32} },
        { MP_QSTR_io, MP_ARG_BOOL, {.u_bool = false} },
    };
    mp_arg_val_t a[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all(n_args, args, kw_args, MP_ARRAY_SIZE(allowed), allowed, a);
    if (a[ARG_addr].u_obj == mp_const_none) {
        ethox_reset_writes_clear();
        return MP_OBJ_NEW_SMALL_INT(0);
    }
    mp_int_t w = a[ARG_width].u_int;
    if (w != 8 && w != 16 && w != 32) {
        mp_raise_ValueError(MP_ERROR_TEXT("width 8, 16 or 32"));
    }
    uint64_t addr = val_arg(a[ARG_addr].u_obj);
    if (ethox_reset_write_add(addr, (uint32_t)val_arg(a[ARG_value].u_obj), (int)w,
                              a[ARG_io].u_bool) < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("too many soft-reset writes"));
    }
    return MP_OBJ_NEW_SMALL_INT(ethox_reset_writes_count());
}
static MP_DEFINE_CONST_FUN_OBJ_KW(e_on_soft_reset_obj, 1, e_on_soft_reset);

static mp_obj_t e_clock_info(void) {
    static const qstr names[] = { MP_QSTR_, MP_QSTR_kvmclock, MP_QSTR_cpuid, MP_QSTR_pit, MP_QSTR_guess };
    uint32_t src, err, fin;
    ethox_clock_info(&src, &err, &fin);
    mp_obj_t t[4] = {
        MP_OBJ_NEW_QSTR(names[src < 5 ? src : 0]),
        mk_uint(ethox_tsc_hz()),
        mk_uint(err),
        mp_obj_new_bool(fin),
    };
    return mp_obj_new_tuple(4, t);
}
static MP_DEFINE_CONST_FUN_OBJ_0(e_clock_info_obj, e_clock_info);

static mp_obj_t e_hook_errors(void) {
    return mk_uint(ethox_hook_errors);
}
static MP_DEFINE_CONST_FUN_OBJ_0(e_hook_errors_obj, e_hook_errors);

static const mp_rom_map_elem_t ethox_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__ethox) },
    { MP_ROM_QSTR(MP_QSTR_inb), MP_ROM_PTR(&e_inb_obj) },
    { MP_ROM_QSTR(MP_QSTR_inw), MP_ROM_PTR(&e_inw_obj) },
    { MP_ROM_QSTR(MP_QSTR_inl), MP_ROM_PTR(&e_inl_obj) },
    { MP_ROM_QSTR(MP_QSTR_outb), MP_ROM_PTR(&e_outb_obj) },
    { MP_ROM_QSTR(MP_QSTR_outw), MP_ROM_PTR(&e_outw_obj) },
    { MP_ROM_QSTR(MP_QSTR_outl), MP_ROM_PTR(&e_outl_obj) },
    { MP_ROM_QSTR(MP_QSTR_read8), MP_ROM_PTR(&e_read8_obj) },
    { MP_ROM_QSTR(MP_QSTR_read16), MP_ROM_PTR(&e_read16_obj) },
    { MP_ROM_QSTR(MP_QSTR_read32), MP_ROM_PTR(&e_read32_obj) },
    { MP_ROM_QSTR(MP_QSTR_read64), MP_ROM_PTR(&e_read64_obj) },
    { MP_ROM_QSTR(MP_QSTR_write8), MP_ROM_PTR(&e_write8_obj) },
    { MP_ROM_QSTR(MP_QSTR_write16), MP_ROM_PTR(&e_write16_obj) },
    { MP_ROM_QSTR(MP_QSTR_write32), MP_ROM_PTR(&e_write32_obj) },
    { MP_ROM_QSTR(MP_QSTR_write64), MP_ROM_PTR(&e_write64_obj) },
    { MP_ROM_QSTR(MP_QSTR_addressof), MP_ROM_PTR(&e_addressof_obj) },
    { MP_ROM_QSTR(MP_QSTR_copy), MP_ROM_PTR(&e_copy_obj) },
    { MP_ROM_QSTR(MP_QSTR_copy_words), MP_ROM_PTR(&e_copy_words_obj) },
    { MP_ROM_QSTR(MP_QSTR_mfence), MP_ROM_PTR(&e_mfence_obj) },
    { MP_ROM_QSTR(MP_QSTR_lfence), MP_ROM_PTR(&e_lfence_obj) },
    { MP_ROM_QSTR(MP_QSTR_sfence), MP_ROM_PTR(&e_sfence_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_us), MP_ROM_PTR(&e_ticks_us_obj) },
    { MP_ROM_QSTR(MP_QSTR_last_halt), MP_ROM_PTR(&e_last_halt_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_ms), MP_ROM_PTR(&e_ticks_ms_obj) },
    { MP_ROM_QSTR(MP_QSTR_tsc_hz), MP_ROM_PTR(&e_tsc_hz_obj) },
    { MP_ROM_QSTR(MP_QSTR_checksum), MP_ROM_PTR(&e_checksum_obj) },
    { MP_ROM_QSTR(MP_QSTR_cmdline), MP_ROM_PTR(&e_cmdline_obj) },
    { MP_ROM_QSTR(MP_QSTR_memmap), MP_ROM_PTR(&e_memmap_obj) },
    { MP_ROM_QSTR(MP_QSTR_heap), MP_ROM_PTR(&e_heap_obj) },
    { MP_ROM_QSTR(MP_QSTR_fs_area), MP_ROM_PTR(&e_fs_area_obj) },
    { MP_ROM_QSTR(MP_QSTR_poll_hook), MP_ROM_PTR(&e_poll_hook_obj) },
    { MP_ROM_QSTR(MP_QSTR_idle), MP_ROM_PTR(&e_idle_obj) },
    { MP_ROM_QSTR(MP_QSTR_irq_enable), MP_ROM_PTR(&e_irq_enable_obj) },
    { MP_ROM_QSTR(MP_QSTR_irq_pending), MP_ROM_PTR(&e_irq_pending_obj) },
    { MP_ROM_QSTR(MP_QSTR_irq_count), MP_ROM_PTR(&e_irq_count_obj) },
    { MP_ROM_QSTR(MP_QSTR_exit), MP_ROM_PTR(&e_exit_obj) },
    { MP_ROM_QSTR(MP_QSTR_exit_on_error), MP_ROM_PTR(&e_exit_on_error_obj) },
    { MP_ROM_QSTR(MP_QSTR_on_soft_reset), MP_ROM_PTR(&e_on_soft_reset_obj) },
    { MP_ROM_QSTR(MP_QSTR_clock_info), MP_ROM_PTR(&e_clock_info_obj) },
    { MP_ROM_QSTR(MP_QSTR_hook_errors), MP_ROM_PTR(&e_hook_errors_obj) },
};
static MP_DEFINE_CONST_DICT(ethox_globals, ethox_globals_table);

const mp_obj_module_t ethox_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&ethox_globals,
};

MP_REGISTER_MODULE(MP_QSTR__ethox, ethox_module);
