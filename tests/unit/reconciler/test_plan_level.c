/* Realms, spaces and stacks: bring-up order, drift, and teardown after the children. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "reconciler/plan.h"

static const char *plan(const LevelPlanInput *in, State *ret_state, char buf[static 256])
{
        Plan p;
        assert_int_equal(plan_level(in, &p), 0);
        buf[0] = '\0';
        for (size_t i = 0; i < p.n; i++)
                snprintf(buf + strlen(buf), 256 - strlen(buf), "%s%s", i ? "; " : "",
                         action_type_to_string(p.actions[i].type));
        if (ret_state)
                *ret_state = p.state;
        plan_done(&p);
        return buf;
}

static LevelPlanInput input(Kind kind, ObservedLevel *o)
{
        LevelPlanInput in = {.desired = true, .parent_ready = true, .observed = o};
        in.id.kind = kind;
        strcpy(in.id.realm, "main");
        if (kind >= KIND_SPACE)
                strcpy(in.id.space, "blog");
        if (kind >= KIND_STACK)
                strcpy(in.id.stack, "wordpress");
        return in;
}

static void test_realm(void **state)
{
        char buf[256];
        State s;
        ObservedLevel o = {0};
        LevelPlanInput in = input(KIND_REALM, &o);
        assert_string_equal(plan(&in, &s, buf), "namespace-ensure");
        o.namespace_exists = true;
        assert_string_equal(plan(&in, &s, buf), "namespace-ensure"); /* labels drifted */
        o.namespace_labels_match = true;
        assert_string_equal(plan(&in, &s, buf), "cgroup-ensure");
        o.cgroup_exists = true;
        assert_string_equal(plan(&in, &s, buf), "cgroup-set-limits");
        o.cgroup_limits_match = true;
        assert_string_equal(plan(&in, &s, buf), "");
        assert_int_equal(s, STATE_READY);

        in.desired = false;
        o.n_children = 2;
        assert_string_equal(plan(&in, &s, buf), "");
        assert_int_equal(s, STATE_DELETING);
        o.n_children = 0;
        assert_string_equal(plan(&in, &s, buf), "cgroup-remove");
        o.cgroup_exists = false;
        assert_string_equal(plan(&in, &s, buf), "namespace-delete");
        o.namespace_exists = false;
        assert_string_equal(plan(&in, &s, buf), "files-remove");
}

static void test_space(void **state)
{
        char buf[256];
        ObservedLevel o = {0};
        LevelPlanInput in = input(KIND_SPACE, &o);
        in.parent_ready = false;
        assert_string_equal(plan(&in, NULL, buf), "");
        in.parent_ready = true;
        assert_string_equal(plan(&in, NULL, buf), "subnet-allocate");
        o.subnet_recorded = true;
        assert_string_equal(plan(&in, NULL, buf), "network-ensure");
        o.network_current = o.network_exists = true;
        assert_string_equal(plan(&in, NULL, buf), "cgroup-ensure");

        in.desired = false;
        o.cgroup_exists = true;
        assert_string_equal(plan(&in, NULL, buf), "cgroup-remove");
        o.cgroup_exists = false;
        assert_string_equal(plan(&in, NULL, buf), "network-remove");
        o.network_exists = false;
        assert_string_equal(plan(&in, NULL, buf), "files-remove");
}

static void test_stack(void **state)
{
        char buf[256];
        State s;
        ObservedLevel o = {.cgroup_exists = true, .cgroup_limits_match = true};
        LevelPlanInput in = input(KIND_STACK, &o);
        assert_string_equal(plan(&in, &s, buf), "");
        assert_int_equal(s, STATE_READY);
        in.desired = false;
        assert_string_equal(plan(&in, &s, buf), "cgroup-remove");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_realm),
                cmocka_unit_test(test_space),
                cmocka_unit_test(test_stack),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
