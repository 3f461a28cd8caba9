/* ethox-uk runtime: MicroPython HAL for the bare-metal x86_64 port. */
#ifndef ETHOX_MPHALPORT_H
#define ETHOX_MPHALPORT_H

#include <stdint.h>
#include "shared/runtime/interrupt_char.h"

mp_uint_t mp_hal_ticks_ms(void);
mp_uint_t mp_hal_ticks_us(void);
mp_uint_t mp_hal_ticks_cpu(void);
void mp_hal_delay_ms(mp_uint_t ms);
void mp_hal_delay_us(mp_uint_t us);

/* Time since boot from the TSC (calibrated against the PIT on first use). */
uint64_t ethox_time_us(void);
uint64_t ethox_tsc_hz(void);

#endif
