/* Waiting for kukeond: inotify on the directories of the status files (libinotifytools is
 * process-global, so this is the only module that touches it), the lock check every second, and the
 * note when nothing holds the lock. */
#include <inotifytools/inotify.h>
#include <inotifytools/inotifytools.h>
#include <limits.h>
#include <stdio.h>
#include <time.h>

#include "common/pidlock.h"
#include "cli/cli.h"

#define WATCH_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF)

int wait_list_add(WaitList *l, const ResourceId *id, const char *digest, int run_state)
{
        WaitItem *it = NULL;
        for (size_t i = 0; i < l->n; i++)
                if (resource_id_equal(&l->items[i].id, id))
                        it = &l->items[i]; /* the last write of a resource is what counts */
        if (!it) {
                WaitItem *items = realloc(l->items, (l->n + 1) * sizeof(*items));
                if (!items)
                        return -ENOMEM;
                l->items = items;
                it = &items[l->n++];
        }
        *it = (WaitItem){.id = *id, .is_delete = !digest, .run_state = run_state};
        if (digest)
                snprintf(it->digest, sizeof(it->digest), "%s", digest);
        return 0;
}

void wait_list_done(WaitList *l)
{
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].reason);
                free(l->items[i].message);
        }
        free(l->items);
        *l = (WaitList){0};
}

static bool state_is_settled(const WaitItem *it, int state)
{
        if (state == STATE_FAILED)
                return true;
        if (it->id.kind != KIND_CELL)
                return state == STATE_READY;
        if (state == STATE_EXITED || state == STATE_ERROR)
                return true;
        if (it->run_state == RUN_STATE_STOPPED)
                return state == STATE_STOPPED;
        return state == STATE_READY || state == STATE_DEGRADED;
}

static void item_check(Store *s, WaitItem *it)
{
        _cleanup_document_ Document *st = NULL;
        _cleanup_(diag_done) Diag diag = DIAG_INIT;
        char rel[PATH_MAX];

        if (it->is_delete && (store_status_path(&it->id, rel, sizeof(rel)) < 0 || !store_exists(s, rel))) {
                it->done = true;
                return;
        }
        /* no status yet, or one we cannot read (kukeond writes atomically, so it is being replaced) */
        if (store_read_status(s, &it->id, &st, &diag) < 0)
                return;
        it->state = st->status.state;
        if (it->is_delete || !streq_ptr(st->status.observed_digest, it->digest) ||
            !state_is_settled(it, st->status.state))
                return;
        it->done = true;
        it->failed = st->status.state == STATE_FAILED;
        it->reason = st->status.reason ? strdup(st->status.reason) : NULL;
        it->message = st->status.message ? strdup(st->status.message) : NULL;
}

/* Returns true when every item is done. */
static bool items_check(Store *s, WaitList *l)
{
        bool all = true;
        for (size_t i = 0; i < l->n; i++) {
                if (!l->items[i].done)
                        item_check(s, &l->items[i]);
                all = all && l->items[i].done;
        }
        return all;
}

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Watches the directory of every status file. Returns true when inotify works (else we poll). */
static bool watch_dirs(Store *s, const WaitList *l)
{
        if (inotifytools_initialize() == 0)
                return false;
        for (size_t i = 0; i < l->n; i++) {
                char rel[PATH_MAX], abs[PATH_MAX * 2];
                if (store_status_path(&l->items[i].id, rel, sizeof(rel)) < 0)
                        continue;
                char *slash = strrchr(rel, '/');
                if (slash)
                        *slash = '\0';
                snprintf(abs, sizeof(abs), "%s%s%s", store_run_path(s), slash ? "/" : "", slash ? rel : "");
                (void)inotifytools_watch_file(abs, WATCH_EVENTS); /* a missing directory: we still poll */
        }
        return true;
}

/* Prints the outcome of the settled items. Returns true when one failed. */
static bool print_settled(const WaitList *l)
{
        bool failed = false;
        for (size_t i = 0; i < l->n; i++) {
                const WaitItem *it = &l->items[i];
                char q[QNAME_MAX];
                if (!it->done)
                        continue;
                if (it->is_delete) {
                        print_result(&it->id, "Removed", NULL);
                        continue;
                }
                print_result(&it->id, strempty(state_to_string(it->state)), NULL);
                if (!it->failed)
                        continue;
                failed = true;
                log_error("%s \"%s\": %s%s%s", kind_to_string(it->id.kind),
                          resource_id_qualified(&it->id, q), it->reason ? it->reason : "Failed",
                          it->message ? ": " : "", strempty(it->message));
        }
        return failed;
}

static void print_timeouts(const WaitList *l, const WriteOpts *o)
{
        for (size_t i = 0; i < l->n; i++) {
                const WaitItem *it = &l->items[i];
                char q[QNAME_MAX];
                if (it->done)
                        continue;
                log_error("timed out after %s waiting for %s \"%s\"%s (state %s)", o->timeout_text,
                          kind_to_string(it->id.kind), resource_id_qualified(&it->id, q),
                          it->is_delete ? " to be removed" : "", strempty(state_to_string(it->state)));
        }
}

static void note_not_running(const Cli *cli)
{
        log_note("kukeond is not running (nothing holds %s/kukeond.pid); the manifests are written and take "
                 "effect when it starts: systemctl start kukeond, or kukeond --run-path %s",
                 cli->state_dir, cli->run_path);
}

/* Returns 1 when everything settled, 0 on timeout, -ESRCH when the daemon went away. */
static int wait_loop(const Cli *cli, Store *s, const WriteOpts *o, WaitList *l)
{
        bool watching = watch_dirs(s, l);
        int64_t deadline = now_ms() + o->timeout_sec * 1000, next_lock_check = now_ms() + 1000;
        int r = 0;

        for (;;) {
                if (items_check(s, l)) {
                        r = 1;
                        break;
                }
                if (now_ms() >= deadline)
                        break;
                if (watching) {
                        /* at most a second, so the lock is checked every second (a timeout of 0
                         * blocks forever in libinotifytools, so a burst is not drained: each event
                         * costs one re-check) */
                        (void)inotifytools_next_event(1);
                } else {
                        (void)usleep(200 * 1000);
                }
                if (now_ms() >= next_lock_check) {
                        next_lock_check = now_ms() + 1000;
                        if (pidlock_test(cli->state_dir, NULL) == 0) {
                                r = items_check(s, l) ? 1 : -ESRCH;
                                break;
                        }
                }
        }
        if (watching)
                inotifytools_cleanup();
        return r;
}

int wait_settle(const Cli *cli, Store *s, const WriteOpts *o, WaitList *l)
{
        if (!o->wait || l->n == 0)
                return EXIT_OK;
        int r = pidlock_test(cli->state_dir, NULL);
        if (r < 0) {
                log_error_errno(r, "cannot check whether kukeond is running (%s/kukeond.pid): %m",
                                cli->state_dir);
                return EXIT_FAIL;
        }
        if (r == 0) {
                note_not_running(cli);
                return o->wait_explicit ? EXIT_FAIL : EXIT_OK;
        }
        r = wait_loop(cli, s, o, l);
        bool failed = print_settled(l);
        if (r == 0)
                print_timeouts(l, o);
        else if (r == -ESRCH)
                log_error("kukeond stopped while waiting (nothing holds %s/kukeond.pid)", cli->state_dir);
        return r == 1 && !failed ? EXIT_OK : EXIT_FAIL;
}
