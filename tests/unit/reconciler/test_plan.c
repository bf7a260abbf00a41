/* The cell planner: every step of bring-up, restart policy and back-off, spec changes, run state,
 * restart requests and teardown, compared as whole action lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reconciler/plan.h"
#include "state/schema.h"

#define NOW 1000000

typedef struct Fixture {
        ContainerSpec specs[2]; /* app (root), side */
        DesiredContainer desired[2];
        ObservedContainer obs[2];
        ObservedCell cell;
        CellSpec cell_spec;
        Metadata meta;
        CellPlanInput in;
        char buf[1024];
} Fixture;

static int setup(void **state)
{
        Fixture *f = calloc(1, sizeof(*f));
        const char *names[] = {"app", "side"};
        for (int i = 0; i < 2; i++) {
                f->specs[i].id = (char *)names[i];
                f->specs[i].image = (char *)"docker.io/kukeon/busybox:test";
                f->specs[i].restart_policy = RESTART_NEVER;
                f->specs[i].restart_backoff_seconds = 1;
                f->specs[i].restart_max_retries = 5;
                f->desired[i] = (DesiredContainer){.spec = &f->specs[i],
                                                   .spec_digest = names[i],
                                                   .is_root = i == 0,
                                                   .image_present = true};
                f->obs[i] =
                        (ObservedContainer){.name = names[i], .is_root = i == 0, .spec_digest = names[i]};
        }
        f->cell_spec.stop_grace_period_seconds = 10;
        f->cell = (ObservedCell){.cgroup_exists = true,
                                 .cgroup_limits_match = true,
                                 .netns_exists = true,
                                 .net_attached = true,
                                 .hosts_current = true,
                                 .containers = f->obs,
                                 .n_containers = 0};
        f->in = (CellPlanInput){.spec = &f->cell_spec,
                                .metadata = &f->meta,
                                .containers = f->desired,
                                .n_containers = 2,
                                .observed = &f->cell,
                                .parent_ready = true,
                                .now = NOW};
        f->in.id.kind = KIND_CELL;
        strcpy(f->in.id.realm, "main");
        strcpy(f->in.id.space, "blog");
        strcpy(f->in.id.stack, "wordpress");
        strcpy(f->in.id.cell, "wp");
        strcpy(f->in.id.name, "wp");
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        Fixture *f = *state;
        strmap_done(&f->meta.annotations);
        free(f);
        return 0;
}

/* Both containers observed with their records, in the given task states. */
static void observe(Fixture *f, TaskStatus app, TaskStatus side)
{
        f->cell.n_containers = 2;
        f->obs[0].exists = f->obs[1].exists = true;
        f->obs[0].task = app;
        f->obs[1].task = side;
}

/* "type:container@grace" joined by "; ", and the state. */
static const char *plan(Fixture *f, State *ret_state)
{
        Plan p;
        assert_int_equal(plan_cell(&f->in, &p), 0);
        size_t n = 0;
        f->buf[0] = '\0';
        for (size_t i = 0; i < p.n; i++) {
                const Action *a = &p.actions[i];
                n += (size_t)snprintf(f->buf + n, sizeof(f->buf) - n, "%s%s%s%s", i ? "; " : "",
                                      action_type_to_string(a->type), a->container[0] ? ":" : "",
                                      a->container);
                if (a->type == ACTION_TASK_STOP)
                        n += (size_t)snprintf(f->buf + n, sizeof(f->buf) - n, "@%lld",
                                              (long long)a->grace_seconds);
                if (a->type == ACTION_WAKE_AT)
                        n += (size_t)snprintf(f->buf + n, sizeof(f->buf) - n, "@+%lld",
                                              (long long)(a->at - NOW));
                if (a->is_restart)
                        n += (size_t)snprintf(f->buf + n, sizeof(f->buf) - n, "!");
        }
        if (ret_state)
                *ret_state = p.state;
        plan_done(&p);
        return f->buf;
}

