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

void *memcpy(void *dst, const void *src, size_t n) {
    void *d = dst;
    __asm__ volatile ("rep movsb" : "+D" (d), "+S" (src), "+c" (n) : : "memory");
    return dst;
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
