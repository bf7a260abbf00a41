/* Rounds: for each dirty resource, observe → plan (reconciler/, pure) → execute through the action
 * handlers → write the status; again until the plan is empty. At most one round per resource, at most
 * d->queue.max_running at a time. */
#include <stdio.h>
#include <stdlib.h>

#include "daemon/daemon.h"
#include "state/schema.h"

void daemon_mark_dirty(Daemon *d, Resource *r)
{
        unsigned depth = r->id.kind == KIND_IMAGE ? 1 : (unsigned)r->id.kind;
        dirty_queue_mark(&d->queue, &r->qi, depth, r->desire == DESIRE_ABSENT);
}

Resource *resource_parent(Daemon *d, const Resource *r)
{
        ResourceId p;
        return resource_parent_id(&r->id, &p) ? resource_find(&d->table, &p) : NULL;
}

typedef struct ChildMark {
        Daemon *d;
        const Resource *parent;
} ChildMark;

static void mark_if_child(Resource *r, void *userdata)
{
        ChildMark *m = userdata;
        ResourceId p;
        if (resource_parent_id(&r->id, &p) && resource_id_equal(&p, &m->parent->id))
                daemon_mark_dirty(m->d, r);
}

void daemon_mark_children(Daemon *d, const Resource *r)
{
        ChildMark m = {d, r};
        resource_foreach(&d->table, mark_if_child, &m);
}

void daemon_mark_parent(Daemon *d, const Resource *r)
{
        Resource *p = resource_parent(d, r);
        if (p)
                daemon_mark_dirty(d, p);
}

static void op_start(Daemon *d, Resource *r);
static void op_free_want(Op *op);

typedef struct RealmMark {
        Daemon *d;
        const char *realm;
} RealmMark;

static void mark_if_cell_of_realm(Resource *r, void *userdata)
{
        RealmMark *m = userdata;
        if (r->id.kind == KIND_CELL && streq(r->id.realm, m->realm))
                daemon_mark_dirty(m->d, r);
}

static void on_pump_idle(uv_idle_t *h)
{
        uv_idle_stop(h);
        daemon_pump(h->data);
}

/* An ancestor wanted present whose round runs or is queued (or itself waits for one). */
static bool ancestor_is_busy(Daemon *d, const Resource *r)
{
        for (const Resource *p = resource_parent(d, r); p; p = resource_parent(d, p))
                if (p->desire == DESIRE_PRESENT && (p->op || p->qi.is_queued || p->is_parked))
                        return true;
        return false;
}

static void unpark_one(Resource *r, void *userdata)
{
        Daemon *d = userdata;
        if (r->is_parked && !ancestor_is_busy(d, r)) {
                r->is_parked = false;
                d->n_parked--;
                daemon_mark_dirty(d, r);
        }
}

/* Rounds of parked resources whose ancestors are done now. */
static void unpark(Daemon *d)
{
        if (d->n_parked > 0)
                resource_foreach(&d->table, unpark_one, d);
}

/* Parents come up before their children: a resource wanted present whose ancestor has a round running
 * or queued waits for it (a round now could only find the parent not ready yet and say so — after a
 * daemon restart that would flap every Ready status through Pending). Deletions never wait. */
static bool park(Daemon *d, Resource *r)
{
        if (r->desire != DESIRE_PRESENT || !ancestor_is_busy(d, r))
                return false;
        (void)dirty_queue_done(&d->queue, &r->qi);
        if (!r->is_parked) {
                r->is_parked = true;
                d->n_parked++;
        }
        return true;
}