static void test_bring_up_in_order(void **state)
{
        Fixture *f = *state;
        State s;
        f->cell = (ObservedCell){.containers = f->obs};
        assert_string_equal(plan(f, &s), "cgroup-ensure");
        assert_int_equal(s, STATE_PENDING);
        f->cell.cgroup_exists = true;
        assert_string_equal(plan(f, &s), "cgroup-set-limits; netns-create");
        f->cell.cgroup_limits_match = true;
        f->cell.netns_exists = true;
        assert_string_equal(plan(f, &s), "cni-add");
        f->cell.net_attached = true;
        f->desired[0].image_present = f->desired[1].image_present = false;
        assert_string_equal(plan(f, &s), "hosts-write; image-ensure:app; image-ensure:side");
        f->cell.hosts_current = true;
        f->desired[0].image_present = f->desired[1].image_present = true;
        /* root first: the others wait until it runs */
        assert_string_equal(plan(f, &s), "container-create:app");
        assert_int_equal(s, STATE_PENDING);
        f->cell.n_containers = 1;
        f->obs[0].exists = true;
        assert_string_equal(plan(f, &s), "task-start:app");
        f->obs[0].task = TASK_RUNNING;
        assert_string_equal(plan(f, &s), "container-create:side");
        assert_int_equal(s, STATE_PENDING);
        observe(f, TASK_RUNNING, TASK_CREATED);
        assert_string_equal(plan(f, &s), "task-start:side");
        observe(f, TASK_RUNNING, TASK_RUNNING);
        assert_string_equal(plan(f, &s), "");
        assert_int_equal(s, STATE_READY);
}

static void test_parent_not_ready(void **state)
{
        Fixture *f = *state;
        State s;
        f->in.parent_ready = false;
        assert_string_equal(plan(f, &s), "");
        assert_int_equal(s, STATE_PENDING);
}

static void test_host_network_skips_netns(void **state)
{
        Fixture *f = *state;
        f->specs[0].host_network = f->specs[1].host_network = true;
        f->cell.netns_exists = f->cell.net_attached = false;
        assert_string_equal(plan(f, NULL), "container-create:app");
}

static void test_never_policy(void **state)
{
        Fixture *f = *state;
        State s;
        observe(f, TASK_RUNNING, TASK_STOPPED);
        f->obs[1].exit_status = 1;
        assert_string_equal(plan(f, &s), "");
        assert_int_equal(s, STATE_ERROR);
        f->obs[1].exit_status = 0;
        assert_string_equal(plan(f, &s), "");
        assert_int_equal(s, STATE_EXITED);
}

static void test_on_failure_backoff(void **state)
{
        Fixture *f = *state;
        State s;
        f->specs[1].restart_policy = RESTART_ON_FAILURE;
        f->specs[1].restart_backoff_seconds = 4;
        observe(f, TASK_RUNNING, TASK_STOPPED);
        f->obs[1].exit_status = 2;
        f->obs[1].exited_at = NOW;
        assert_string_equal(plan(f, &s), "wake-at:side@+4");
        assert_int_equal(s, STATE_DEGRADED);
        f->obs[1].exited_at = NOW - 4;
        assert_string_equal(plan(f, &s), "task-start:side!");
        /* later restarts wait their doubled back-off */
        f->desired[1].restarts = (RestartMemory){.restart_count = 1, .backoff_seconds = 8};
        f->obs[1].exited_at = NOW - 1;
        assert_string_equal(plan(f, &s), "wake-at:side@+7");
        /* a clean exit is not restarted by on-failure */
        f->obs[1].exit_status = 0;
        assert_string_equal(plan(f, &s), "");
        assert_int_equal(s, STATE_EXITED);
}

static void test_on_failure_gives_up(void **state)
{
        Fixture *f = *state;
        State s;
        f->specs[1].restart_policy = RESTART_ON_FAILURE;
        f->desired[1].restarts.restart_count = 5;
        observe(f, TASK_RUNNING, TASK_STOPPED);
        f->obs[1].exit_status = 1;
        assert_string_equal(plan(f, &s), "");
        assert_int_equal(s, STATE_ERROR);
}

