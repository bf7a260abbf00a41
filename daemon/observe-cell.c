/* Observing a cell's containers: its container records in the realm's containerd namespace (found by
 * our identity labels, never by a status file), the task of each, and — for containers that are still
 * to be created — whether their image is in the namespace with its top layer unpacked.
 *
 * Containers.List → Tasks.Get per record → per image Images.Get + manifest + config → Snapshots.Stat of
 * the top chain id, the calls of one step in parallel; then op_observed(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon/daemon.h"
#include "drivers/containerd/spec.h"

const char *realm_namespace(Daemon *d, const ResourceId *id, char *buf, size_t size)
{
        ResourceId realm = {.kind = KIND_REALM};
        snprintf(realm.realm, sizeof(realm.realm), "%s", id->realm);
        snprintf(realm.name, sizeof(realm.name), "%s", id->realm);
        const Resource *r = resource_find(&d->table, &realm);
        if (r)
                return resource_namespace(r, buf, size);
        snprintf(buf, size, "kukeon-%s", id->realm);
        return buf;
}

void container_extra_done(ContainerExtra *x)
{
        free(x->name);
        free(x->spec_digest);
        free(x->image);
        free(x->stop_signal);
        free(x->resources_digest);
        free(x->live_resources_digest);
        *x = (ContainerExtra){0};
}

void observed_containers_free(ObservedContainer *obs, ContainerExtra *extra, size_t n)
{
        for (size_t i = 0; i < n; i++)
                container_extra_done(&extra[i]);
        free(obs);
        free(extra);
}

static void cell_images_free(CellImage *images, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(images[i].name);
                free(images[i].chain_id);
                free(images[i].digest);
                free(images[i].stop_signal);
                json_decref(images[i].process);
        }
        free(images);
}

void op_free_observation(Op *op)
{
        observed_containers_free(op->obs, op->obs_extra, op->n_obs);
        op->obs = NULL;
        op->obs_extra = NULL;
        op->n_obs = 0;
        cell_images_free(op->images, op->n_images);
        op->images = NULL;
        op->n_images = 0;
}

/* A label's count of seconds; -1 when it is not a plain non-negative decimal number. */
static int64_t parse_seconds(const char *s)
{
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || end == s || *end || v < 0 || *s < '0' || *s > '9')
                return -1;
        return v;
}

static void observe_fail(Op *op, int r, const char *what, const char *message)
{
        if (op->observe_error)
                return;
        op->observe_error = r;
        snprintf(op->observe_message, sizeof(op->observe_message), "%s: %s", what,
                 message && *message ? message : strerror(-r));
}

static void observe_images(Op *op);

/* One observation call is done: when it was the last of its step, the next step. */
static void step_done(Op *op, void (*next)(Op *op))
{
        if (--op->n_observing > 0)
                return;
        if (op->observe_error || !next) {
                op->cell.containers = op->obs;
                op->cell.n_containers = op->n_obs;
                op_observed(op, op->observe_error, op->observe_message);
                return;
        }
        next(op);
}

/* ---- step 3: images ---- */

typedef struct ImageLookup {
        Op *op;
        size_t index;
} ImageLookup;

static void on_top_layer(int r, const char *message, const CtrdSnapshotInfo *info, void *userdata)
{
        ImageLookup *l = userdata;
        Op *op = l->op;
        CellImage *im = &op->images[l->index];
        free(l);
        res_stamp(op->d, op->res, "recv ctrd.SnapshotStat r=%d", r); /* BENCH STAMP */
        if (r >= 0)
                im->is_present = info->kind == CTRD_SNAPSHOT_COMMITTED;
        else if (r != -ENOENT)
                observe_fail(op, r, "looking up the image's unpacked layers", message);
        step_done(op, NULL);
}

static void on_image_config(int r, const char *message, const CtrdImageConfig *config, void *userdata)
{
        ImageLookup *l = userdata;
        Op *op = l->op;
        Daemon *d = op->d;
        CellImage *im = &op->images[l->index];
        res_stamp(d, op->res, "recv ctrd.ImageConfig r=%d", r); /* BENCH STAMP */
        if (r == -ENOENT || op->is_cancelled) {
                free(l);
                step_done(op, NULL);
                return;
        }
        if (r < 0) {
                free(l);
                char what[320];
                snprintf(what, sizeof(what), "reading image %s", im->name);
                observe_fail(op, r, what, message);
                step_done(op, NULL);
                return;
        }
        const char *stop = oci_image_stop_signal(config->process);
        if (!(im->chain_id = strdup(config->chain_id)) || !(im->digest = strdup(config->manifest.digest)) ||
            !(im->stop_signal = strdup(stop))) {
                free(l);
                observe_fail(op, -ENOMEM, "reading an image", NULL);
                step_done(op, NULL);
                return;
        }
        im->process = config->process ? json_incref((json_t *)config->process) : NULL;
        char ns[NAME_MAX_LEN + 16];
        realm_namespace(d, &op->res->id, ns, sizeof(ns));
        res_stamp(d, op->res, "send ctrd.SnapshotStat"); /* BENCH STAMP */
        r = ctrd_snapshot_stat(d->ctrd, ns, NULL, im->chain_id, on_top_layer, l);
        if (r < 0) {
                free(l);
                observe_fail(op, r, "looking up the image's unpacked layers", NULL);
                step_done(op, NULL);
        }
}