void daemon_pump(Daemon *d)
{
        if (d->is_stopping || d->is_pumping || !d->is_started)
                return;
        d->is_pumping = true;
        QueueItem *it;
        unsigned n = 0;
        while (n < ROUNDS_PER_PUMP && (it = dirty_queue_pop(&d->queue))) {
                Resource *r = resource_from_item(it);
                if (park(d, r))
                        continue;
                op_start(d, r);
                n++;
        }
        d->is_pumping = false;
        if (d->queue.n_queued == 0) {
                daemon_self_status_update(d); /* once things settle, not after every round */
                daemon_idle_work(d);
        }
        /* more to do: go on after the loop has had a look at its other handles (an idle handle, not a
         * 0 ms timer: libuv runs a timer re-armed from its own callback again in the same pass) */
        if (d->queue.n_queued > 0 && d->queue.n_running < d->queue.max_running)
                (void)uv_idle_start(&d->pump_idle, on_pump_idle);
}

void daemon_idle_work(Daemon *d)
{
        if (d->is_stopping || d->n_ops > 0 || d->queue.n_queued > 0)
                return;
        if (d->is_gc_due) {
                d->is_gc_due = false;
                daemon_gc(d);
        }
        space_isolation_verify_due(d);
}

/* ---- wake-ups ---- */

typedef struct WakeScan {
        Daemon *d;
        uint64_t now, earliest;
} WakeScan;

static void wake_due(Resource *r, void *userdata)
{
        WakeScan *w = userdata;
        if (!r->wake_at_ms)
                return;
        if (r->wake_at_ms <= w->now) {
                r->wake_at_ms = 0;
                daemon_mark_dirty(w->d, r);
        } else if (!w->earliest || r->wake_at_ms < w->earliest) {
                w->earliest = r->wake_at_ms;
        }
}

static void on_wake_timer(uv_timer_t *t)
{
        Daemon *d = t->data;
        WakeScan w = {d, uv_now(&d->loop), 0};
        resource_foreach(&d->table, wake_due, &w);
        if (w.earliest)
                (void)uv_timer_start(&d->wake_timer, on_wake_timer, w.earliest - w.now, 0);
        daemon_pump(d);
}

static void wake_earliest(Resource *r, void *userdata)
{
        WakeScan *w = userdata;
        if (r->wake_at_ms && (!w->earliest || r->wake_at_ms < w->earliest))
                w->earliest = r->wake_at_ms;
}

void daemon_arm_wake(Daemon *d)
{
        if (d->is_stopping)
                return;
        WakeScan w = {d, 0, 0};
        resource_foreach(&d->table, wake_earliest, &w);
        uint64_t now = uv_now(&d->loop);
        if (!w.earliest)
                uv_timer_stop(&d->wake_timer);
        else
                (void)uv_timer_start(&d->wake_timer, on_wake_timer, w.earliest > now ? w.earliest - now : 0,
                                     0);
}

#define STATUS_RETRY_MS 2000

static void schedule_wake(Daemon *d, Resource *r, uint64_t delay_ms)
{
        uint64_t at = uv_now(&d->loop) + delay_ms;
        if (!r->wake_at_ms || at < r->wake_at_ms)
                r->wake_at_ms = at;
        daemon_arm_wake(d);
}

/* ---- one round ---- */

static void op_finish(Op *op, bool requeue)
{
        Daemon *d = op->d;
        Resource *r = op->res;
        r->op = NULL;
        d->n_ops--;
        plan_done(&op->plan);
        op_free_observation(op);
        op_free_want(op);
        free(op);
        (void)dirty_queue_done(&d->queue, &r->qi);
        if (requeue && !d->is_stopping)
                daemon_mark_dirty(d, r);
        if (!r->in_tree && !r->is_live && !r->qi.is_queued && !r->wake_at_ms)
                resource_drop(d, r);
        if (d->is_stopping) {
                if (d->n_ops == 0)
                        daemon_on_idle_stopping(d);
                return;
        }
        unpark(d);
        daemon_pump(d);
}

static bool is_transient(int r)
{
        return r == -ENOTCONN || r == -ECANCELED;
}

static bool state_is_settled(Kind kind, State s)
{
        if (kind == KIND_CELL)
                return s == STATE_READY || s == STATE_DEGRADED || s == STATE_STOPPED || s == STATE_EXITED ||
                       s == STATE_ERROR;
        return s == STATE_READY;
}