static void test_always_and_healthy_reset(void **state)
{
        Fixture *f = *state;
        f->specs[1].restart_policy = RESTART_ALWAYS;
        observe(f, TASK_RUNNING, TASK_STOPPED);
        f->obs[1].exit_status = 0;
        f->obs[1].exited_at = NOW;
        f->desired[1].restarts = (RestartMemory){.restart_count = 7, .backoff_seconds = 128};
        assert_string_equal(plan(f, NULL), "wake-at:side@+128");
        /* it ran for a long time before this exit: back to the base delay */
        f->obs[1].started_at = NOW - 3600;
        assert_string_equal(plan(f, NULL), "wake-at:side@+1");
        f->specs[1].restart_backoff_seconds = 0;
        assert_string_equal(plan(f, NULL), "task-start:side!");
}

static void test_next_backoff(void **state)
{
        ContainerSpec spec = {.restart_backoff_seconds = 1};
        RestartMemory m = {0};
        assert_int_equal(restart_next_backoff(&spec, &m), 2);
        m.backoff_seconds = 200;
        assert_int_equal(restart_next_backoff(&spec, &m), RESTART_BACKOFF_CAP_SECONDS);
        spec.restart_backoff_seconds = 0;
        m.backoff_seconds = 0;
        assert_int_equal(restart_next_backoff(&spec, &m), 0);
}

static void test_changed_container_is_recreated(void **state)
{
        Fixture *f = *state;
        State s;
        observe(f, TASK_RUNNING, TASK_RUNNING);
        f->desired[1].spec_digest = "side-v2";
        assert_string_equal(plan(f, &s), "task-stop:side@10");
        f->obs[1].task = TASK_STOPPED;
        assert_string_equal(plan(f, &s), "task-delete:side");
        f->obs[1].task = TASK_NONE;
        assert_string_equal(plan(f, &s), "container-delete:side");
        f->obs[1].exists = false;
        f->cell.n_containers = 1;
        assert_string_equal(plan(f, &s), "container-create:side");
}

/* Limits changed: a running container is updated in place (no restart), once; one that is not running
 * is recreated so that its record carries them. */
static void test_resources_change_in_place(void **state)
{
        Fixture *f = *state;
        State s;
        observe(f, TASK_RUNNING, TASK_RUNNING);
        f->obs[0].resources_digest = f->obs[1].resources_digest = "r1";
        f->desired[0].resources_digest = f->desired[1].resources_digest = "r1";
        assert_string_equal(plan(f, &s), "");
        assert_int_equal(s, STATE_READY);
        f->desired[1].resources_digest = "r2";
        assert_string_equal(plan(f, &s), "container-update:side");
        assert_int_equal(s, STATE_READY);
        f->obs[1].live_resources_digest = "r2";
        assert_string_equal(plan(f, &s), "");
        /* back to the record's limits: applied in place again */
        f->desired[1].resources_digest = "r1";
        assert_string_equal(plan(f, &s), "container-update:side");
        /* not running: recreated with the new limits */
        f->obs[1].live_resources_digest = NULL;
        f->desired[1].resources_digest = "r3";
        f->obs[1].task = TASK_STOPPED;
        assert_string_equal(plan(f, &s), "task-delete:side");
        /* no label (a record made before limits were labelled): never compared */
        f->obs[1].task = TASK_RUNNING;
        f->obs[1].resources_digest = NULL;
        assert_string_equal(plan(f, &s), "");
}

/* The netns was unmounted behind kukeond's back: the running tasks stop (they hold the old namespace), then
 * a new one is pinned and attached, then they start again. */
