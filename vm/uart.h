/* ethox-uk runtime: 16550 UART (COM1, 0x3f8), polled. */
#ifndef ETHOX_UART_H
#define ETHOX_UART_H

#include <stddef.h>
#include <stdint.h>

void uart_init(void);
void uart_irq_init(void);
void uart_write(const char *s, size_t n);
extern uint64_t *uart_trace_tx;
extern uint32_t *uart_trace_traps;      /* set: the next write stores its TSC there, then NULL */
void uart_flush(void);
/* Move whatever the UART holds into the input ring (handles Ctrl-C when it
 * is the interrupt character).  One LSR read when there is nothing. */
void uart_drain(void);
int uart_rx_available(void);
int uart_rx_get(void);              /* -1 when empty */

#endif
