/* Planning a cell: infrastructure first (cgroup, netns, CNI, hosts), then images, then containers root
 * first; teardown in the fixed reverse order. Each call returns only what can run now. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "reconciler/plan.h"
#include "state/schema.h"

static const char *const action_names[_ACTION_TYPE_MAX] = {
        [ACTION_NAMESPACE_ENSURE] = "namespace-ensure",
        [ACTION_NAMESPACE_DELETE] = "namespace-delete",
        [ACTION_CGROUP_ENSURE] = "cgroup-ensure",
        [ACTION_CGROUP_SET_LIMITS] = "cgroup-set-limits",
        [ACTION_CGROUP_REMOVE] = "cgroup-remove",
        [ACTION_SUBNET_ALLOCATE] = "subnet-allocate",
        [ACTION_NETWORK_ENSURE] = "network-ensure",
        [ACTION_NETWORK_REMOVE] = "network-remove",
        [ACTION_NETNS_CREATE] = "netns-create",
        [ACTION_NETNS_DELETE] = "netns-delete",
        [ACTION_CNI_ADD] = "cni-add",
        [ACTION_CNI_DEL] = "cni-del",
        [ACTION_HOSTS_WRITE] = "hosts-write",
        [ACTION_IMAGE_ENSURE] = "image-ensure",
        [ACTION_CONTAINER_CREATE] = "container-create",
        [ACTION_CONTAINER_DELETE] = "container-delete",
        [ACTION_TASK_START] = "task-start",
        [ACTION_TASK_STOP] = "task-stop",
        [ACTION_TASK_DELETE] = "task-delete",
        [ACTION_WAKE_AT] = "wake-at",
        [ACTION_FILES_REMOVE] = "files-remove",
        [ACTION_CONTAINER_UPDATE] = "container-update",
};

const char *action_type_to_string(ActionType t)
{
        return t >= 0 && t < _ACTION_TYPE_MAX ? action_names[t] : NULL;
}

bool action_touches_containerd(ActionType t)
{
        switch (t) {
        case ACTION_NAMESPACE_ENSURE:
        case ACTION_NAMESPACE_DELETE:
        case ACTION_IMAGE_ENSURE:
        case ACTION_CONTAINER_CREATE:
        case ACTION_CONTAINER_DELETE:
        case ACTION_CONTAINER_UPDATE:
        case ACTION_TASK_START:
        case ACTION_TASK_STOP:
        case ACTION_TASK_DELETE:
                return true;
        default:
                return false;
        }
}

void plan_done(Plan *p)
{
        free(p->actions);
        p->actions = NULL;
        p->n = 0;
}

static Action *plan_add(Plan *p, ActionType type, const ResourceId *id, const char *container)
{
        Action *a = realloc(p->actions, (p->n + 1) * sizeof(*a));
        if (!a)
                return NULL;
        p->actions = a;
        a = &a[p->n++];
        *a = (Action){.type = type, .id = *id};
        if (container)
                snprintf(a->container, sizeof(a->container), "%s", container);
        return a;
}

static void plan_state(Plan *p, State state, const char *reason, const char *fmt, ...) _printf_(4, 5);
static void plan_state(Plan *p, State state, const char *reason, const char *fmt, ...)
{
        p->state = state;
        snprintf(p->reason, sizeof(p->reason), "%s", reason);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->message, sizeof(p->message), fmt, ap);
        va_end(ap);
}

static const ObservedContainer *observed_find(const ObservedCell *o, const char *name)
{
        for (size_t i = 0; i < o->n_containers; i++)
                if (streq_ptr(o->containers[i].name, name))
                        return &o->containers[i];
        return NULL;
}

static bool task_is_live(TaskStatus t)
{
        return t == TASK_RUNNING || t == TASK_PAUSED || t == TASK_CREATED || t == TASK_UNKNOWN;
}

#define STOP_GRACE_DEFAULT 10

/* The grace of a stop: none when the kill annotation says so, else the spec's; -1 when there is no spec
 * (the manifest is gone): each container's own record says what its cell asked for. */
static int64_t stop_grace(const CellPlanInput *in)
{
        const char *kill = in->metadata ? strmap_get(&in->metadata->annotations, ANNOTATION_KILL) : NULL;
        if (kill && streq(kill, "true"))
                return 0;
        return in->spec ? in->spec->stop_grace_period_seconds : -1;
}

/* Stops, then deletes the tasks and records of the observed containers that match `which` (all when
 * NULL): non-root tasks first, the root's last. *ret_busy says whether anything is still to do. */