static void test_netns_gone_restarts_tasks(void **state)
{
        Fixture *f = *state;
        State s;
        observe(f, TASK_RUNNING, TASK_RUNNING);
        f->cell.netns_exists = false;
        f->cell.net_attached = false;
        assert_string_equal(plan(f, &s), "task-stop:side@10");
        f->obs[1].task = TASK_STOPPED;
        assert_string_equal(plan(f, &s), "task-stop:app@10");
        f->obs[0].task = TASK_STOPPED;
        assert_string_equal(plan(f, &s), "task-delete:app; task-delete:side");
        assert_int_equal(s, STATE_PENDING);
        f->obs[0].task = TASK_NONE;
        f->obs[1].task = TASK_NONE;
        assert_string_equal(plan(f, &s), "netns-create");
        f->cell.netns_exists = true;
        assert_string_equal(plan(f, &s), "cni-add");
        f->cell.net_attached = true;
        assert_string_equal(plan(f, &s), "task-start:app");
}

static void test_changed_root_recreates_all(void **state)
{
        Fixture *f = *state;
        observe(f, TASK_RUNNING, TASK_RUNNING);
        f->desired[0].spec_digest = "app-v2";
        assert_string_equal(plan(f, NULL), "task-stop:side@10");
        f->obs[1].task = TASK_STOPPED;
        assert_string_equal(plan(f, NULL), "task-stop:app@10");
        f->obs[0].task = TASK_STOPPED;
        assert_string_equal(plan(f, NULL), "task-delete:app; task-delete:side");
        f->obs[0].task = f->obs[1].task = TASK_NONE;
        assert_string_equal(plan(f, NULL), "container-delete:app; container-delete:side");
}

static void test_container_gone_from_spec(void **state)
{
        Fixture *f = *state;
        observe(f, TASK_RUNNING, TASK_RUNNING);
        f->in.n_containers = 1;
        assert_string_equal(plan(f, NULL), "task-stop:side@10");
}

static void test_run_state_stopped(void **state)
{
        Fixture *f = *state;
        State s;
        f->cell_spec.run_state = RUN_STATE_STOPPED;
        observe(f, TASK_RUNNING, TASK_RUNNING);
        assert_string_equal(plan(f, &s), "task-stop:side@10");
        assert_int_equal(s, STATE_PENDING);
        f->obs[1].task = TASK_STOPPED;
        assert_string_equal(plan(f, &s), "task-stop:app@10");
        f->obs[0].task = TASK_STOPPED;
        assert_string_equal(plan(f, &s), "task-delete:app; task-delete:side");
        f->obs[0].task = f->obs[1].task = TASK_NONE;
        /* the records stay: start creates no container */
        assert_string_equal(plan(f, &s), "");
        assert_int_equal(s, STATE_STOPPED);
}

static void test_kill_annotation(void **state)
{
        Fixture *f = *state;
        f->cell_spec.run_state = RUN_STATE_STOPPED;
        assert_int_equal(strmap_set(&f->meta.annotations, ANNOTATION_KILL, "true"), 0);
        observe(f, TASK_RUNNING, TASK_NONE);
        assert_string_equal(plan(f, NULL), "task-stop:app@0");
}

static void test_restart_request(void **state)
{
        Fixture *f = *state;
        Plan p;
        assert_int_equal(strmap_set(&f->meta.annotations, ANNOTATION_RESTARTED_AT, "2026-11-26T12:00:00Z"),
                         0);
        observe(f, TASK_RUNNING, TASK_RUNNING);
        assert_string_equal(plan(f, NULL), "task-stop:side@10");
        f->obs[1].task = TASK_STOPPED;
        assert_string_equal(plan(f, NULL), "task-stop:app@10");
        f->obs[0].task = TASK_STOPPED;
        /* every task stopped: start again, which does not count against the restart policy */
        assert_string_equal(plan(f, NULL), "task-start:app");
        assert_int_equal(plan_cell(&f->in, &p), 0);
        assert_true(p.ack_restart);
        plan_done(&p);
        f->in.restarted_at_seen = "2026-11-26T12:00:00Z";
        f->obs[0].task = TASK_RUNNING;
        f->obs[1].task = TASK_RUNNING;
        assert_string_equal(plan(f, NULL), "");
}

