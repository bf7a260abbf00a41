/* kukeond's log lines on stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "daemon/log.h"

static const char *const level_names[] = {
        [LOG_EMERG] = "emergency", [LOG_ALERT] = "alert",   [LOG_CRIT] = "critical", [LOG_ERR] = "error",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info",     [LOG_DEBUG] = "debug",
};

void log_init(Log *log)
{
        *log = (Log){.max_level = LOG_INFO, .is_journal = getenv("JOURNAL_STREAM") != NULL};
}

int log_level_from_string(const char *s)
{
        if (!s)
                return -EINVAL;
        for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
                if (streq(s, level_names[i]))
                        return i;
        if (streq(s, "warn"))
                return LOG_WARNING;
        return -EINVAL;
}

const char *log_level_to_string(int level)
{
        return level >= 0 && level <= LOG_DEBUG ? level_names[level] : NULL;
}

int log_full_errno(const Log *log, int level, int r, const char *fmt, ...)
{
        int ret = r < 0 ? r : -EIO;
        if (level > log->max_level)
                return ret;
        char line[2048];
        va_list ap;
        errno = r < 0 ? -r : r;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        /* one fprintf per line: stdio locks the stream, so lines of other threads never interleave */
        if (log->is_journal)
                fprintf(stderr, "<%d>%s\n", level, line);
        else if (level <= LOG_WARNING)
                fprintf(stderr, "kukeond: %s: %s\n", level_names[level], line);
        else
                fprintf(stderr, "kukeond: %s\n", line);
        return ret;
}

/* bench phase stamps: see log.h */
void log_stamp_full(const Log *log, const char *fmt, ...)
{
        struct timespec ts;
        char text[1024];
        va_list ap;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        (void)log_full_errno(log, LOG_DEBUG, 0, "stamp %lld.%09ld %s", (long long)ts.tv_sec, ts.tv_nsec,
                             text);
}