/* The round's actions are done (or there were none): status, then what comes next. */
static void op_complete(Op *op)
{
        Daemon *d = op->d;
        Resource *r = op->res;
        bool requeue = false;
        char q[320];

        if (op->is_cancelled) {
                op_finish(op, false);
                return;
        }
        if (op->did_remove_files && !op->error) {
                r->is_live = false;
                r->is_ready = false;
        }
        if (op->plan.ack_restart && !op->error && r->spec) {
                /* the restart annotation is carried out: remember it, so it is done once */
                const char *want = strmap_get(&r->spec->metadata.annotations, ANNOTATION_RESTARTED_AT);
                char *seen = want ? strdup(want) : NULL;
                if (seen) {
                        free(r->rec.restarted_at);
                        r->rec.restarted_at = seen;
                }
        }
        res_stamp(d, r, "send fs.Status"); /* BENCH STAMP */
        int w = status_update(d, r, op);
        res_stamp(d, r, "recv fs.Status r=%d", w); /* BENCH STAMP */
        if (w < 0) {
                /* the old status stays (temp file + rename); try again later: a full disk gets freed */
                log_warning_errno(&d->log, w, "Failed to write the status of %s \"%s\": %m",
                                  kind_to_string(r->id.kind), resource_qualified(&r->id, q, sizeof(q)));
                schedule_wake(d, r, STATUS_RETRY_MS);
        }

        bool was_ready = r->is_ready;
        r->is_ready = op->desire == DESIRE_PRESENT && op->plan.n == 0 && !op->error && !op->missing &&
                      state_is_settled(r->id.kind, op->plan.state);
        if (op->error) {
                /* containerd going away is not ours to retry: its reconnection resyncs everything */
                bool transient = is_transient(op->error) && !d->is_ctrd_ready;
                if (!transient) {
                        uint64_t delay = 1000ull << (r->n_failures < 9 ? r->n_failures : 9);
                        r->n_failures++;
                        schedule_wake(d, r, delay < RETRY_BACKOFF_MAX_MS ? delay : RETRY_BACKOFF_MAX_MS);
                }
                log_full_errno(&d->log, r->n_failures > 1 ? LOG_DEBUG : LOG_WARNING, op->error,
                               "%s \"%s\": %s", kind_to_string(r->id.kind),
                               resource_qualified(&r->id, q, sizeof(q)), op->message);
        } else if (op->n_run > 0 && (op->did_change || !op->missing) && !op->did_remove_files) {
                if (++r->n_rounds <= ROUNDS_MAX)
                        requeue = true;
                else
                        log_error(&d->log, "%s \"%s\" does not converge (%s); left alone until it changes",
                                  kind_to_string(r->id.kind), resource_qualified(&r->id, q, sizeof(q)),
                                  op->plan.reason);
        } else {
                r->n_rounds = 0;
                r->n_failures = 0;
        }
        if (!was_ready && r->is_ready) {
                log_info(&d->log, "%s \"%s\" is ready", kind_to_string(r->id.kind),
                         resource_qualified(&r->id, q, sizeof(q)));
                daemon_mark_children(d, r);
                if (r->id.kind == KIND_IMAGE) {
                        RealmMark m = {d, r->id.realm};
                        resource_foreach(&d->table, mark_if_cell_of_realm, &m);
                }
        }
        if (op->did_remove_files && !op->error) {
                if (op->had_status)
                        log_info(&d->log, "%s \"%s\" is removed", kind_to_string(r->id.kind),
                                 resource_qualified(&r->id, q, sizeof(q)));
                daemon_mark_parent(d, r);
        }
        for (size_t i = 0; i < op->plan.n && op->did_touch_ctrd; i++)
                if (op->plan.actions[i].type == ACTION_IMAGE_ENSURE || r->id.kind != KIND_CELL) {
                        d->ctrd_gen++; /* a pull or import ended: what cells saw of images may be stale */
                        break;
                }
        if (requeue && r->id.kind == KIND_CELL && !op->did_touch_ctrd)
                cell_carry_keep(op); /* only the host changed: the next round needs no new look */
        res_stamp(d, r, "round-end state=%s ready=%d requeue=%d wrote=%d error=%d",
                  state_to_string(op->plan.state), r->is_ready, requeue, w > 0, op->error); /* BENCH STAMP */
        op_finish(op, requeue);
}

