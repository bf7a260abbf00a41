/* Watching the run path with libinotifytools without blocking the loop (docs/watching.md).
 *
 * libinotifytools keeps process-global state, does not expose its fd and only blocks in
 * inotifytools_next_event(). So one dedicated thread owns every call into it: it sets recursive watches,
 * adds watches for new directories and walks them (a directory created and filled at once is reported
 * file by file), and hands (path, mask) to the loop through a mutex-protected queue and a uv_async.
 * This module is the only one that includes libinotifytools. */
#pragma once

#include <stdint.h>
#include <sys/inotify.h>
#include <uv.h>

/* Bits of the mask beside the IN_* ones. */
#define WATCHER_RESYNC 0x00004000u /* = IN_Q_OVERFLOW: events were lost, rescan everything (path "") */
#define WATCHER_READY  0x00100000u /* the watches are in place (path "") */
#define WATCHER_FAILED 0x08000000u /* watching stopped; path is the message */

/* The events watched on every directory of the run path. */
#define WATCHER_EVENTS                                                                                      \
        (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF)

/* Queued events beyond which the rest are dropped and one WATCHER_RESYNC is delivered instead. */
#define WATCHER_QUEUE_MAX 65536

typedef struct Watcher Watcher;

/* Runs on the loop's thread, once per event, in order. relpath is relative to the watched root ("" for
 * the root itself); paths with a component starting with '.' are never reported. */
typedef void (*watcher_event_cb)(const char *relpath, uint32_t mask, void *userdata);

/* Starts watching root (an existing directory). wake_dir is a directory of ours (the state dir) where a
 * file ".kukeond-watcher" is kept: touching it is how watcher_stop() wakes the thread. Returns 0 (the
 * watches are set up on the thread; WATCHER_READY or WATCHER_FAILED follows) or -errno. */
int watcher_start(uv_loop_t *loop, const char *root, const char *wake_dir, watcher_event_cb cb,
                  void *userdata, Watcher **ret);

/* Stops the thread (it is woken and joined: it answers at once), drops undelivered events and closes the
 * async handle; the memory goes once the loop has run the close callback. Accepts NULL. */
void watcher_stop(Watcher *w);
