/* Shared by the libFuzzer harnesses: the entry point libFuzzer calls, an invariant check that holds
 * whatever NDEBUG says, and NUL-terminated copies of the input. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Called once per input; returns 0 (libFuzzer reserves other values). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant aborts: libFuzzer saves the input as a crash. */
#define FUZZ_CHECK(cond, ...)                                                                               \
        do {                                                                                                \
                if (!(cond)) {                                                                              \
                        fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);        \
                        fprintf(stderr, __VA_ARGS__);                                                       \
                        fputc('\n', stderr);                                                                \
                        abort();                                                                            \
                }                                                                                           \
        } while (0)

/* The input as a string: a copy with a NUL appended, or NULL when it holds a NUL byte itself (a C string
 * parser never sees those) or memory runs out. */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
        if (memchr(data, '\0', size))
                return NULL;
        char *s = malloc(size + 1);
        if (!s)
                return NULL;
        memcpy(s, data, size);
        s[size] = '\0';
        return s;
}