void op_action_done(Op *op, const Action *a, int r, const char *message)
{
        if (a->type != ACTION_WAKE_AT) /* BENCH STAMP (the held pseudo-action aside) */
                res_stamp(op->d, op->res, "act-done %s %s r=%d", action_type_to_string(a->type),
                          a->container, r);
        if (r < 0 && !op->error) {
                op->error = r;
                op->failed_action = (int)a->type;
                snprintf(op->message, sizeof(op->message), "%s: %s", action_type_to_string(a->type),
                         message && *message ? message : strerror(-r));
        }
        if (r > 0)
                op->did_change = true;
        if (r >= 0 && a->type == ACTION_FILES_REMOVE)
                op->did_remove_files = true;
        if (--op->n_pending == 0)
                op_complete(op);
}

/* Runs every action of the plan together (the planner only returns what can run now). */
static void op_execute(Op *op)
{
        Daemon *d = op->d;
        Resource *r = op->res;
        op->n_pending = 1; /* held until every action is started */
        for (size_t i = 0; i < op->plan.n && !op->is_cancelled; i++) {
                const Action *a = &op->plan.actions[i];
                if (a->type == ACTION_WAKE_AT) {
                        int64_t delay = (a->at - time_now()) * 1000;
                        schedule_wake(d, r, delay > 0 ? (uint64_t)delay : 0);
                        continue;
                }
                const ActionHandler *h = action_handler(a->type, r->id.kind);
                if (!h->run) {
                        if (!op->missing) {
                                op->missing = h->missing;
                                op->missing_action = (int)a->type;
                        }
                        continue;
                }
                char msg[512] = "";
                op->n_pending++;
                op->n_run++;
                res_stamp(d, r, "act %s %s", action_type_to_string(a->type), a->container); /* BENCH STAMP */
                if (action_touches_containerd(a->type)) {
                        op->did_touch_ctrd = true;
                        d->ctrd_seq++; /* what namespace snapshots said may be stale now */
                        r->ctrd_epoch++;
                        if (r->id.kind != KIND_CELL || a->type == ACTION_IMAGE_ENSURE)
                                d->ctrd_gen++; /* a namespace or an image: every cell may see it */
                }
                int rr = h->run(op, a, msg, sizeof(msg));
                if (rr != ACTION_ASYNC)
                        op_action_done(op, a, rr, msg);
        }
        static const Action held = {.type = ACTION_WAKE_AT};
        op_action_done(op, &held, 0, NULL);
}

static bool parent_is_ready(Daemon *d, const Resource *r)
{
        if (r->id.kind == KIND_REALM)
                return true;
        const Resource *p = resource_parent(d, r);
        return p && p->is_ready && p->desire == DESIRE_PRESENT;
}

static size_t count_live_children(Daemon *d, const Resource *r);

ContainerRecord *cell_container_record(Resource *r, const char *name, bool create)
{
        for (size_t i = 0; i < r->rec.n_containers; i++)
                if (streq(r->rec.containers[i].name, name))
                        return &r->rec.containers[i];
        if (!create)
                return NULL;
        ContainerRecord *a = realloc(r->rec.containers, (r->rec.n_containers + 1) * sizeof(*a));
        if (!a)
                return NULL;
        r->rec.containers = a;
        a = &a[r->rec.n_containers++];
        *a = (ContainerRecord){.state = STATE_PENDING};
        snprintf(a->name, sizeof(a->name), "%s", name);
        return a;
}