static bool observed_exists(const Op *op, const char *name)
{
        for (size_t i = 0; i < op->n_obs; i++)
                if (streq(op->obs[i].name, name))
                        return op->obs[i].exists;
        return false;
}

int cell_image_add(Op *op, const char *ref)
{
        _cleanup_free_ char *name = NULL;
        int r = ctrd_image_ref_normalize(ref, &name);
        if (r < 0)
                return r;
        for (size_t i = 0; i < op->n_images; i++)
                if (streq(op->images[i].name, name))
                        return (int)i;
        CellImage *a = realloc(op->images, (op->n_images + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        op->images = a;
        op->images[op->n_images] = (CellImage){.name = TAKE_PTR(name)};
        return (int)op->n_images++;
}

CellImage *cell_image_find(Op *op, const char *ref)
{
        _cleanup_free_ char *name = NULL;
        if (!ref || ctrd_image_ref_normalize(ref, &name) < 0)
                return NULL;
        for (size_t i = 0; i < op->n_images; i++)
                if (streq(op->images[i].name, name))
                        return &op->images[i];
        return NULL;
}

void observe_images_lookup(Op *op)
{
        Daemon *d = op->d;
        char ns[NAME_MAX_LEN + 16];
        if (!d->ctrd || !d->is_ctrd_ready) {
                op_observed(op, -ENOTCONN, "containerd is not reachable");
                return;
        }
        realm_namespace(d, &op->res->id, ns, sizeof(ns));
        op->n_observing = 1; /* held until every lookup is started */
        for (size_t i = 0; i < op->n_images && !op->observe_error; i++) {
                ImageLookup *l = malloc(sizeof(*l));
                if (!l) {
                        observe_fail(op, -ENOMEM, "reading images", NULL);
                        break;
                }
                *l = (ImageLookup){op, i};
                op->n_observing++;
                res_stamp(d, op->res, "send ctrd.ImageConfig %s", op->images[i].name); /* BENCH STAMP */
                int r = ctrd_image_config_get(d->ctrd, ns, op->images[i].name, on_image_config, l);
                if (r < 0) {
                        free(l);
                        op->n_observing--;
                        observe_fail(op, r, "reading images", NULL);
                }
        }
        step_done(op, NULL);
}

static void observe_images(Op *op)
{
        Resource *res = op->res;
        const CellSpec *spec = op->desire == DESIRE_PRESENT && res->spec ? &res->spec->spec.cell : NULL;
        for (size_t i = 0; spec && i < spec->n_containers; i++) {
                const ContainerSpec *c = &spec->containers[i];
                if (c->external || !c->image || observed_exists(op, c->id))
                        continue;
                int k = cell_image_add(op, c->image);
                if (k < 0) {
                        char what[320];
                        snprintf(what, sizeof(what), "containers[%zu].image", i);
                        op->cell.containers = op->obs;
                        op->cell.n_containers = op->n_obs;
                        op_observed(op, k, what);
                        return;
                }
        }
        observe_images_lookup(op);
}

/* ---- step 2: tasks ---- */

typedef struct TaskLookup {
        Op *op;
        size_t index;
} TaskLookup;

static TaskStatus task_status(CtrdTaskStatus s)
{
        switch (s) {
        case CTRD_TASK_CREATED:
                return TASK_CREATED;
        case CTRD_TASK_RUNNING:
                return TASK_RUNNING;
        case CTRD_TASK_STOPPED:
                return TASK_STOPPED;
        case CTRD_TASK_PAUSED:
        case CTRD_TASK_PAUSING:
                return TASK_PAUSED;
        default:
                return TASK_UNKNOWN;
        }
}

static void on_task(int r, const char *message, const CtrdTask *task, void *userdata)
{
        TaskLookup *l = userdata;
        Op *op = l->op;
        ObservedContainer *o = &op->obs[l->index];
        free(l);
        res_stamp(op->d, op->res, "recv ctrd.TaskGet r=%d", r); /* BENCH STAMP */
        if (r >= 0)
                observed_task_set(o, task);
        else if (r != -ENOENT) {
                observe_fail(op, r, "reading a task", message);
        }
        step_done(op, observe_images);
}

/* When a container's process started, as the daemon remembers it (containerd's task has no start time). */
static int64_t remembered_start(const Resource *res, const char *name)
{
        for (size_t i = 0; i < res->rec.n_containers; i++)
                if (streq(res->rec.containers[i].name, name))
                        return res->rec.containers[i].started_at;
        return 0;
}

int container_observe_fill(const CtrdContainer *c, ObservedContainer *o, ContainerExtra *x)
{
        const char *name = ctrd_label_get(c->labels, c->n_labels, CTRD_LABEL_CONTAINER);
        const char *res = ctrd_label_get(c->labels, c->n_labels, CTRD_LABEL_RESOURCES_DIGEST);
        const char *live = ctrd_label_get(c->labels, c->n_labels, CTRD_LABEL_LIVE_RESOURCES_DIGEST);
        const char *type = ctrd_label_get(c->labels, c->n_labels, CTRD_LABEL_CONTAINER_TYPE);
        const char *grace_label = ctrd_label_get(c->labels, c->n_labels, CTRD_LABEL_STOP_GRACE);
        snprintf(x->containerd_id, sizeof(x->containerd_id), "%s", c->id);
        x->name = strdup(strempty(name));
        x->spec_digest = strdup(c->spec_digest);
        x->image = strdup(c->image);
        x->stop_signal = strdup(c->stop_signal);
        if (!x->name || !x->spec_digest || !x->image || !x->stop_signal ||
            (res && !(x->resources_digest = strdup(res))) ||
            (live && !(x->live_resources_digest = strdup(live))))
                return -ENOMEM;
        int64_t grace = grace_label ? parse_seconds(grace_label) : -1;
        *o = (ObservedContainer){.name = x->name,
                                 .has_stop_grace = grace >= 0,
                                 .stop_grace_seconds = grace,
                                 .is_root = streq_ptr(type, "root"),
                                 .exists = true,
                                 .spec_digest = x->spec_digest,
                                 .resources_digest = x->resources_digest,
                                 .live_resources_digest = x->live_resources_digest};
        return 0;
}

void observed_task_set(ObservedContainer *o, const CtrdTask *task)
{
        o->task = task_status(task->status);
        o->pid = task->pid;
        o->exit_status = (int32_t)task->exit_status;
        o->exited_at = task->exited_at_ns / 1000000000;
}

/* ---- step 1: the records ---- */

static void on_containers(int r, const char *message, const CtrdContainer *list, size_t n, void *userdata)
{
        Op *op = userdata;
        Daemon *d = op->d;
        res_stamp(d, op->res, "recv ctrd.ContainerList r=%d n=%zu", r, n); /* BENCH STAMP */
        if (r < 0) {
                op->n_observing = 1;
                observe_fail(op, r, "listing the cell's containers", message);
                step_done(op, NULL);
                return;
        }
        op->obs = n ? calloc(n, sizeof(*op->obs)) : NULL;
        op->obs_extra = n ? calloc(n, sizeof(*op->obs_extra)) : NULL;
        op->n_observing = 1;
        if (n && (!op->obs || !op->obs_extra)) {
                observe_fail(op, -ENOMEM, "listing the cell's containers", NULL);
                step_done(op, NULL);
                return;
        }
        char ns[NAME_MAX_LEN + 16];
        realm_namespace(d, &op->res->id, ns, sizeof(ns));
        for (size_t i = 0; i < n; i++) {
                if (!ctrd_label_get(list[i].labels, list[i].n_labels, CTRD_LABEL_CONTAINER))
                        continue; /* not one of ours after all */
                ContainerExtra *x = &op->obs_extra[op->n_obs];
                ObservedContainer *o = &op->obs[op->n_obs];
                op->n_obs++;
                if (container_observe_fill(&list[i], o, x) < 0) {
                        observe_fail(op, -ENOMEM, "listing the cell's containers", NULL);
                        break;
                }
                o->started_at = remembered_start(op->res, x->name);
        }
        if (op->n_obs)
                op->res->is_live = true;
        for (size_t i = 0; i < op->n_obs && !op->observe_error; i++) {
                TaskLookup *l = malloc(sizeof(*l));
                if (!l) {
                        observe_fail(op, -ENOMEM, "reading tasks", NULL);
                        break;
                }
                *l = (TaskLookup){op, i};
                op->n_observing++;
                res_stamp(d, op->res, "send ctrd.TaskGet %s", op->obs_extra[i].name); /* BENCH STAMP */
                int k = ctrd_task_get(d->ctrd, ns, op->obs_extra[i].containerd_id, on_task, l);
                if (k < 0) {
                        free(l);
                        op->n_observing--;
                        observe_fail(op, k, "reading tasks", NULL);
                }
        }
        step_done(op, observe_images);
}

/* ---- carried over: from the last round, or from a namespace snapshot ---- */

#define CARRY_TTL_MS 5000

void cell_carry_free(struct CellCarry *c)
{
        if (!c)
                return;
        observed_containers_free(c->obs, c->extra, c->n);
        cell_images_free(c->images, c->n_images);
        free(c);
}

void cell_carry_keep(Op *op)
{
        Resource *r = op->res;
        cell_carry_free(TAKE_PTR(r->carry));
        if (!op->has_observation || op->obs_epoch != r->ctrd_epoch || op->obs_gen != op->d->ctrd_gen)
                return; /* nothing to carry, or already stale */
        struct CellCarry *c = calloc(1, sizeof(*c));
        if (!c)
                return; /* the next round reads containerd again */
        *c = (struct CellCarry){.epoch = op->obs_epoch,
                                .gen = op->obs_gen,
                                .taken_ms = uv_now(&op->d->loop),
                                .has_images = true,
                                .desire = op->desire,
                                .obs = TAKE_PTR(op->obs),
                                .extra = TAKE_PTR(op->obs_extra),
                                .n = op->n_obs,
                                .images = TAKE_PTR(op->images),
                                .n_images = op->n_images};
        snprintf(c->digest, sizeof(c->digest), "%s", op->digest);
        op->n_obs = op->n_images = 0;
        op->cell.containers = NULL;
        op->cell.n_containers = 0;
        r->carry = c;
}

/* What the cell carries, when it still holds: taken (true) and the observation goes on — to planning when
 * the images came with it, else to looking them up. */
static bool cell_carry_take(Op *op)
{
        Daemon *d = op->d;
        Resource *r = op->res;
        struct CellCarry *c = TAKE_PTR(r->carry);
        if (!c)
                return false;
        /* the images were looked up for one manifest; the records and tasks hold for any */
        if (c->epoch != r->ctrd_epoch || c->gen != d->ctrd_gen ||
            uv_now(&d->loop) - c->taken_ms > CARRY_TTL_MS ||
            (c->has_images && (c->desire != op->desire || !streq(c->digest, op->digest)))) {
                cell_carry_free(c);
                return false;
        }
        res_stamp(d, r, "recv %s n=%zu", c->has_images ? "carried" : "snapshot", c->n); /* BENCH STAMP */
        bool has_images = c->has_images;
        op->obs = TAKE_PTR(c->obs);
        op->obs_extra = TAKE_PTR(c->extra);
        op->n_obs = c->n;
        op->images = TAKE_PTR(c->images);
        op->n_images = c->n_images;
        op->obs_epoch = c->epoch;
        op->obs_gen = c->gen;
        c->n = c->n_images = 0;
        cell_carry_free(c);
        for (size_t i = 0; i < op->n_obs; i++)
                op->obs[i].started_at = remembered_start(r, op->obs_extra[i].name);
        if (op->n_obs)
                r->is_live = true;
        op->n_observing = 1;
        step_done(op, has_images ? NULL : observe_images);
        return true;
}

void observe_cell_containers(Op *op)
{
        Daemon *d = op->d;
        const ResourceId *id = &op->res->id;
        if (!d->ctrd || !d->is_ctrd_ready) {
                char m[384];
                snprintf(m, sizeof(m), "containerd is not reachable at %s%s%s", d->config.containerd_socket,
                         d->ctrd_error[0] ? ": " : "", d->ctrd_error);
                op_observed(op, -ENOTCONN, m);
                return;
        }
        if (cell_carry_take(op))
                return;
        op->obs_epoch = op->res->ctrd_epoch;
        op->obs_gen = d->ctrd_gen;
        if (ns_snapshot_join(op))
                return;
        char ns[NAME_MAX_LEN + 16];
        realm_namespace(d, id, ns, sizeof(ns));
        const CtrdLabel labels[] = {{CTRD_LABEL_REALM, id->realm},
                                    {CTRD_LABEL_SPACE, id->space},
                                    {CTRD_LABEL_STACK, id->stack},
                                    {CTRD_LABEL_CELL, id->cell}};
        _cleanup_free_ char *filter = ctrd_filter_labels(labels, ARRAY_SIZE(labels));
        const char *filters[] = {filter};
        res_stamp(d, op->res, "send ctrd.ContainerList"); /* BENCH STAMP */
        int r = filter ? ctrd_container_list(d->ctrd, ns, filters, 1, on_containers, op) : -ENOMEM;
        if (r < 0)
                op_observed(op, r, "listing the cell's containers");
}