static int plan_remove_containers(Plan *p, const ResourceId *id, const ObservedCell *o,
                                  bool (*which)(const CellPlanInput *, const ObservedContainer *),
                                  const CellPlanInput *in, int64_t grace, bool *ret_busy)
{
        bool busy = false;
        for (int pass = 0; pass < 2 && !busy; pass++)
                for (size_t i = 0; i < o->n_containers; i++) {
                        const ObservedContainer *c = &o->containers[i];
                        if ((which && !which(in, c)) || (pass == 0) == c->is_root || !task_is_live(c->task))
                                continue;
                        Action *a = plan_add(p, ACTION_TASK_STOP, id, c->name);
                        if (!a)
                                return -ENOMEM;
                        a->grace_seconds = grace >= 0          ? grace
                                           : c->has_stop_grace ? c->stop_grace_seconds
                                                               : STOP_GRACE_DEFAULT;
                        busy = true;
                }
        for (int stage = 0; stage < 2 && !busy; stage++)
                for (size_t i = 0; i < o->n_containers; i++) {
                        const ObservedContainer *c = &o->containers[i];
                        if ((which && !which(in, c)) || (stage == 0 ? c->task == TASK_NONE : !c->exists))
                                continue;
                        if (!plan_add(p, stage == 0 ? ACTION_TASK_DELETE : ACTION_CONTAINER_DELETE, id,
                                      c->name))
                                return -ENOMEM;
                        busy = true;
                }
        *ret_busy = busy;
        return 0;
}

static int plan_cell_teardown(const CellPlanInput *in, Plan *p)
{
        const ObservedCell *o = in->observed;
        bool busy = false;
        int r;

        plan_state(p, STATE_DELETING, "Deleting", "tearing the cell down");
        r = plan_remove_containers(p, &in->id, o, NULL, in, stop_grace(in), &busy);
        if (r < 0 || busy)
                return r;
        ActionType next = o->net_attached    ? ACTION_CNI_DEL
                          : o->netns_exists  ? ACTION_NETNS_DELETE
                          : o->cgroup_exists ? ACTION_CGROUP_REMOVE
                                             : ACTION_FILES_REMOVE;
        return plan_add(p, next, &in->id, NULL) ? 0 : -ENOMEM;
}

static const DesiredContainer *desired_find(const CellPlanInput *in, const char *name)
{
        for (size_t i = 0; i < in->n_containers; i++)
                if (streq_ptr(in->containers[i].spec->id, name))
                        return &in->containers[i];
        return NULL;
}

static const DesiredContainer *desired_root(const CellPlanInput *in)
{
        for (size_t i = 0; i < in->n_containers; i++)
                if (in->containers[i].is_root)
                        return &in->containers[i];
        return in->n_containers ? &in->containers[0] : NULL;
}

/* The root's record exists with another spec: every container of the cell is recreated with it. */
static bool root_changed(const CellPlanInput *in)
{
        const DesiredContainer *root = desired_root(in);
        const ObservedContainer *o = root ? observed_find(in->observed, root->spec->id) : NULL;
        return o && o->exists && !streq_ptr(o->spec_digest, root->spec_digest);
}

/* A container record the cell no longer wants as it is: gone from the spec, or its spec changed. */
static bool is_unwanted(const CellPlanInput *in, const ObservedContainer *c)
{
        const DesiredContainer *d = desired_find(in, c->name);
        if (!d || d->spec->external)
                return true;
        if (!c->exists)
                return c->task != TASK_NONE; /* a task without its record: clean it up */
        if (root_changed(in) || !streq_ptr(c->spec_digest, d->spec_digest))
                return true;
        /* limits changed on a container that is not running: its record's spec must carry them for the
         * next start (a running one is updated in place) */
        return !task_is_live(c->task) && d->resources_digest && c->resources_digest &&
               !streq(c->resources_digest, d->resources_digest);
}

/* A running container whose limits differ from the wanted ones. */
static bool needs_update(const DesiredContainer *d, const ObservedContainer *o)
{
        const char *applied = o->live_resources_digest ? o->live_resources_digest : o->resources_digest;
        return d->resources_digest && applied && !streq(applied, d->resources_digest);
}

static bool restart_requested(const CellPlanInput *in)
{
        const char *want =
                in->metadata ? strmap_get(&in->metadata->annotations, ANNOTATION_RESTARTED_AT) : NULL;
        return want && !streq_ptr(want, in->restarted_at_seen);
}

static bool any_task_live(const CellPlanInput *in)
{
        for (size_t i = 0; i < in->observed->n_containers; i++)
                if (task_is_live(in->observed->containers[i].task))
                        return true;
        return false;
}

/* Counts of where the workloads stand, for the cell's state. */
typedef struct Tally {
        size_t running, pending, restarting, exited_ok, failed, gave_up;
        int32_t last_exit;
        const char *failed_name;
} Tally;