static void test_teardown_order(void **state)
{
        Fixture *f = *state;
        State s;
        f->in.spec = NULL;
        observe(f, TASK_RUNNING, TASK_RUNNING);
        assert_string_equal(plan(f, &s), "task-stop:side@10");
        assert_int_equal(s, STATE_DELETING);
        f->obs[1].task = TASK_STOPPED;
        assert_string_equal(plan(f, NULL), "task-stop:app@10");
        f->obs[0].task = TASK_STOPPED;
        assert_string_equal(plan(f, NULL), "task-delete:app; task-delete:side");
        f->obs[0].task = f->obs[1].task = TASK_NONE;
        assert_string_equal(plan(f, NULL), "container-delete:app; container-delete:side");
        f->cell.n_containers = 0;
        assert_string_equal(plan(f, NULL), "cni-del");
        f->cell.net_attached = false;
        assert_string_equal(plan(f, NULL), "netns-delete");
        f->cell.netns_exists = false;
        assert_string_equal(plan(f, NULL), "cgroup-remove");
        f->cell.cgroup_exists = false;
        assert_string_equal(plan(f, NULL), "files-remove");
}

/* The manifest is gone: each container is stopped with the grace its record says its cell asked for. */
static void test_teardown_grace_from_record(void **state)
{
        Fixture *f = *state;
        f->in.spec = NULL;
        observe(f, TASK_RUNNING, TASK_RUNNING);
        f->obs[0].has_stop_grace = f->obs[1].has_stop_grace = true;
        f->obs[0].stop_grace_seconds = 2;
        f->obs[1].stop_grace_seconds = 0;
        assert_string_equal(plan(f, NULL), "task-stop:side@0");
        f->obs[1].task = TASK_STOPPED;
        assert_string_equal(plan(f, NULL), "task-stop:app@2");
        /* the spec, while there is one, wins over the record */
        f->in.spec = &f->cell_spec;
        f->cell_spec.stop_grace_period_seconds = 7;
        f->specs[1].id = (char *)"other";
        f->desired[1].spec_digest = "other";
        f->in.n_containers = 1;
        f->obs[1].task = TASK_RUNNING;
        assert_string_equal(plan(f, NULL), "task-stop:side@7");
}

static void test_external_root(void **state)
{
        Fixture *f = *state;
        State s;
        f->specs[0].external = true;
        f->specs[0].host_network = true;
        f->in.n_containers = 1;
        assert_string_equal(plan(f, &s), "");
        assert_int_equal(s, STATE_READY);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_bring_up_in_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parent_not_ready, setup, teardown),
                cmocka_unit_test_setup_teardown(test_host_network_skips_netns, setup, teardown),
                cmocka_unit_test_setup_teardown(test_never_policy, setup, teardown),
                cmocka_unit_test_setup_teardown(test_on_failure_backoff, setup, teardown),
                cmocka_unit_test_setup_teardown(test_on_failure_gives_up, setup, teardown),
                cmocka_unit_test_setup_teardown(test_always_and_healthy_reset, setup, teardown),
                cmocka_unit_test(test_next_backoff),
                cmocka_unit_test_setup_teardown(test_changed_container_is_recreated, setup, teardown),
                cmocka_unit_test_setup_teardown(test_changed_root_recreates_all, setup, teardown),
                cmocka_unit_test_setup_teardown(test_container_gone_from_spec, setup, teardown),
                cmocka_unit_test_setup_teardown(test_run_state_stopped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kill_annotation, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restart_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_teardown_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_teardown_grace_from_record, setup, teardown),
                cmocka_unit_test_setup_teardown(test_external_root, setup, teardown),
                cmocka_unit_test_setup_teardown(test_resources_change_in_place, setup, teardown),
                cmocka_unit_test_setup_teardown(test_netns_gone_restarts_tasks, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
