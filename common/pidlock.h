/* The daemon's exclusive lock on <state-dir>/kukeond.pid (flock), and the CLI's test of it. */
#pragma once

#include <sys/types.h>

/* Takes the lock (creating the state dir and file), writes our pid into the file and returns the held
 * fd (close-on-exec; keep it open for the daemon's lifetime). -EWOULDBLOCK when another process holds
 * it; *ret_holder then has that process's pid when the file names one, else 0. */
int pidlock_acquire(const char *state_dir, pid_t *ret_holder);
/* 1 when some process holds the lock (*ret_holder = its recorded pid or 0), 0 when nobody does (or the
 * file does not exist), <0 on other errors. Never creates anything. */
int pidlock_test(const char *state_dir, pid_t *ret_holder);