/* Plans one container of a running cell and tallies where it stands. */
static int plan_container(const CellPlanInput *in, const DesiredContainer *d, bool restart, Plan *p,
                          Tally *t)
{
        const ObservedContainer *o = observed_find(in->observed, d->spec->id);
        Action *a;
        int64_t at = 0;

        if (d->spec->external) {
                t->running++;
                return 0;
        }
        if (!o || !o->exists) {
                t->pending++;
                return plan_add(p, ACTION_CONTAINER_CREATE, &in->id, d->spec->id) ? 0 : -ENOMEM;
        }
        switch (o->task) {
        case TASK_RUNNING:
        case TASK_PAUSED:
                t->running++;
                if (needs_update(d, o) && !plan_add(p, ACTION_CONTAINER_UPDATE, &in->id, d->spec->id))
                        return -ENOMEM;
                return 0;
        case TASK_UNKNOWN:
                t->pending++;
                return 0;
        case TASK_NONE:
        case TASK_CREATED:
                t->pending++;
                return plan_add(p, ACTION_TASK_START, &in->id, d->spec->id) ? 0 : -ENOMEM;
        case TASK_STOPPED:
                break;
        }
        RestartDecision dec = restart ? RESTART_NOW
                                      : restart_decide(d->spec, &d->restarts, o->exit_status, o->started_at,
                                                       o->exited_at, in->now, &at);
        switch (dec) {
        case RESTART_NOW:
                t->restarting++;
                if (!(a = plan_add(p, ACTION_TASK_START, &in->id, d->spec->id)))
                        return -ENOMEM;
                a->is_restart = !restart;
                return 0;
        case RESTART_LATER:
                t->restarting++;
                if (!(a = plan_add(p, ACTION_WAKE_AT, &in->id, d->spec->id)))
                        return -ENOMEM;
                a->at = at;
                return 0;
        case RESTART_GIVE_UP:
                t->gave_up++;
                t->failed_name = d->spec->id;
                t->last_exit = o->exit_status;
                return 0;
        case RESTART_NO:
                if (o->exit_status == 0) {
                        t->exited_ok++;
                } else {
                        t->failed++;
                        t->failed_name = d->spec->id;
                        t->last_exit = o->exit_status;
                }
                return 0;
        }
        return 0;
}

static void derive_running_state(Plan *p, const Tally *root, const Tally *rest, size_t n_rest)
{
        /* a cell with non-root containers is judged by them, a lone root by itself */
        const Tally *w = n_rest ? rest : root;
        size_t total = n_rest ? n_rest : 1;
        bool root_up = root->running > 0;

        if (root->pending ||
            (n_rest && !root_up && !root->restarting && !root->failed && !root->gave_up && !root->exited_ok))
                plan_state(p, STATE_PENDING, "Starting", "starting the root container");
        else if (w->running == total && root_up)
                plan_state(p, STATE_READY, "Running", "all containers are running");
        else if (w->pending)
                plan_state(p, STATE_PENDING, "Starting", "starting containers");
        else if (w->restarting || root->restarting)
                plan_state(p, STATE_DEGRADED, "Restarting", "a container exited and is being restarted");
        else if (w->gave_up)
                plan_state(p, STATE_ERROR, "RestartLimitReached",
                           "container \"%s\" exited with status %d and "
                           "used up its restartMaxRetries",
                           w->failed_name, w->last_exit);
        else if (w->failed)
                plan_state(p, STATE_ERROR, "WorkloadFailed", "container \"%s\" exited with status %d",
                           w->failed_name, w->last_exit);
        else if (w->exited_ok == total)
                plan_state(p, STATE_EXITED, "Completed", "all containers exited with status 0");
        else
                plan_state(p, STATE_DEGRADED, "ContainerDown", "some containers are not running");
}

/* The infrastructure a running cell needs before its containers: cgroup, netns, CNI, hosts, images.
 * Returns 1 while something blocks the containers. */
