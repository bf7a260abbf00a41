/* From the run path to the table: scanning the tree, deciding what each resource should be, and turning
 * the watcher's events into scans. */
#include <stdio.h>
#include <stdlib.h>

#include "daemon/daemon.h"
#include "daemon/watcher.h"

/* What the tree wants of entry i: its own manifest, then its ancestors'. */
static Desire entry_desire(const Tree *t, size_t i)
{
        const TreeEntry *e = &t->entries[i];
        if (!e->has_spec_file)
                return DESIRE_ABSENT;
        if (!e->spec)
                return DESIRE_INVALID;
        Desire want = DESIRE_PRESENT;
        for (ssize_t p = e->parent; p >= 0; p = t->entries[p].parent) {
                const TreeEntry *a = &t->entries[p];
                /* frozen wins over absent: never tear anything down because of a typo */
                if (a->has_spec_file && !a->spec)
                        return DESIRE_INVALID_PARENT;
                if (!a->has_spec_file)
                        want = DESIRE_ABSENT;
        }
        return want;
}

/* Brings r up to date with entry i. Returns true when what is wanted of it changed. */
static bool sync_entry(Resource *r, Tree *t, size_t i, Desire desire)
{
        TreeEntry *e = &t->entries[i];
        _cleanup_free_ char *error = diag_is_set(&e->error) ? diag_format(&e->error) : NULL;
        bool is_new = r->scan_gen == 0;

        if (is_new && !r->status && e->status) {
                /* first sight: what we made before (a restart adopts it) */
                r->status = TAKE_PTR(e->status);
                recorded_from_status(&r->rec, &r->status->status);
                r->is_live = true;
        }
        if (!is_new && r->status && !e->status && desire != DESIRE_ABSENT)
                r->needs_status_write = true; /* someone removed it: write it again */
        bool changed = is_new || r->needs_status_write || desire != r->desire ||
                       r->has_spec_file != e->has_spec_file || !streq(r->digest, e->digest) ||
                       !streq_ptr(r->error, error);
        if (!streq(r->digest, e->digest) || (!r->spec) != (!e->spec)) {
                document_free(r->spec);
                r->spec = TAKE_PTR(e->spec);
                if (r->spec)
                        (void)document_apply_defaults(r->spec, &r->id);
                snprintf(r->digest, sizeof(r->digest), "%s", e->digest);
        }
        r->desire = desire;
        r->has_spec_file = e->has_spec_file;
        free(r->error);
        r->error = TAKE_PTR(error);
        return changed;
}

typedef struct GoneScan {
        Daemon *d;
        unsigned gen;
        bool full;
        Resource **drop;
        size_t n_drop;
} GoneScan;

/* A resource the tree no longer names: tear it down, or forget it once nothing of it is left. */
static void check_gone(Resource *r, void *userdata)
{
        GoneScan *g = userdata;
        if (r->scan_gen == g->gen)
                return;
        r->in_tree = false;
        if (r->desire != DESIRE_ABSENT || r->spec) {
                r->desire = DESIRE_ABSENT;
                r->has_spec_file = false;
                document_free(r->spec);
                r->spec = NULL;
                r->digest[0] = '\0';
                daemon_mark_dirty(g->d, r);
        } else if (!r->is_live && !r->op && !r->qi.is_queued) {
                Resource **drop = realloc(g->drop, (g->n_drop + 1) * sizeof(*drop));
                if (drop) {
                        g->drop = drop;
                        g->drop[g->n_drop++] = r;
                }
        } else if (g->full) {
                daemon_mark_dirty(g->d, r);
        }
}

int daemon_scan(Daemon *d, bool full)
{
        Tree t = {0};
        log_stamp(&d->log, "daemon - scan full=%d", full); /* BENCH STAMP */
        int r = store_scan(d->store, TREE_WITH_STATUS | TREE_WITH_ORPHANS, &t);
        if (r < 0) {
                daemon_set_last_error(d, "scanning %s: %s", d->config.run_path, strerror(-r));
                return log_error_errno(&d->log, r, "Failed to scan the run path %s: %m", d->config.run_path);
        }
        unsigned gen = ++d->scan_gen;
        if (gen == 0)
                gen = ++d->scan_gen; /* 0 means "never scanned" */
        size_t n_changed = 0;
        /* all of them first: syncing an entry takes its spec, which its children's desire looks at */
        _cleanup_free_ Desire *desires = t.n ? calloc(t.n, sizeof(Desire)) : NULL;
        if (t.n && !desires) {
                tree_done(&t);
                return log_error_errno(&d->log, -ENOMEM, "Failed to scan the run path: %m");
        }
        for (size_t i = 0; i < t.n; i++)
                desires[i] = entry_desire(&t, i);
        for (size_t i = 0; i < t.n; i++) {
                if (t.entries[i].id.kind == KIND_CONTAINER)
                        continue;
                Resource *res = resource_ensure(d, &t.entries[i].id);
                if (!res) {
                        r = -ENOMEM;
                        break;
                }
                bool changed = sync_entry(res, &t, i, desires[i]);
                res->scan_gen = gen;
                res->in_tree = true;
                if (changed || full) {
                        n_changed += changed;
                        daemon_mark_dirty(d, res);
                }
        }
        tree_done(&t);
        if (r < 0)
                return log_error_errno(&d->log, r, "Failed to scan the run path: %m");
        GoneScan g = {.d = d, .gen = gen, .full = full};
        resource_foreach(&d->table, check_gone, &g);
        for (size_t i = 0; i < g.n_drop; i++)
                resource_drop(d, g.drop[i]);
        free(g.drop);
        log_stamp(&d->log, "daemon - scanned resources=%zu changed=%zu", d->table.n,
                  n_changed); /* BENCH STAMP */
        log_debug(&d->log, "Scanned the run path%s: %zu resources, %zu changed",
                  full ? " (full resync)" : "", d->table.n, n_changed);
        return 0;
}