const ContainerSpec *op_container_spec(const Op *op, const char *name)
{
        for (size_t i = 0; i < op->n_want; i++)
                if (streq_ptr(op->want[i].id, name))
                        return &op->want[i];
        return NULL;
}

static void op_free_want(Op *op)
{
        for (size_t i = 0; i < op->n_want; i++)
                schema_free_fields(&container_spec_schema, &op->want[i]);
        free(op->want);
        free(op->want_digest);
        free(op->want_resources);
        op->want = NULL;
        op->want_digest = NULL;
        op->want_resources = NULL;
        op->n_want = 0;
}

static State container_state(const ObservedContainer *o)
{
        if (!o || !o->exists)
                return STATE_PENDING;
        switch (o->task) {
        case TASK_NONE:
        case TASK_CREATED:
                return STATE_CREATING;
        case TASK_RUNNING:
                return STATE_READY;
        case TASK_PAUSED:
                return STATE_PAUSED;
        case TASK_STOPPED:
                return o->exit_status == 0 ? STATE_EXITED : STATE_ERROR;
        default:
                return STATE_UNKNOWN;
        }
}

/* Brings the cell's container records up to date with what was observed; records of containers that
 * are neither wanted nor there go. */
static int cell_records_update(Op *op)
{
        Resource *r = op->res;
        const CellSpec *spec = op->desire == DESIRE_PRESENT && r->spec ? &r->spec->spec.cell : NULL;
        for (size_t i = 0; i < r->rec.n_containers; i++)
                r->rec.containers[i].is_seen = false;
        for (size_t i = 0; i < op->n_obs; i++) {
                const ObservedContainer *o = &op->obs[i];
                ContainerRecord *cr = cell_container_record(r, o->name, true);
                if (!cr)
                        return -ENOMEM;
                cr->is_seen = true;
                cr->state = container_state(o);
                snprintf(cr->containerd_id, sizeof(cr->containerd_id), "%s", op->obs_extra[i].containerd_id);
                if (o->task == TASK_RUNNING || o->task == TASK_PAUSED)
                        cr->pid = o->pid;
                if (o->task == TASK_STOPPED) {
                        cr->has_exit = true;
                        cr->exit_code = o->exit_status;
                        if (o->exited_at > 0)
                                cr->finished_at = o->exited_at;
                }
        }
        size_t k = 0;
        for (size_t i = 0; i < r->rec.n_containers; i++) {
                ContainerRecord *cr = &r->rec.containers[i];
                bool wanted = false;
                for (size_t j = 0; spec && j < spec->n_containers && !wanted; j++)
                        wanted = streq_ptr(spec->containers[j].id, cr->name);
                if (!cr->is_seen && !wanted)
                        continue;
                if (!cr->is_seen) {
                        cr->state = STATE_PENDING;
                        cr->pid = 0;
                }
                r->rec.containers[k++] = *cr;
        }
        r->rec.n_containers = k;
        return 0;
}

/* A cell whose container is external stands for kukeond itself (kuke init writes it): its container is
 * this process. Returns true when the cell's message should say so. */
static bool self_cell_note(Op *op)
{
        Resource *r = op->res;
        bool is_self = false;
        for (size_t i = 0; i < op->n_want; i++) {
                if (!op->want[i].external)
                        continue;
                ContainerRecord *cr = cell_container_record(r, op->want[i].id, true);
                if (!cr)
                        continue;
                cr->state = STATE_READY;
                cr->pid = (uint32_t)getpid();
                cr->started_at = op->d->started_at;
                is_self = true;
        }
        return is_self && op->plan.state == STATE_READY;
}

/* The cell's containers as wanted: effective specs (the space's defaults filled in), their digests,
 * whether their images are there, and what the daemon remembers of their restarts. */
