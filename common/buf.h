/* A growable byte buffer, always NUL-terminated. */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "common/macro.h"

typedef struct Buf {
        char *data;
        size_t len;
        size_t cap;
} Buf;

#define BUF_INIT ((Buf){NULL, 0, 0})

/* Appends len bytes. Returns 0 or -ENOMEM. */
int buf_append(Buf *b, const void *p, size_t len);
/* Appends a string. Returns 0 or -ENOMEM. */
int buf_puts(Buf *b, const char *s);
/* Appends formatted text. Returns 0 or -ENOMEM. */
int buf_printf(Buf *b, const char *fmt, ...) _printf_(2, 3);
int buf_vprintf(Buf *b, const char *fmt, va_list ap) _printf_(2, 0);
/* Gives the data to the caller (never NULL on success: an empty buffer yields ""); the buffer is reset. */
char *buf_steal(Buf *b);
void buf_done(Buf *b);
