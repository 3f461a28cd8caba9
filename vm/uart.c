/*
 * ethox-uk runtime: 16550 UART on COM1.
 *
 * Every port access is a VM exit.  Under TCG and hardware KVM ring 3 does
 * them itself (IOPL=3): transmit in bursts of up to 16 bytes (the FIFO depth)
 * with one `rep outsb` after one LSR check, read the LSR only when input is
 * wanted.  Under kvm_pvm each ring-3 access traps to ring 0 (~100 us, against
 * ~10 us for an access made in ring 0), so once uart_init() sees that its
 * first access trapped, whole strings go out and all pending input comes in
 * through one service call each (~10 us and ~20 us a byte).
 */
#include <stdint.h>
#include "py/mpconfig.h"
#include "py/runtime.h"
#include "shared/runtime/interrupt_char.h"
#include "kernel.h"
#include "uart.h"

#define COM1        0x3f8
#define UART_RBR    (COM1 + 0)
#define UART_THR    (COM1 + 0)
#define UART_IER    (COM1 + 1)
#define UART_FCR    (COM1 + 2)
#define UART_MCR    (COM1 + 4)
#define UART_LSR    (COM1 + 5)

#define LSR_DR      0x01
#define LSR_THRE    0x20
#define LSR_TEMT    0x40

#define RX_SIZE     1024            /* power of two */

static uint8_t rx_buf[RX_SIZE];
static volatile uint32_t rx_head, rx_tail;
static int batched;                 /* port I/O traps: use the ring-0 services */

void uart_init(void) {
    /* FIFOs on and cleared, RX trigger at 1 byte.  Line settings are left
     * as they are: QEMU's chardev ignores them. */
    outb(UART_FCR, 0x07);
    batched = io_traps != 0;
}

void uart_irq_init(void) {
    outb(UART_MCR, 0x0b);           /* DTR, RTS, OUT2 (IRQ gate on PCs) */
    outb(UART_IER, 0x01);           /* interrupt on received data */
}

uint64_t *uart_trace_tx;            /* boot trace: TSC of the next write */
uint32_t *uart_trace_traps;

void uart_write(const char *s, size_t n) {
    if (uart_trace_tx) {
        *uart_trace_tx = rdtsc();
        *uart_trace_traps = io_traps;
        uart_trace_tx = NULL;
    }
    if (batched) {
        syscall2(SYS_UART_TX, (uint64_t)s, n);
        return;
    }
    while (n) {
        /* wait until the transmit FIFO is empty, then fill it */
        for (unsigned i = 0; !(inb(UART_LSR) & LSR_THRE) && i < 1000000; i++) {
        }
        size_t chunk = n < 16 ? n : 16;
        outsb(UART_THR, s, chunk);
        s += chunk;
        n -= chunk;
    }
}

void uart_flush(void) {
    for (unsigned i = 0; !(inb(UART_LSR) & LSR_TEMT) && i < 10000; i++) {
    }
}

static void rx_put(int c) {
    if (c == mp_interrupt_char) {
        mp_sched_keyboard_interrupt();
        return;
    }
    rx_buf[rx_head++ & (RX_SIZE - 1)] = (uint8_t)c;
}

void uart_drain(void) {
    if (batched) {
        uint8_t tmp[256];
        for (;;) {
            uint32_t room = RX_SIZE - (rx_head - rx_tail);
            if (room > sizeof(tmp)) {
                room = sizeof(tmp);
            }
            if (!room) {
                return;
            }
            uint64_t got = syscall2(SYS_UART_RX, (uint64_t)tmp, room);
            for (uint64_t i = 0; i < got; i++) {
                rx_put(tmp[i]);
            }
            if (got < room) {
                return;
            }
        }
    }
    while (rx_head - rx_tail < RX_SIZE) {
        if (!(inb(UART_LSR) & LSR_DR)) {
            return;
        }
        rx_put(inb(UART_RBR));
    }
}

int uart_rx_available(void) {
    return rx_head != rx_tail;
}

int uart_rx_get(void) {
    if (rx_head == rx_tail) {
        return -1;
    }
    return rx_buf[rx_tail++ & (RX_SIZE - 1)];
}