static int op_plan_cell(Op *op)
{
        Daemon *d = op->d;
        Resource *r = op->res;
        bool desired = op->desire == DESIRE_PRESENT;
        const CellSpec *spec = desired && r->spec ? &r->spec->spec.cell : NULL;
        size_t n = spec ? spec->n_containers : 0;
        const Resource *space = cell_space(d, r);
        const SpaceSpec *space_spec = space && space->spec ? &space->spec->spec.space : NULL;
        int k;

        if (n) {
                op->want = calloc(n, sizeof(*op->want));
                op->want_digest = calloc(n, sizeof(*op->want_digest));
                op->want_resources = calloc(n, sizeof(*op->want_resources));
                if (!op->want || !op->want_digest || !op->want_resources)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                if ((k = container_effective(&spec->containers[i], space_spec, &op->want[i])) < 0)
                        return k;
                op->n_want++;
                if ((k = container_spec_digest(&op->want[i], op->want_digest[i])) < 0 ||
                    (k = container_resources_digest(&op->want[i], op->want_resources[i])) < 0)
                        return k;
        }
        if ((k = cell_records_update(op)) < 0)
                return k;
        _cleanup_free_ DesiredContainer *want = n ? calloc(n, sizeof(*want)) : NULL;
        if (n && !want)
                return -ENOMEM;
        const ContainerSpec *root = spec ? cell_root_container(spec) : NULL;
        for (size_t i = 0; i < n; i++) {
                const ContainerSpec *c = &op->want[i];
                const CellImage *im = c->image ? cell_image_find(op, c->image) : NULL;
                const ContainerRecord *cr = cell_container_record(r, c->id, false);
                want[i] = (DesiredContainer){.spec = c,
                                             .spec_digest = op->want_digest[i],
                                             .resources_digest = op->want_resources[i],
                                             .is_root = &spec->containers[i] == root,
                                             /* only containers still to create had their image looked up */
                                             .image_present = !im || im->is_present,
                                             .restarts = cr ? cr->restarts : (RestartMemory){0}};
        }
        CellPlanInput in = {.id = r->id,
                            .spec = spec,
                            .metadata = spec ? &r->spec->metadata : NULL,
                            .restarted_at_seen = r->rec.restarted_at,
                            .containers = want,
                            .n_containers = n,
                            .observed = &op->cell,
                            .parent_ready = parent_is_ready(d, r),
                            .now = time_now()};
        k = plan_cell(&in, &op->plan);
        if (k >= 0 && self_cell_note(op))
                snprintf(op->plan.message, sizeof(op->plan.message),
                         "kukeond " KUKEON_VERSION " runs as pid %d%s", (int)getpid(),
                         d->is_ctrd_ready ? "" : "; containerd is not reachable");
        return k;
}

/* An Image resource: there (Ready) or imported / pulled. */
static int op_plan_image(Op *op)
{
        Resource *r = op->res;
        const CellImage *im = op->n_images ? &op->images[0] : NULL;
        const ImageSpec *spec = &r->spec->spec.image;
        if (im && im->is_present) {
                snprintf(r->rec.image_digest, sizeof(r->rec.image_digest), "%s", strempty(im->digest));
                op->plan = (Plan){.state = STATE_READY};
                snprintf(op->plan.reason, sizeof(op->plan.reason), "Available");
                snprintf(op->plan.message, sizeof(op->plan.message),
                         "%s is unpacked in the realm's namespace", im->name);
                return 0;
        }
        op->plan = (Plan){.state = STATE_PENDING, .actions = calloc(1, sizeof(Action)), .n = 1};
        if (!op->plan.actions)
                return -ENOMEM;
        op->plan.actions[0] = (Action){.type = ACTION_IMAGE_ENSURE, .id = r->id};
        snprintf(op->plan.reason, sizeof(op->plan.reason), "%s", spec->source ? "Importing" : "Pulling");
        snprintf(op->plan.message, sizeof(op->plan.message), "%s %s", spec->source ? "importing" : "pulling",
                 spec->source ? spec->source : spec->reference);
        return 0;
}

