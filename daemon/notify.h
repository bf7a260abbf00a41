/* sd_notify() for kukeond, with libsystemd loaded only when systemd asks for notifications.
 *
 * Linked in, libsystemd (and what it pulls in) costs every start of kukeond a few milliseconds, yet only a
 * Type=notify unit needs it, and systemd then sets $NOTIFY_SOCKET (and $WATCHDOG_USEC for a watchdog).
 * So notify_open() loads libsystemd.so.0 with dlopen() only when one of them is set. Otherwise, and when
 * loading fails, every call here is a no-op returning 0, as libsystemd's own are without $NOTIFY_SOCKET. */
#pragma once

#include <stdint.h>

#include "daemon/log.h"

/* Loads libsystemd.so.0 when $NOTIFY_SOCKET or $WATCHDOG_USEC is set; when that fails, logs a warning and
 * kukeond runs on without notifications. Call once, from main(), before the functions below. */
void notify_open(const Log *log);
/* sd_notify(0, state): > 0 when sent, 0 when there is nobody to tell, or a negative errno. */
int notify_send(const char *state);
/* The same with a formatted state; also -ENOMEM. */
int notify_sendf(const char *format, ...) _printf_(1, 2);
/* sd_watchdog_enabled(0, ret_usec): > 0 with the interval in *ret_usec when systemd expects WATCHDOG=1
 * pings, 0 when not, or a negative errno for a malformed $WATCHDOG_USEC. */
int notify_watchdog_enabled(uint64_t *ret_usec);
