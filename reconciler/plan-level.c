/* Planning realms, spaces and stacks: each is a cgroup level plus, for a realm, a containerd namespace
 * and, for a space, a subnet and a CNI network. Parents come up before their children and go after
 * them. */
#include <stdio.h>
#include <stdlib.h>

#include "reconciler/plan.h"

static int add(Plan *p, ActionType type, const ResourceId *id)
{
        Action *a = realloc(p->actions, (p->n + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        p->actions = a;
        a[p->n++] = (Action){.type = type, .id = *id};
        return 0;
}

static void set_state(Plan *p, State s, const char *reason, const char *message)
{
        p->state = s;
        snprintf(p->reason, sizeof(p->reason), "%s", reason);
        snprintf(p->message, sizeof(p->message), "%s", message);
}

static int plan_level_up(const LevelPlanInput *in, Plan *p)
{
        const ObservedLevel *o = in->observed;
        Kind k = in->id.kind;

        if (!in->parent_ready) {
                set_state(p, STATE_PENDING, "WaitingForParent", "waiting for the parent to be ready");
                return 0;
        }
        set_state(p, STATE_PENDING, "Creating", "creating");
        if (k == KIND_REALM && (!o->namespace_exists || !o->namespace_labels_match))
                return add(p, ACTION_NAMESPACE_ENSURE, &in->id);
        if (k == KIND_SPACE && !o->subnet_recorded)
                return add(p, ACTION_SUBNET_ALLOCATE, &in->id);
        if (k == KIND_SPACE && !o->network_current)
                return add(p, ACTION_NETWORK_ENSURE, &in->id);
        if (!o->cgroup_exists)
                return add(p, ACTION_CGROUP_ENSURE, &in->id);
        if (!o->cgroup_limits_match)
                return add(p, ACTION_CGROUP_SET_LIMITS, &in->id);
        set_state(p, STATE_READY, "Ready", "ready");
        return 0;
}

static int plan_level_down(const LevelPlanInput *in, Plan *p)
{
        const ObservedLevel *o = in->observed;
        Kind k = in->id.kind;

        set_state(p, STATE_DELETING, "Deleting", "deleting");
        if (o->n_children > 0) {
                set_state(p, STATE_DELETING, "WaitingForChildren",
                          "waiting for the resources inside it to go");
                return 0;
        }
        if (o->cgroup_exists)
                return add(p, ACTION_CGROUP_REMOVE, &in->id);
        if (k == KIND_SPACE && o->network_exists)
                return add(p, ACTION_NETWORK_REMOVE, &in->id);
        if (k == KIND_REALM && o->namespace_exists)
                return add(p, ACTION_NAMESPACE_DELETE, &in->id);
        return add(p, ACTION_FILES_REMOVE, &in->id);
}

int plan_level(const LevelPlanInput *in, Plan *ret)
{
        *ret = (Plan){.state = STATE_PENDING};
        int r = in->desired ? plan_level_up(in, ret) : plan_level_down(in, ret);
        if (r < 0)
                plan_done(ret);
        return r;
}