static int op_plan(Op *op)
{
        Daemon *d = op->d;
        Resource *r = op->res;
        bool desired = op->desire == DESIRE_PRESENT;

        if (r->id.kind == KIND_CELL)
                return op_plan_cell(op);
        if (r->id.kind == KIND_IMAGE && !desired) {
                op->plan = (Plan){.state = STATE_DELETING, .actions = calloc(1, sizeof(Action)), .n = 1};
                if (!op->plan.actions)
                        return -ENOMEM;
                op->plan.actions[0] = (Action){.type = ACTION_FILES_REMOVE, .id = r->id};
                return 0;
        }
        if (r->id.kind == KIND_IMAGE)
                return op_plan_image(op);
        op->level.n_children = desired ? 0 : count_live_children(d, r);
        LevelPlanInput in = {.id = r->id,
                             .desired = desired,
                             .parent_ready = parent_is_ready(d, r),
                             .observed = &op->level};
        return plan_level(&in, &op->plan);
}

void op_observed(Op *op, int r, const char *message)
{
        if (op->is_cancelled) {
                op_finish(op, false);
                return;
        }
        if (r < 0) {
                op->error = r;
                op->failed_action = -1;
                snprintf(op->message, sizeof(op->message), "%s",
                         message && *message ? message : strerror(-r));
                op->plan = (Plan){.state = op->desire == DESIRE_PRESENT ? STATE_PENDING : STATE_DELETING};
                op_complete(op);
                return;
        }
        op->has_observation = true;
        res_stamp(op->d, op->res, "observed"); /* BENCH STAMP */
        r = op_plan(op);
        res_stamp(op->d, op->res, "planned n=%zu state=%s reason=%s", op->plan.n,
                  state_to_string(op->plan.state), op->plan.reason); /* BENCH STAMP */
        if (r < 0) {
                op->error = r;
                snprintf(op->message, sizeof(op->message), "planning: %s", strerror(-r));
                op_complete(op);
                return;
        }
        if (op->plan.n == 0) {
                op_complete(op);
                return;
        }
        op_execute(op);
}

typedef struct ChildCount {
        const Resource *parent;
        size_t n;
} ChildCount;

static void count_if_live_child(Resource *r, void *userdata)
{
        ChildCount *c = userdata;
        ResourceId p;
        if ((r->is_live || r->op) && resource_parent_id(&r->id, &p) && resource_id_equal(&p, &c->parent->id))
                c->n++;
}

static size_t count_live_children(Daemon *d, const Resource *r)
{
        ChildCount c = {r, 0};
        resource_foreach(&d->table, count_if_live_child, &c);
        return c.n;
}

static void op_start(Daemon *d, Resource *r)
{
        Op *op = calloc(1, sizeof(*op));
        if (!op) {
                (void)dirty_queue_done(&d->queue, &r->qi);
                daemon_mark_dirty(d, r); /* try again later */
                return;
        }
        *op = (Op){.d = d, .res = r, .desire = r->desire, .failed_action = -1, .missing_action = -1};
        snprintf(op->digest, sizeof(op->digest), "%s", r->digest);
        op->had_status = r->status != NULL;
        r->op = op;
        d->n_ops++;
        res_stamp(d, r, "round"); /* BENCH STAMP */
        if (r->desire == DESIRE_INVALID || r->desire == DESIRE_INVALID_PARENT) {
                /* left as it is: a typo never tears anything down */
                int w = status_update_frozen(d, r);
                if (w < 0)
                        log_warning_errno(&d->log, w, "Failed to write a status: %m");
                r->is_ready = false;
                op_finish(op, false);
                return;
        }
        op_observe(op);
}

static void cancel_one(Resource *r, void *userdata)
{
        if (!r->op)
                return;
        r->op->is_cancelled = true;
        if (r->op->cni_op) {
                cni_op_cancel(r->op->cni_op);
                r->op->cni_op = NULL;
        }
}

void daemon_cancel_ops(Daemon *d)
{
        resource_foreach(&d->table, cancel_one, NULL);
        image_jobs_cancel(d);
}