static void on_scan_timer(uv_timer_t *timer)
{
        Daemon *d = timer->data;
        bool full = d->needs_full;
        d->needs_scan = d->needs_full = false;
        d->last_scan_ms = uv_now(&d->loop);
        if (d->is_stopping)
                return;
        bool resync = daemon_scan(d, full) >= 0 && full;
        /* the realms' rounds first, so that their namespace look-ups are not queued behind the lists;
         * every cell waits behind its realm (parked), and finds the lists on their way */
        daemon_pump(d);
        if (resync) {
                ns_snapshots_start(d);
                d->is_gc_due = true; /* once the rounds are over: it would only slow them down */
                daemon_idle_work(d);
        }
        daemon_self_status_update(d);
}

void daemon_request_scan(Daemon *d, bool full)
{
        if (d->is_stopping)
                return;
        d->needs_scan = true;
        d->needs_full = d->needs_full || full;
        /* one scan for a burst of events: the first event arms the timer, the others find it armed */
        if (!uv_is_active((uv_handle_t *)&d->scan_timer) || full)
                (void)uv_timer_start(&d->scan_timer, on_scan_timer, full ? 0 : DAEMON_SCAN_DELAY_MS, 0);
}

/* A manifest was written or moved in: scan at once when no scan ran in the last
 * DAEMON_SCAN_DELAY_MS (one event alone, the usual case, waits for nothing), else when that much time
 * has passed since the last one (a burst still costs one scan per DAEMON_SCAN_DELAY_MS). */
static void request_scan_soon(Daemon *d)
{
        if (d->is_stopping)
                return;
        d->needs_scan = true;
        uint64_t since = uv_now(&d->loop) - d->last_scan_ms;
        uint64_t delay = since >= DAEMON_SCAN_DELAY_MS ? 0 : DAEMON_SCAN_DELAY_MS - since;
        if (uv_is_active((uv_handle_t *)&d->scan_timer) && uv_timer_get_due_in(&d->scan_timer) <= delay)
                return;
        (void)uv_timer_start(&d->scan_timer, on_scan_timer, delay, 0);
}

void daemon_on_watch_event(const char *relpath, uint32_t mask, void *userdata)
{
        Daemon *d = userdata;
        ResourceId id;
        FileRole role;

        log_stamp(&d->log, "path %s event 0x%x", relpath, mask); /* BENCH STAMP: the event is read */
        if (mask & WATCHER_READY) {
                log_debug(&d->log, "Watching %s", d->config.run_path);
                return;
        }
        if (mask & WATCHER_FAILED) {
                daemon_set_last_error(d, "watching the run path: %s", relpath);
                log_error(&d->log,
                          "Watching the run path failed (%s); only the periodic resync sees changes now",
                          relpath);
                return;
        }
        if (mask & WATCHER_RESYNC) {
                log_info(&d->log, "Events were lost: resyncing everything");
                daemon_request_scan(d, true);
                return;
        }
        if (!*relpath || store_classify_path(relpath, &id, &role) < 0)
                return;
        log_debug(&d->log, "Event 0x%x on %s", mask, relpath);
        if (role == FILE_DIR && id.kind == KIND_CONTAINER)
                return; /* a cell's logs/ or containers/ directory: no manifest comes with it */
        switch (role) {
        case FILE_SPEC:
        case FILE_DIR:
                /* a manifest written or moved in is scanned at once, and so is a cell's manifest
                 * removed when nothing else is pending; the rest waits for the burst to settle: a file
                 * just created may still be being written (its IN_CLOSE_WRITE follows), a new
                 * directory's files are reported one by one, and an `rm -r` of a stack or a space is
                 * better let finish (its cells, seen without their parent, would write a status into
                 * directories it is emptying, and its rmdir would fail) */
                if (mask & IN_ISDIR)
                        daemon_request_scan(d, false);
                else if (mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
                        request_scan_soon(d);
                else if (mask & (IN_DELETE | IN_MOVED_FROM) && role == FILE_SPEC && id.kind == KIND_CELL &&
                         !uv_is_active((uv_handle_t *)&d->scan_timer))
                        request_scan_soon(d);
                else
                        daemon_request_scan(d, false);
                break;
        case FILE_STATUS:
        case FILE_CONFLIST:
                /* our own files, removed behind our back: the scan (after a burst, so an rm -r is over
                 * by then) decides whether they are written again */
                if (mask & (IN_DELETE | IN_MOVED_FROM))
                        daemon_request_scan(d, false);
                break;
        default:
                break;
        }
}
