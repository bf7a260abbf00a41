/* Messages for people: errors and notes on stderr, one line each. */
#include <stdarg.h>
#include <stdio.h>

#include "cli/cli.h"

static void log_line(const char *prefix, const char *fmt, va_list ap) _printf_(2, 0);
static void log_line(const char *prefix, const char *fmt, va_list ap)
{
        fflush(stdout); /* keep stdout and stderr in order when both go to one terminal */
        fprintf(stderr, "kuke: %s: ", prefix);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
}

void log_error(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        log_line("error", fmt, ap);
        va_end(ap);
}

int log_error_errno(int r, const char *fmt, ...)
{
        va_list ap;
        errno = r < 0 ? -r : r;
        va_start(ap, fmt);
        log_line("error", fmt, ap);
        va_end(ap);
        return r;
}

void log_note(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        log_line("note", fmt, ap);
        va_end(ap);
}

void log_diag(const Diag *d)
{
        _cleanup_free_ char *s = diag_format(d);
        log_error("%s", s ? s : strempty(d->message));
}

int log_usage(const char *verb, const char *fmt, ...)
{
        va_list ap;
        fflush(stdout);
        fputs("kuke: error: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (see kuke %s%s--help)\n", strempty(verb), verb ? " " : "");
        return EXIT_USAGE;
}
