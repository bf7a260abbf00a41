/* Namespace snapshots: adoption at scale (see daemon.h).
 *
 * A restarted kukeond (or any full resync) used to read each cell with a Containers.List filtered by the
 * cell's labels — containerd walks every container of the namespace for each — and a Tasks.Get per
 * container. Now the resync lists each realm's namespace once (containers and tasks, in parallel), splits
 * the answer per cell, and hands each cell of the realm its part (possibly empty: no containers). Cells
 * whose round starts while the lists are on their way wait for them. The parts are handed out only when
 * d->ctrd_seq says that nothing happened in the namespace since the lists were asked for; each becomes
 * what its cell carries (observe-cell.c), used once while nothing concerning the cell happens. Otherwise
 * the cell reads containerd itself as before. */
#include <stdio.h>
#include <stdlib.h>

#include "daemon/daemon.h"

typedef struct SnapEntry {
        char space[NAME_MAX_LEN + 1], stack[NAME_MAX_LEN + 1], cell[NAME_MAX_LEN + 1];
        ObservedContainer o;
        ContainerExtra x;
} SnapEntry;

typedef struct SnapTask {
        char *container_id;
        CtrdTask task; /* its container_id and paths are not kept */
} SnapTask;

struct NsSnap {
        struct NsSnap *next;
        Daemon *d;
        char ns[NAME_MAX_LEN + 16];
        char realm[NAME_MAX_LEN + 1];
        uint64_t seq, taken_ms;
        unsigned n_calls;
        int error;
        SnapEntry *entries;
        size_t n_entries;
        SnapTask *tasks;
        size_t n_tasks;
        Op **waiters;
        size_t n_waiters;
};

static void ns_snap_free(struct NsSnap *s)
{
        for (size_t i = 0; i < s->n_entries; i++)
                container_extra_done(&s->entries[i].x);
        free(s->entries);
        for (size_t i = 0; i < s->n_tasks; i++)
                free(s->tasks[i].container_id);
        free(s->tasks);
        free(s->waiters);
        free(s);
}

static int entry_cmp(const void *a, const void *b)
{
        const SnapEntry *x = a, *y = b;
        int c = strcmp(x->space, y->space);
        if (!c)
                c = strcmp(x->stack, y->stack);
        return c ? c : strcmp(x->cell, y->cell);
}

static int task_cmp(const void *a, const void *b)
{
        return strcmp(((const SnapTask *)a)->container_id, ((const SnapTask *)b)->container_id);
}

typedef struct Install {
        struct NsSnap *s;
        int error;
} Install;

