/* The checks of the containerd integration programs: a failed check prints where and ends the program
 * (the driving script's trap cleans up). Everything is static: one test program includes it. */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"

static _Noreturn _printf_(3, 4) void die_at(const char *file, int line, const char *fmt, ...)
{
        const char *base = strrchr(file, '/');
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "%s:%d: FAIL: ", base ? base + 1 : file, line);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        exit(1);
}

#define die(line, ...) die_at(__FILE__, (line), __VA_ARGS__)

#define CHECK(cond)                                                                                         \
        do {                                                                                                \
                if (!(cond))                                                                                \
                        die(__LINE__, "%s", #cond);                                                         \
        } while (0)

/* res: any struct with int r and char message[] */
#define CHECK_R(res, want)                                                                                  \
        do {                                                                                                \
                if ((res).r != (want))                                                                      \
                        die(__LINE__, "got %d (%s) \"%s\", wanted %d", (res).r,                             \
                            (res).r < 0 ? strerror(-(res).r) : "ok", (res).message, (want));                \
        } while (0)
