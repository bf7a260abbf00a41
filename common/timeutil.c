#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/macro.h"
#include "common/timeutil.h"

char *time_format_rfc3339(int64_t t, char buf[static RFC3339_MAX])
{
        struct tm tm;
        time_t tt = (time_t)t;
        if (!gmtime_r(&tt, &tm) || strftime(buf, RFC3339_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, RFC3339_MAX, "1970-01-01T00:00:00Z");
        return buf;
}

static int parse_digits(const char **p, int n, int *ret)
{
        int v = 0;
        for (int i = 0; i < n; i++) {
                char c = (*p)[i];
                if (c < '0' || c > '9')
                        return -EINVAL;
                v = v * 10 + (c - '0');
        }
        *p += n;
        *ret = v;
        return 0;
}

static int expect_char(const char **p, const char *set)
{
        if (**p == '\0' || !strchr(set, **p))
                return -EINVAL;
        (*p)++;
        return 0;
}

int time_parse_rfc3339(const char *s, int64_t *ret)
{
        const char *p = s;
        int year, mon, day, hour, min, sec;
        if (parse_digits(&p, 4, &year) < 0 || expect_char(&p, "-") < 0 || parse_digits(&p, 2, &mon) < 0 ||
            expect_char(&p, "-") < 0 || parse_digits(&p, 2, &day) < 0 || expect_char(&p, "Tt ") < 0 ||
            parse_digits(&p, 2, &hour) < 0 || expect_char(&p, ":") < 0 || parse_digits(&p, 2, &min) < 0 ||
            expect_char(&p, ":") < 0 || parse_digits(&p, 2, &sec) < 0)
                return -EINVAL;
        if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
                return -EINVAL;
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                while (*p >= '0' && *p <= '9')
                        p++;
        }
        int64_t offset = 0;
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if (*p == '+' || *p == '-') {
                int sign = *p == '-' ? -1 : 1, oh, om;
                p++;
                if (parse_digits(&p, 2, &oh) < 0 || expect_char(&p, ":") < 0 ||
                    parse_digits(&p, 2, &om) < 0 || oh > 23 || om > 59)
                        return -EINVAL;
                offset = sign * (oh * 3600 + om * 60);
        } else {
                return -EINVAL;
        }
        if (*p != '\0')
                return -EINVAL;
        if (sec == 60)
                sec = 59; /* a leap second: time_t cannot hold it */
        struct tm tm = {
                .tm_year = year - 1900,
                .tm_mon = mon - 1,
                .tm_mday = day,
                .tm_hour = hour,
                .tm_min = min,
                .tm_sec = sec,
        };
        time_t t = timegm(&tm);
        if (tm.tm_mday != day) /* normalised away: 31 April and the like */
                return -EINVAL;
        *ret = (int64_t)t - offset;
        return 0;
}

char *time_format_age(int64_t now, int64_t since, char *buf, size_t size)
{
        if (since <= 0) {
                snprintf(buf, size, "-");
                return buf;
        }
        int64_t d = now - since;
        if (d < 0)
                d = 0;
        if (d >= 86400)
                snprintf(buf, size, "%lldd", (long long)(d / 86400));
        else if (d >= 3600)
                snprintf(buf, size, "%lldh", (long long)(d / 3600));
        else if (d >= 60)
                snprintf(buf, size, "%lldm", (long long)(d / 60));
        else
                snprintf(buf, size, "%llds", (long long)d);
        return buf;
}

int64_t time_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec;
}
