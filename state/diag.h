/* A positioned diagnostic: "file:line:col: field.path: message". */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "common/macro.h"

typedef struct Diag {
        char *file;    /* may be NULL */
        unsigned line; /* 0 when unknown */
        unsigned col;
        char *path;    /* field path, may be NULL */
        char *message; /* NULL when there is no diagnostic */
} Diag;

#define DIAG_INIT ((Diag){0})

/* Sets d (replacing what it held). Returns -ENOMEM or the negative error code r passed in, so callers
 * can write `return diag_set(d, -EINVAL, ...)`. */
int diag_set(Diag *d, int r, const char *file, unsigned line, unsigned col, const char *path,
             const char *fmt, ...) _printf_(7, 8);
int diag_setv(Diag *d, int r, const char *file, unsigned line, unsigned col, const char *path,
              const char *fmt, va_list ap) _printf_(7, 0);
/* Formats "file:line:col: path: message" (parts that are unknown are left out). Caller frees. */
char *diag_format(const Diag *d);
void diag_done(Diag *d);
/* Moves src into dst (dst's old content is freed). */
void diag_move(Diag *dst, Diag *src);
static inline int diag_is_set(const Diag *d)
{
        return d->message != NULL;
}
