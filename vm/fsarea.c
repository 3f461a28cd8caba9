/*
 * ethox-uk runtime: the RAM area of the image's filesystem (recipe key `fs`).
 *
 * A static buffer (.bss: it costs the ELF no bytes, QEMU's loader zeroes it) so
 * that it lies outside the GC heap and outlives soft resets, as a board's flash
 * does: `mpremote` soft-resets before most commands and the files must still be
 * there.  The heap starts after it (main.c: heap_find above _end), so a guest
 * with -m 16M has 16M less the image and this area.  The size comes from
 * $(BUILD)/fs_size.h, written by the Makefile only when it changes (so a new
 * size rebuilds this file alone).  ethox_uk/fs.py mounts littlefs2 on it.
 */
#include <stddef.h>
#include <stdint.h>
#include "fs_size.h"
#include "ethox.h"

#if ETHOX_FS_SIZE > 0
static uint8_t fs_area[ETHOX_FS_SIZE] __attribute__((aligned(4096)));
#endif

uint8_t *ethox_fs_area(size_t *size) {
    #if ETHOX_FS_SIZE > 0
    *size = sizeof(fs_area);
    return fs_area;
    #else
    *size = 0;
    return NULL;
    #endif
}
