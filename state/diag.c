#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/buf.h"
#include "state/diag.h"

int diag_set(Diag *d, int r, const char *file, unsigned line, unsigned col, const char *path,
             const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        r = diag_setv(d, r, file, line, col, path, fmt, ap);
        va_end(ap);
        return r;
}

int diag_setv(Diag *d, int r, const char *file, unsigned line, unsigned col, const char *path,
              const char *fmt, va_list ap)
{
        Diag n = {.line = line, .col = col};
        Buf b = BUF_INIT;
        int k = buf_vprintf(&b, fmt, ap);
        n.message = buf_steal(&b);
        n.file = file ? strdup(file) : NULL;
        n.path = path && *path ? strdup(path) : NULL;
        if (k < 0 || !n.message || (file && !n.file) || (path && *path && !n.path)) {
                diag_done(&n);
                return -ENOMEM;
        }
        diag_done(d);
        *d = n;
        return r;
}

char *diag_format(const Diag *d)
{
        Buf b = BUF_INIT;
        int r = 0;
        if (d->file)
                r |= buf_printf(&b, "%s:", d->file);
        if (d->line > 0)
                r |= buf_printf(&b, "%u:%u:", d->line, d->col);
        if (b.len > 0)
                r |= buf_puts(&b, " ");
        if (d->path)
                r |= buf_printf(&b, "%s: ", d->path);
        r |= buf_puts(&b, strempty(d->message));
        if (r < 0) {
                buf_done(&b);
                return NULL;
        }
        return buf_steal(&b);
}

void diag_done(Diag *d)
{
        free(d->file);
        free(d->path);
        free(d->message);
        *d = DIAG_INIT;
}

void diag_move(Diag *dst, Diag *src)
{
        diag_done(dst);
        *dst = *src;
        *src = DIAG_INIT;
}