static int plan_cell_infrastructure(const CellPlanInput *in, Plan *p)
{
        const ObservedCell *o = in->observed;
        bool host_network = in->n_containers && in->containers[0].spec->host_network;

        if (!o->cgroup_exists) {
                plan_state(p, STATE_PENDING, "Creating", "creating the cell's cgroup");
                return plan_add(p, ACTION_CGROUP_ENSURE, &in->id, NULL) ? 1 : -ENOMEM;
        }
        if (!o->cgroup_limits_match && !plan_add(p, ACTION_CGROUP_SET_LIMITS, &in->id, NULL))
                return -ENOMEM;
        if (!host_network && !o->netns_exists) {
                /* unpinned behind our back: tasks still running keep the old namespace alive, and with
                 * it an address nobody records; they are stopped first and start again in the new one */
                bool busy = false;
                size_t n0 = p->n, k = n0;
                if (plan_remove_containers(p, &in->id, o, NULL, in, stop_grace(in), &busy) < 0)
                        return -ENOMEM;
                for (size_t i = n0; i < p->n; i++)
                        if (p->actions[i].type != ACTION_CONTAINER_DELETE)
                                p->actions[k++] = p->actions[i];
                p->n = k;
                if (k > n0) {
                        plan_state(p, STATE_PENDING, "Recovering",
                                   "the cell's network namespace is gone: restarting its containers");
                        return 1;
                }
                plan_state(p, STATE_PENDING, "Creating", "creating the cell's network namespace");
                return plan_add(p, ACTION_NETNS_CREATE, &in->id, NULL) ? 1 : -ENOMEM;
        }
        if (!host_network && !o->net_attached) {
                plan_state(p, STATE_PENDING, "Creating", "attaching the cell to its space's network");
                return plan_add(p, ACTION_CNI_ADD, &in->id, NULL) ? 1 : -ENOMEM;
        }
        if (!o->hosts_current && !plan_add(p, ACTION_HOSTS_WRITE, &in->id, NULL))
                return -ENOMEM;
        bool missing = false;
        for (size_t i = 0; i < in->n_containers; i++) {
                const DesiredContainer *d = &in->containers[i];
                if (d->spec->external || d->image_present)
                        continue;
                if (!plan_add(p, ACTION_IMAGE_ENSURE, &in->id, d->spec->id))
                        return -ENOMEM;
                missing = true;
        }
        if (missing)
                plan_state(p, STATE_PENDING, "PullingImage", "getting the images of the cell's containers");
        return missing;
}

static int plan_cell_running(const CellPlanInput *in, Plan *p)
{
        bool busy = false, restart = restart_requested(in);
        int r = plan_cell_infrastructure(in, p);
        if (r != 0)
                return r < 0 ? r : 0;
        if (restart && any_task_live(in)) {
                plan_state(p, STATE_PENDING, "Restarting", "restarting the cell's containers");
                return plan_remove_containers(p, &in->id, in->observed, NULL, in, stop_grace(in), &busy) < 0
                               ? -ENOMEM
                               : 0;
        }
        /* with every task stopped, the starts below carry out the restart */
        p->ack_restart = restart;

        const DesiredContainer *root = desired_root(in);
        Tally troot = {0}, trest = {0};
        if ((r = plan_container(in, root, restart, p, &troot)) < 0)
                return r;
        size_t n_rest = 0;
        for (size_t i = 0; i < in->n_containers; i++) {
                const DesiredContainer *d = &in->containers[i];
                if (d == root)
                        continue;
                n_rest++;
                if (troot.running == 0) {
                        trest.pending++; /* the others start once the root runs */
                        continue;
                }
                if ((r = plan_container(in, d, restart, p, &trest)) < 0)
                        return r;
        }
        derive_running_state(p, &troot, &trest, n_rest);
        return 0;
}

static int plan_cell_stopped(const CellPlanInput *in, Plan *p)
{
        bool busy = false;
        int r = plan_remove_containers(p, &in->id, in->observed, NULL, in, stop_grace(in), &busy);
        if (r < 0)
                return r;
        /* plan_remove_containers would also delete the records; a stopped cell keeps them */
        size_t k = 0;
        for (size_t i = 0; i < p->n; i++)
                if (p->actions[i].type != ACTION_CONTAINER_DELETE)
                        p->actions[k++] = p->actions[i];
        p->n = k;
        if (p->n > 0)
                plan_state(p, STATE_PENDING, "Stopping", "stopping the cell's containers");
        else
                plan_state(p, STATE_STOPPED, "Stopped", "the cell is stopped (spec.runState: Stopped)");
        return 0;
}

int plan_cell(const CellPlanInput *in, Plan *ret)
{
        *ret = (Plan){.state = STATE_PENDING};
        int r;
        if (!in->spec)
                r = plan_cell_teardown(in, ret);
        else if (!in->parent_ready) {
                plan_state(ret, STATE_PENDING, "WaitingForParent", "waiting for stack \"%s\" to be ready",
                           in->id.stack);
                r = 0;
        } else {
                bool busy = false;
                /* first remove what the spec no longer wants as it is (changed or gone) */
                r = plan_remove_containers(ret, &in->id, in->observed, is_unwanted, in, stop_grace(in),
                                           &busy);
                if (r >= 0 && busy)
                        plan_state(ret, STATE_PENDING, "Updating",
                                   "replacing containers whose spec changed");
                else if (r >= 0)
                        r = in->spec->run_state == RUN_STATE_STOPPED ? plan_cell_stopped(in, ret)
                                                                     : plan_cell_running(in, ret);
        }
        if (r < 0)
                plan_done(ret);
        return r;
}
