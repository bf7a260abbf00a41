/* kukeond's log: one line per message on stderr, with a syslog priority. Under systemd (JOURNAL_STREAM
 * set) each line starts with "<N>" so journald files it at that priority; on a terminal it reads
 * "kukeond: warning: ...". Only daemon/ logs; the libraries it calls return errors and messages. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

#include "common/macro.h"

typedef struct Log {
        int max_level;   /* LOG_ERR .. LOG_DEBUG: messages above it are dropped */
        bool is_journal; /* stderr is connected to the journal */
} Log;

/* Initialises from the environment (JOURNAL_STREAM) with max_level LOG_INFO. */
void log_init(Log *log);

/* "error", "warning", "notice", "info", "debug" → LOG_*; -EINVAL for anything else. */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

/* Logs one line. errno is set to -r (or r) first, so the format may use %m. Returns r when r < 0, else
 * -EIO, so callers can write `return log_error_errno(log, r, "...: %m")`. */
int log_full_errno(const Log *log, int level, int r, const char *fmt, ...) _printf_(4, 5);

#define log_error_errno(log, r, ...)   log_full_errno(log, LOG_ERR, r, __VA_ARGS__)
#define log_warning_errno(log, r, ...) log_full_errno(log, LOG_WARNING, r, __VA_ARGS__)
#define log_error(log, ...)            (void)log_full_errno(log, LOG_ERR, 0, __VA_ARGS__)
#define log_warning(log, ...)          (void)log_full_errno(log, LOG_WARNING, 0, __VA_ARGS__)
#define log_notice(log, ...)           (void)log_full_errno(log, LOG_NOTICE, 0, __VA_ARGS__)
#define log_info(log, ...)             (void)log_full_errno(log, LOG_INFO, 0, __VA_ARGS__)
#define log_debug(log, ...)            (void)log_full_errno(log, LOG_DEBUG, 0, __VA_ARGS__)

/* ---- bench phase stamps (tests/bench/, docs/performance.md) ----
 * One debug line "stamp <CLOCK_MONOTONIC seconds.nanoseconds> <text>", from which the benchmark harness
 * computes where the time of a convergence went. Call log_stamp(): it checks the level before the clock
 * is read or an argument is evaluated, so stamps cost one comparison when debug is off. */
void log_stamp_full(const Log *log, const char *fmt, ...) _printf_(2, 3);
#define log_stamp(log, ...)                                                                                 \
        do {                                                                                                \
                if ((log)->max_level >= LOG_DEBUG)                                                          \
                        log_stamp_full(log, __VA_ARGS__);                                                   \
        } while (0)
