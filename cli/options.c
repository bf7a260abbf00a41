/* The options every verb shares, and the parsers of their values. */
#include <inttypes.h>
#include <stdio.h>
#include <strings.h>

#include "cli/cli.h"

int duration_parse(const char *s, int64_t *ret)
{
        char *end = NULL;
        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0 || v > INT64_MAX / 3600)
                return -EINVAL;
        int64_t mult;
        if (streq(end, "") || streq(end, "s"))
                mult = 1;
        else if (streq(end, "m"))
                mult = 60;
        else if (streq(end, "h"))
                mult = 3600;
        else
                return -EINVAL;
        *ret = (int64_t)v * mult;
        return 0;
}

int bool_parse(const char *s, bool *ret)
{
        static const char *const yes[] = {"true", "yes", "1", "on"};
        static const char *const no[] = {"false", "no", "0", "off"};
        for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ARRAY_SIZE(no); i++)
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

static int option_write(WriteOpts *w, int c, const char *arg)
{
        if (c == ARG_WAIT) {
                bool b = true;
                if (arg && bool_parse(arg, &b) < 0) {
                        log_error("--wait takes true or false, not \"%s\"", arg);
                        return -EINVAL;
                }
                w->wait = b;
                w->wait_explicit = b;
                return 1;
        }
        int64_t t;
        if (duration_parse(arg, &t) < 0) {
                log_error("--timeout takes a duration like 90s, 2m or 1h, not \"%s\"", arg);
                return -EINVAL;
        }
        w->timeout_sec = t;
        size_t len = strlen(arg);
        bool has_unit = len > 0 && (arg[len - 1] < '0' || arg[len - 1] > '9');
        snprintf(w->timeout_text, sizeof(w->timeout_text), "%s%s", arg, has_unit ? "" : "s");
        return 1;
}

int option_common(Cli *cli, WriteOpts *w, Scope *sc, int c, const char *arg)
{
        switch (c) {
        case ARG_RUN_PATH:
                cli->run_path = arg;
                return 1;
        case ARG_STATE_DIR:
                cli->state_dir = arg;
                return 1;
        case ARG_WAIT:
        case ARG_TIMEOUT:
                return w ? option_write(w, c, arg) : 0;
        case ARG_REALM:
        case ARG_SPACE:
        case ARG_STACK:
        case ARG_CELL:
                if (!sc)
                        return 0;
                if (c == ARG_REALM)
                        sc->realm = arg;
                else if (c == ARG_SPACE)
                        sc->space = arg;
                else if (c == ARG_STACK)
                        sc->stack = arg;
                else
                        sc->cell = arg;
                return 1;
        default:
                return 0;
        }
}

int option_error(const char *verb, int c, char **argv)
{
        const char *opt = argv[optind - 1];
        if (c == ':')
                return log_usage(verb, "option \"%s\" needs a value", opt);
        if (c == '?' && optopt > 0 && optopt < 0x100)
                return log_usage(verb, "unknown option \"-%c\"", optopt);
        if (c == '?' && optopt == 0)
                return log_usage(verb, "unknown option \"%s\"", opt);
        return log_usage(verb, "invalid use of option \"%s\"", opt);
}
