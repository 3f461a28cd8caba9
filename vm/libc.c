/*
 * ethox-uk runtime: the little C library the interpreter needs.
 * (Headers come from musl-dev; no musl code is linked.)  Built with
 * -fno-builtin so gcc does not turn these loops back into calls to
 * themselves, nor sin+cos into sincos inside sincos.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

/* Under TCG `rep movsb` runs one translated iteration per byte (~3 ns/byte,
 * measured 103 us per 32 KiB) while a loop of 8-byte moves is ~10x faster;
 * on KVM (native ring 3, ERMS) `rep movsb` is the fastest (0.7 us per 32 KiB).
 * memcpy_calibrate() times both once at boot and sets copy_words. */
typedef uint64_t __attribute__((may_alias, aligned(1))) u64_unaligned;
static int copy_words;

static inline void copy_movsb(void *d, const void *s, size_t n) {
    __asm__ volatile ("rep movsb" : "+D" (d), "+S" (s), "+c" (n) : : "memory");
}

static void copy_u64(void *dst, const void *src, size_t n) {
    u64_unaligned *d = dst;
    const u64_unaligned *s = src;
    size_t w = n >> 3;
    while (w >= 4) {
        uint64_t a = s[0], b = s[1], c = s[2], e = s[3];
        d[0] = a; d[1] = b; d[2] = c; d[3] = e;
        d += 4; s += 4; w -= 4;
    }
    while (w--) {
        *d++ = *s++;
    }
    copy_movsb(d, s, n & 7);
}

void *memcpy(void *dst, const void *src, size_t n) {
    if (copy_words && n >= 64) {
        copy_u64(dst, src, n);
    } else {
        copy_movsb(dst, src, n);
    }
    return dst;
}

static inline uint64_t tsc(void) {
    uint32_t lo, hi;
    __asm__ volatile ("rdtsc" : "=a" (lo), "=d" (hi));
    return ((uint64_t)hi << 32) | lo;
}

void memcpy_calibrate(void) {
    static uint8_t a[4096], b[4096];
    uint64_t best_b = ~0ull, best_w = ~0ull;
    for (int i = 0; i < 3; i++) {
        uint64_t t0 = tsc();
        copy_movsb(b, a, sizeof(a));
        uint64_t t1 = tsc();
        copy_u64(a, b, sizeof(a));
        uint64_t t2 = tsc();
        if (t1 - t0 < best_b) {
            best_b = t1 - t0;
        }
        if (t2 - t1 < best_w) {
            best_w = t2 - t1;
        }
    }
    copy_words = best_w < best_b;
}

int memcpy_uses_words(void) {
    return copy_words;
}

void *memmove(void *dst, const void *src, size_t n) {
    if (dst == src) {
        /* MicroPython's slice assignment into a big buffer moves its tail onto itself */
        return dst;
    }
    if ((uintptr_t)dst - (uintptr_t)src >= n) {
        return memcpy(dst, src, n);
    }
    /* overlapping, destination above source: copy backwards */
    void *d = (char *)dst + n - 1;
    const void *s = (const char *)src + n - 1;
    __asm__ volatile ("std; rep movsb; cld" : "+D" (d), "+S" (s), "+c" (n) : : "memory");
    return dst;
}

void *memset(void *dst, int c, size_t n) {
    void *d = dst;
    __asm__ volatile ("rep stosb" : "+D" (d), "+c" (n) : "a" (c) : "memory");
    return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *p = a, *q = b;
    for (; n; n--, p++, q++) {
        if (*p != *q) {
            return *p - *q;
        }
    }
    return 0;
}

void *memchr(const void *s, int c, size_t n) {
    const unsigned char *p = s;
    for (; n; n--, p++) {
        if (*p == (unsigned char)c) {
            return (void *)p;
        }
    }
    return NULL;
}

size_t strlen(const char *s) {
    const char *p = s;
    while (*p) {
        p++;
    }
    return p - s;
}

int strcmp(const char *a, const char *b) {
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n) {
    for (; n; n--, a++, b++) {
        if (*a != *b || !*a) {
            return (unsigned char)*a - (unsigned char)*b;
        }
    }
    return 0;
}

char *strchr(const char *s, int c) {
    for (;; s++) {
        if (*s == (char)c) {
            return (char *)s;
        }
        if (!*s) {
            return NULL;
        }
    }
}

char *strrchr(const char *s, int c) {
    const char *r = NULL;
    for (;; s++) {
        if (*s == (char)c) {
            r = s;
        }
        if (!*s) {
            return (char *)r;
        }
    }
}

char *strcpy(char *d, const char *s) {
    char *r = d;
    while ((*d++ = *s++)) {
    }
    return r;
}

char *strcat(char *d, const char *s) {
    strcpy(d + strlen(d), s);
    return d;
}

char *strstr(const char *h, const char *n) {
    size_t l = strlen(n);
    for (; *h; h++) {
        if (!strncmp(h, n, l)) {
            return (char *)h;
        }
    }
    return l ? NULL : (char *)h;
}

/* littlefs splits paths with these two */
size_t strspn(const char *s, const char *accept) {
    size_t n = 0;
    while (s[n] && strchr(accept, s[n])) {
        n++;
    }
    return n;
}

size_t strcspn(const char *s, const char *reject) {
    size_t n = 0;
    while (s[n] && !strchr(reject, s[n])) {
        n++;
    }
    return n;
}

void abort(void) {
    extern void __fatal_error(const char *msg) __attribute__((noreturn));
    __fatal_error("abort");
}

/* gcc fuses sin(x) and cos(x) into sincos(); lib/libm_dbl has none */
void sincos(double x, double *s, double *c) {
    *s = sin(x);
    *c = cos(x);
}

double fabs(double x) {
    return __builtin_fabs(x);
}

double copysign(double x, double y) {
    return __builtin_copysign(x, y);
}

double nan(const char *tag) {
    (void)tag;
    return __builtin_nan("");
}
