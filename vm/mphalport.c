/*
 * ethox-uk runtime: MicroPython's HAL for this port, thin: the console (the
 * UART, uart.c), ticks and delays over the clock (clock.c); interrupts and the
 * idle path are in irq.c.
 */
#include <stdint.h>
#include "py/mphal.h"
#include "py/runtime.h"
#include "py/stream.h"
#include "kernel.h"
#include "uart.h"
#include "ethox.h"

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
    if (!ethox_irq_ready() || now - uart_polled_us >= UART_POLL_MS * 1000) {
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
