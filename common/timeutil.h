/* RFC 3339 timestamps (UTC, second precision) and human ages. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define RFC3339_MAX 32

/* Formats t (seconds since the epoch) as "2006-01-02T15:04:05Z" into buf (RFC3339_MAX bytes). */
char *time_format_rfc3339(int64_t t, char buf[static RFC3339_MAX]);
/* Parses an RFC 3339 date-time with "Z" or a numeric offset; fractional seconds are dropped.
 * Returns 0 or -EINVAL. */
int time_parse_rfc3339(const char *s, int64_t *ret);
/* Formats an age the way kubectl does: "45s", "3m", "5h", "2d"; "-" when since is 0. */
char *time_format_age(int64_t now, int64_t since, char *buf, size_t size);
/* Seconds since the epoch (CLOCK_REALTIME). */
int64_t time_now(void);
