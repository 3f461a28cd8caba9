/*
 * ethox-uk runtime: MicroPython configuration for the bare-metal x86_64 port.
 *
 * Feature level EXTRA_FEATURES, like the unix "standard" variant the stack's
 * tests run under, minus everything that needs an OS (sockets, a real disk).
 * Files: with a filesystem in the recipe (vm/Makefile ETHOX_FS_SIZE > 0, which
 * makes extmod.mk define MICROPY_VFS_LFS2) the VFS, littlefs2, `open` and
 * imports from files are in; without one they are left out.
 */
#include <stdint.h>

#define MICROPY_CONFIG_ROM_LEVEL            (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)

// Core
#define MICROPY_ENABLE_COMPILER             (1)
#define MICROPY_ENABLE_GC                   (1)
#define MICROPY_ENABLE_FINALISER            (1)
#define MICROPY_ENABLE_SCHEDULER            (1)
#define MICROPY_SCHEDULER_DEPTH             (8)
#define MICROPY_HELPER_REPL                 (1)
#define MICROPY_REPL_INFO                   (1)
#define MICROPY_REPL_AUTO_INDENT            (1)
#define MICROPY_KBD_EXCEPTION               (1)
#define MICROPY_ENABLE_EMERGENCY_EXCEPTION_BUF (1)
#define MICROPY_EMERGENCY_EXCEPTION_BUF_SIZE (256)
#define MICROPY_STACK_CHECK                 (1)
#define MICROPY_LONGINT_IMPL                (MICROPY_LONGINT_IMPL_MPZ)
#define MICROPY_FLOAT_IMPL                  (MICROPY_FLOAT_IMPL_DOUBLE)
#define MICROPY_ERROR_REPORTING             (MICROPY_ERROR_REPORTING_DETAILED)
#define MICROPY_WARNINGS                    (1)
#define MICROPY_OPT_COMPUTED_GOTO           (1)
#define MICROPY_OPT_MPZ_BITWISE             (1)
#define MICROPY_PERSISTENT_CODE_LOAD        (1)
#define MICROPY_ENABLE_EXTERNAL_IMPORT      (1)
#define MICROPY_ALLOC_PATH_MAX              (256)
#define MICROPY_MEM_STATS                   (1)
#define MICROPY_MALLOC_USES_ALLOCATED_SIZE  (1)
#define MICROPY_PY_GC_COLLECT_RETVAL        (1)

// Native code: frozen x64 code (mpy-cross made it); no compiler for it at run time (nonative.c).
#define MICROPY_EMIT_X64                    (1)

// Modules
#define MICROPY_PY_SYS_PLATFORM             "ethox"
#define MICROPY_PY_SYS_EXIT                 (1)
#define MICROPY_PY_SYS_STDFILES             (1)
#define MICROPY_PY_SYS_STDIO_BUFFER         (1)
#define MICROPY_PY_SYS_EXC_INFO             (1)
#define MICROPY_PY_SYS_ATEXIT               (0)
#define MICROPY_PY_TIME                     (1)
#define MICROPY_PY_TIME_GMTIME_LOCALTIME_MKTIME (0)
#define MICROPY_PY_TIME_TIME_TIME_NS        (0)
#define MICROPY_PY_SELECT                   (1)
#define MICROPY_PY_SELECT_SELECT            (0)
#define MICROPY_PY_ASYNCIO                  (1)
#define MICROPY_PY_UCTYPES                  (1)
#define MICROPY_PY_STRUCT                   (1)
#define MICROPY_PY_ARRAY                    (1)
#define MICROPY_PY_MATH                     (0)  // unused by the stack: ~8 KB of libm (README: image size)
#define MICROPY_PY_CMATH                    (0)
#define MICROPY_PY_OS                       (1)
#define MICROPY_PY_OS_UNAME                 (1)
#define MICROPY_PY_OS_URANDOM               (0)
#define MICROPY_PY_RANDOM_SEED_INIT_FUNC    (ethox_random_seed())
#define MICROPY_PY_MACHINE                  (0)
#define MICROPY_PY_FRAMEBUF                 (0)
#if MICROPY_VFS_LFS2
#define MICROPY_VFS                         (1)
#define MICROPY_READER_VFS                  (1)
#define MICROPY_VFS_LFS1                    (0)
#define MICROPY_VFS_FAT                     (0)
#define MICROPY_VFS_POSIX                   (0)
#define MICROPY_VFS_ROM                     (0)
#define MICROPY_PY_OS_STATVFS               (1)
#else
#define MICROPY_PY_VFS                      (0)
#define MICROPY_VFS                         (0)
#define MICROPY_READER_VFS                  (0)
#endif
#define MICROPY_PY_BTREE                    (0)
#define MICROPY_PY_SOCKET                   (0)
#define MICROPY_PY_NETWORK                  (0)
#define MICROPY_PY_SSL                      (0)
#define MICROPY_PY_WEBSOCKET                (0)
#define MICROPY_PY_WEBREPL                  (0)
#define MICROPY_PY_OS_DUPTERM               (0)
#define MICROPY_PY_BLUETOOTH                (0)

