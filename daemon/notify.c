/* sd_notify() through a libsystemd loaded on demand (see notify.h). */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "daemon/notify.h"

/* Both set or both NULL. */
static typeof(sd_notify) *sym_sd_notify;
static typeof(sd_watchdog_enabled) *sym_sd_watchdog_enabled;

void notify_open(const Log *log)
{
        if (!getenv("NOTIFY_SOCKET") && !getenv("WATCHDOG_USEC"))
                return;
        void *dl = dlopen("libsystemd.so.0", RTLD_NOW);
        if (dl && (sym_sd_notify = dlsym(dl, "sd_notify")) &&
            (sym_sd_watchdog_enabled = dlsym(dl, "sd_watchdog_enabled")))
                return;
        log_warning(log, "Cannot load libsystemd, systemd will not be notified: %s", dlerror());
        sym_sd_notify = NULL;
        if (dl)
                (void)dlclose(dl);
}

int notify_send(const char *state)
{
        return sym_sd_notify ? sym_sd_notify(0, state) : 0;
}

int notify_sendf(const char *format, ...)
{
        if (!sym_sd_notify)
                return 0;
        char *state;
        va_list ap;
        va_start(ap, format);
        int n = vasprintf(&state, format, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        int r = sym_sd_notify(0, state);
        free(state);
        return r;
}

int notify_watchdog_enabled(uint64_t *ret_usec)
{
        return sym_sd_watchdog_enabled ? sym_sd_watchdog_enabled(0, ret_usec) : 0;
}