/* Gives one cell of the snapshot's realm its entries (they are sorted: one contiguous run). */
static void install_one(Resource *r, void *userdata)
{
        Install *in = userdata;
        struct NsSnap *s = in->s;
        if (in->error || r->id.kind != KIND_CELL || !streq(r->id.realm, s->realm))
                return;
        SnapEntry key;
        snprintf(key.space, sizeof(key.space), "%s", r->id.space);
        snprintf(key.stack, sizeof(key.stack), "%s", r->id.stack);
        snprintf(key.cell, sizeof(key.cell), "%s", r->id.cell);
        size_t lo = 0, hi = s->n_entries;
        while (lo < hi) { /* the first entry not before key */
                size_t mid = lo + (hi - lo) / 2;
                if (entry_cmp(&s->entries[mid], &key) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        size_t n = 0;
        while (lo + n < s->n_entries && entry_cmp(&s->entries[lo + n], &key) == 0)
                n++;
        struct CellCarry *c = calloc(1, sizeof(*c));
        if (!c ||
            (n && (!(c->obs = calloc(n, sizeof(*c->obs))) || !(c->extra = calloc(n, sizeof(*c->extra)))))) {
                cell_carry_free(c);
                in->error = -ENOMEM;
                return;
        }
        /* nothing happened in the namespace since the lists were asked for (d->ctrd_seq): from now on
         * what concerns this cell is what makes its part stale, as for any carried observation */
        c->epoch = r->ctrd_epoch;
        c->gen = s->d->ctrd_gen;
        c->taken_ms = s->taken_ms;
        for (size_t i = 0; i < n; i++) {
                SnapEntry *e = &s->entries[lo + i];
                c->obs[i] = e->o;
                c->extra[i] = e->x;
                e->x = (ContainerExtra){0}; /* moved */
                c->n++;
        }
        cell_carry_free(r->carry);
        r->carry = c;
}

static void ns_snap_complete(struct NsSnap *s)
{
        Daemon *d = s->d;
        for (struct NsSnap **p = &d->snaps; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        bool usable = !s->error && !d->is_stopping && d->ctrd_seq == s->seq;
        log_stamp(&d->log, "daemon - snapshot %s containers=%zu tasks=%zu usable=%d", s->ns, s->n_entries,
                  s->n_tasks, usable); /* BENCH STAMP */
        if (usable) {
                if (s->n_entries)
                        qsort(s->entries, s->n_entries, sizeof(*s->entries), entry_cmp);
                if (s->n_tasks)
                        qsort(s->tasks, s->n_tasks, sizeof(*s->tasks), task_cmp);
                for (size_t i = 0; i < s->n_entries && s->n_tasks; i++) {
                        SnapTask key = {.container_id = s->entries[i].x.containerd_id};
                        const SnapTask *t = bsearch(&key, s->tasks, s->n_tasks, sizeof(*s->tasks), task_cmp);
                        if (t)
                                observed_task_set(&s->entries[i].o, &t->task);
                }
                Install in = {s, 0};
                resource_foreach(&d->table, install_one, &in);
        } else if (s->error) {
                log_debug(&d->log, "Listing namespace %s at once failed (%s): each cell reads its own",
                          s->ns, strerror(-s->error));
        }
        /* the waiters go on: with their part, or reading containerd themselves */
        Op **waiters = TAKE_PTR(s->waiters);
        size_t n = s->n_waiters;
        ns_snap_free(s);
        d->queue.n_running += n;
        for (size_t i = 0; i < n; i++)
                observe_cell_containers(waiters[i]);
        free(waiters);
}

static void call_done(struct NsSnap *s, int r)
{
        if (r < 0 && !s->error)
                s->error = r;
        if (--s->n_calls == 0)
                ns_snap_complete(s);
}

static void on_containers(int r, const char *message, const CtrdContainer *list, size_t n, void *userdata)
{
        struct NsSnap *s = userdata;
        (void)message;
        if (r >= 0 && n && !(s->entries = calloc(n, sizeof(*s->entries))))
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const CtrdContainer *c = &list[i];
                const char *realm = ctrd_label_get(c->labels, c->n_labels, CTRD_LABEL_REALM);
                const char *space = ctrd_label_get(c->labels, c->n_labels, CTRD_LABEL_SPACE);
                const char *stack = ctrd_label_get(c->labels, c->n_labels, CTRD_LABEL_STACK);
                const char *cell = ctrd_label_get(c->labels, c->n_labels, CTRD_LABEL_CELL);
                if (!realm || !space || !stack || !cell || !streq(realm, s->realm) ||
                    !ctrd_label_get(c->labels, c->n_labels, CTRD_LABEL_CONTAINER))
                        continue; /* not one of ours: each cell's filtered list would not have it either */
                SnapEntry *e = &s->entries[s->n_entries++];
                snprintf(e->space, sizeof(e->space), "%s", space);
                snprintf(e->stack, sizeof(e->stack), "%s", stack);
                snprintf(e->cell, sizeof(e->cell), "%s", cell);
                r = container_observe_fill(c, &e->o, &e->x);
        }
        call_done(s, r);
}

static void on_tasks(int r, const char *message, const CtrdTask *tasks, size_t n, void *userdata)
{
        struct NsSnap *s = userdata;
        (void)message;
        if (r >= 0 && n && !(s->tasks = calloc(n, sizeof(*s->tasks))))
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                SnapTask *t = &s->tasks[s->n_tasks];
                if (!(t->container_id = strdup(tasks[i].container_id))) {
                        r = -ENOMEM;
                        break;
                }
                t->task = tasks[i];
                t->task.container_id = t->container_id;
                t->task.stdout_path = t->task.stderr_path = "";
                s->n_tasks++;
        }
        call_done(s, r);
}

static void start_one(Resource *r, void *userdata)
{
        Daemon *d = userdata;
        if (r->id.kind != KIND_REALM || !r->in_tree)
                return;
        char ns[NAME_MAX_LEN + 16];
        resource_namespace(r, ns, sizeof(ns));
        for (struct NsSnap *s = d->snaps; s; s = s->next)
                if (streq(s->ns, ns))
                        return; /* one is on its way */
        struct NsSnap *s = calloc(1, sizeof(*s));
        if (!s)
                return;
        *s = (struct NsSnap){.d = d, .seq = d->ctrd_seq, .taken_ms = uv_now(&d->loop)};
        snprintf(s->ns, sizeof(s->ns), "%s", ns);
        snprintf(s->realm, sizeof(s->realm), "%s", r->id.realm);
        const CtrdLabel label = {CTRD_LABEL_REALM, r->id.realm};
        _cleanup_free_ char *filter = ctrd_filter_labels(&label, 1);
        const char *filters[] = {filter};
        s->n_calls = 2;
        if (!filter || ctrd_container_list(d->ctrd, ns, filters, 1, on_containers, s) < 0) {
                ns_snap_free(s);
                return;
        }
        s->next = d->snaps;
        d->snaps = s;
        if (ctrd_task_list(d->ctrd, ns, on_tasks, s) < 0)
                call_done(s, -EIO);
        log_stamp(&d->log, "daemon - snapshot %s asked", ns); /* BENCH STAMP */
}

void ns_snapshots_start(Daemon *d)
{
        if (!d->ctrd || !d->is_ctrd_ready || d->is_stopping)
                return;
        resource_foreach(&d->table, start_one, d);
}

bool ns_snapshot_join(Op *op)
{
        Daemon *d = op->d;
        char ns[NAME_MAX_LEN + 16];
        realm_namespace(d, &op->res->id, ns, sizeof(ns));
        for (struct NsSnap *s = d->snaps; s; s = s->next) {
                if (!streq(s->ns, ns) || s->seq != d->ctrd_seq)
                        continue;
                Op **w = realloc(s->waiters, (s->n_waiters + 1) * sizeof(*w));
                if (!w)
                        return false;
                s->waiters = w;
                s->waiters[s->n_waiters++] = op;
                /* a round that waits for the lists loads nothing meanwhile: it leaves its place among
                 * the rounds that may run at once, so that more cells get their host side observed in
                 * the time the lists take (it takes a place again when they come) */
                d->queue.n_running--;
                res_stamp(d, op->res, "send snapshot-wait"); /* BENCH STAMP */
                return true;
        }
        return false;
}

void ns_snapshots_done(Daemon *d)
{
        while (d->snaps) {
                struct NsSnap *s = d->snaps;
                d->snaps = s->next;
                ns_snap_free(s);
        }
}