// Size (DESIGN §4: stripped image <= 512 KiB).  Off: modules and
// features that neither the stack, virtio/, the apps nor asyncio use.
#define MICROPY_PY_DEFLATE                  (0)
#define MICROPY_PY_RE                       (0)
#define MICROPY_PY_JSON                     (0)
#define MICROPY_PY_BINASCII                 (0)
#define MICROPY_PY_HEAPQ                    (0)
#define MICROPY_PY_PLATFORM                 (0)
#define MICROPY_PY_BUILTINS_COMPLEX         (0)
#define MICROPY_PY_BUILTINS_HELP            (0)
#define MICROPY_PY_BUILTINS_HELP_MODULES    (0)
#define MICROPY_PY_BUILTINS_INPUT           (0)
#define MICROPY_PY_BUILTINS_EXECFILE        (0)
#define MICROPY_PY_MATH_SPECIAL_FUNCTIONS   (0)
#define MICROPY_PY_MATH_FACTORIAL           (0)
#define MICROPY_PY_MICROPYTHON_RINGIO       (0)
#define MICROPY_FLOAT_USE_NATIVE_FLT16      (0)

// Idle and events.  MicroPython's select.poll, time.sleep and the REPL's input
// wait all come through here: run the Python-level poll hook
// (_ethox.poll_hook), then halt the CPU until an interrupt or the deadline.
#define MICROPY_INTERNAL_EVENT_HOOK         ethox_event_hook()
#define MICROPY_INTERNAL_WFE(TIMEOUT_MS)    ethox_wfe(TIMEOUT_MS)
// Every so many bytecodes: look at the UART (Ctrl-C) and let scheduled work run.
#define MICROPY_VM_HOOK_COUNT               (4096)
#define MICROPY_VM_HOOK_INIT                static unsigned int vm_hook_divisor = MICROPY_VM_HOOK_COUNT;
#define MICROPY_VM_HOOK_POLL                if (--vm_hook_divisor == 0) { \
        vm_hook_divisor = MICROPY_VM_HOOK_COUNT; \
        ethox_vm_hook(); \
}
#define MICROPY_VM_HOOK_LOOP                MICROPY_VM_HOOK_POLL
#define MICROPY_VM_HOOK_RETURN              MICROPY_VM_HOOK_POLL

// sys.exit(n) and uncaught exceptions leave through isa-debug-exit.
#define MICROPY_BOARD_AFTER_PYTHON_EXEC(input_kind, exec_flags, ret_val, ret) \
    ethox_after_exec((ret_val), (ret))

#define MICROPY_HW_BOARD_NAME               "ethox-uk"
#define MICROPY_HW_MCU_NAME                 "x86_64"
#define MICROPY_BANNER_MACHINE              MICROPY_HW_BOARD_NAME " with " MICROPY_HW_MCU_NAME

// Type definitions for the machine
typedef intptr_t mp_int_t;
typedef uintptr_t mp_uint_t;
typedef long mp_off_t;

#define MP_SSIZE_MAX                        (0x7fffffffffffffffL)
#define UINT_FMT                            "%lu"
#define INT_FMT                             "%ld"

#include <alloca.h>

// lib/libm_dbl has no log2
#define MP_NEED_LOG2                        (1)

#define MP_STATE_PORT                       MP_STATE_VM

// Port hooks (main.c, mphalport.c)
void ethox_event_hook(void);
void ethox_wfe(int timeout_ms);
void ethox_vm_hook(void);
void ethox_after_exec(void *exc, int *ret);
uint32_t ethox_random_seed(void);
