/* Space isolation without root: the iptables argument vectors, reading our bridges back from a listing,
 * the command runner (output, exit status, deadline, process group), and the operations against a fake
 * iptables (a shell script keeping rules in a file) for their order, idempotence and teardown. */
#include <sys/stat.h>

#include "tests/unit/cni/cni-test-util.h"

/* Joins a NULL-terminated vector with spaces and frees it. */
static char *joined(char **argv)
{
        Buf b = BUF_INIT;
        for (size_t i = 0; argv[i]; i++)
                assert_int_equal(buf_printf(&b, "%s%s", i ? " " : "", argv[i]), 0);
        cni_strv_free(argv);
        return buf_steal(&b);
}

static char *rule_line(const CniIsolationConfig *c, CniIsolationRule rule, const char *bridge, char action)
{
        char **argv = NULL;
        assert_int_equal(cni_isolation_rule_argv(c, rule, bridge, action, &argv), 0);
        return joined(argv);
}

#define assert_rule(c, rule, bridge, action, want)                                                          \
        do {                                                                                                \
                char *_l = rule_line((c), (rule), (bridge), (action));                                      \
                assert_string_equal(_l, (want));                                                            \
                free(_l);                                                                                   \
        } while (0)

static void test_rule_argv_default(void **state)
{
        assert_rule(NULL, CNI_ISOLATION_RULE_JUMP, NULL, 'I',
                    "iptables -w 15 -t filter -I FORWARD 1 -i kuke-+ -o kuke-+ -m comment --comment "
                    "kukeon:isolation:jump -j KUKEON-ISOLATION");
        assert_rule(NULL, CNI_ISOLATION_RULE_JUMP, NULL, 'C',
                    "iptables -w 15 -t filter -C FORWARD -i kuke-+ -o kuke-+ -m comment --comment "
                    "kukeon:isolation:jump -j KUKEON-ISOLATION");
        assert_rule(NULL, CNI_ISOLATION_RULE_BRIDGE, "kuke-main-blog", 'I',
                    "iptables -w 15 -t filter -I KUKEON-ISOLATION 1 -i kuke-main-blog -o kuke-main-blog -m "
                    "comment --comment kukeon:isolation:bridge:kuke-main-blog -j RETURN");
        assert_rule(NULL, CNI_ISOLATION_RULE_BRIDGE, "kuke-def_2fbbe6", 'D',
                    "iptables -w 15 -t filter -D KUKEON-ISOLATION -i kuke-def_2fbbe6 -o kuke-def_2fbbe6 -m "
                    "comment --comment kukeon:isolation:bridge:kuke-def_2fbbe6 -j RETURN");
        assert_rule(NULL, CNI_ISOLATION_RULE_ESTABLISHED, NULL, 'I',
                    "iptables -w 15 -t filter -I KUKEON-ISOLATION 1 -m conntrack --ctstate "
                    "RELATED,ESTABLISHED -m comment --comment kukeon:isolation:established -j RETURN");
        assert_rule(NULL, CNI_ISOLATION_RULE_DROP, "kuke-main-blog", 'A',
                    "iptables -w 15 -t filter -A KUKEON-ISOLATION -i kuke-main-blog -m comment --comment "
                    "kukeon:isolation:drop:kuke-main-blog -j DROP");

        char **argv = NULL;
        assert_int_equal(cni_isolation_chain_argv(NULL, 'N', &argv), 0);
        _cleanup_free_ char *n = joined(argv);
        assert_string_equal(n, "iptables -w 15 -t filter -N KUKEON-ISOLATION");
        assert_int_equal(cni_isolation_chain_argv(NULL, 'S', &argv), 0);
        _cleanup_free_ char *s = joined(argv);
        assert_string_equal(s, "iptables -w 15 -t filter -S KUKEON-ISOLATION");
}

static void test_rule_argv_config(void **state)
{
        CniIsolationConfig c = {.iptables = "/usr/sbin/iptables-legacy",
                                .chain = "KT-ISO",
                                .bridge_match = "kuke-kt1-+",
                                .timeout_ms = 1500};
        assert_rule(&c, CNI_ISOLATION_RULE_JUMP, NULL, 'D',
                    "/usr/sbin/iptables-legacy -w 1 -t filter -D FORWARD -i kuke-kt1-+ -o kuke-kt1-+ -m "
                    "comment --comment kukeon:isolation:jump -j KT-ISO");
        assert_rule(
                &c, CNI_ISOLATION_RULE_BRIDGE, "kuke-kt1-a", 'C',
                "/usr/sbin/iptables-legacy -w 1 -t filter -C KT-ISO -i kuke-kt1-a -o kuke-kt1-a -m comment "
                "--comment kukeon:isolation:bridge:kuke-kt1-a -j RETURN");
        c.timeout_ms = 120000;
        assert_rule(&c, CNI_ISOLATION_RULE_DROP, "kuke-kt1-a", 'C',
                    "/usr/sbin/iptables-legacy -w 60 -t filter -C KT-ISO -i kuke-kt1-a -m comment --comment "
                    "kukeon:isolation:drop:kuke-kt1-a -j DROP");
}

static void test_rule_argv_refuses(void **state)
{
        char **argv = NULL;
        CniIsolationConfig c = {.bridge_match = "kuke-kt1-+"};
        /* bridges: not ours by the pattern, wildcards, negations, quotes, too long */
        static const char *const bad[] = {"kuke-other",       "eth0", "kuke-kt1-+",  "kuke-kt1-\"x",
                                          "kuke-kt1-abcdefg", "",     "kuke-kt1-a b"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                assert_false(cni_isolation_bridge_is_valid(&c, bad[i]));
                assert_int_equal(cni_isolation_rule_argv(&c, CNI_ISOLATION_RULE_BRIDGE, bad[i], 'I', &argv),
                                 -EINVAL);
        }
        assert_int_equal(cni_isolation_rule_argv(&c, CNI_ISOLATION_RULE_BRIDGE, NULL, 'I', &argv), -EINVAL);
        /* a DROP is a space's own too */
        assert_int_equal(cni_isolation_rule_argv(&c, CNI_ISOLATION_RULE_DROP, NULL, 'A', &argv), -EINVAL);
        assert_true(cni_isolation_bridge_is_valid(&c, "kuke-kt1-a"));
        assert_false(cni_isolation_bridge_is_valid(NULL, "!kuke-a"));
        assert_true(cni_isolation_bridge_is_valid(NULL, "kuke-a"));
        CniIsolationConfig exact = {.bridge_match = "kuke-one"};
        assert_true(cni_isolation_bridge_is_valid(&exact, "kuke-one"));
        assert_false(cni_isolation_bridge_is_valid(&exact, "kuke-one2"));

        /* actions */
        assert_int_equal(cni_isolation_rule_argv(NULL, CNI_ISOLATION_RULE_DROP, "kuke-a", 'X', &argv),
                         -EINVAL);
        assert_int_equal(cni_isolation_rule_argv(NULL, CNI_ISOLATION_RULE_DROP, "kuke-a", '\0', &argv),
                         -EINVAL);
        assert_int_equal(cni_isolation_rule_argv(NULL, _CNI_ISOLATION_RULE_MAX, NULL, 'C', &argv), -EINVAL);
        assert_int_equal(cni_isolation_chain_argv(NULL, 'C', &argv), -EINVAL);
        assert_int_equal(cni_isolation_chain_argv(NULL, '\0', &argv), -EINVAL);
        assert_null(argv);

        /* configurations */
        static const CniIsolationConfig bad_config[] = {
                {.chain = "FORWARD"},
                {.chain = "DROP"},
                {.chain = "has space"},
                {.chain = "-N"},
                {.chain = ""},
                {.chain = "A-CHAIN-NAME-LONGER-THAN-28-BYTES"},
                {.bridge_match = "+"},
                {.bridge_match = "!kuke-+"},
                {.bridge_match = "kuke-with-a-long-+"},
                {.iptables = ""},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad_config); i++) {
                assert_int_equal(cni_isolation_config_check(&bad_config[i]), -EINVAL);
                CniIsolation *iso = NULL;
                assert_int_equal(cni_isolation_new(&bad_config[i], &iso), -EINVAL);
                assert_null(iso);
        }
        assert_int_equal(cni_isolation_config_check(NULL), 0);
}

static void test_parse_bridges(void **state)
{
        const char *listing =
                "-N KUKEON-ISOLATION\n"
                "-A KUKEON-ISOLATION -i kuke-b -o kuke-b -m comment --comment "
                "\"kukeon:isolation:bridge:kuke-b\" -j RETURN\n"
                "-A KUKEON-ISOLATION -i kuke-a -o kuke-a -m comment --comment "
                "kukeon:isolation:bridge:kuke-a -j RETURN\n"
                "-A KUKEON-ISOLATION -i kuke-b -o kuke-b -m comment --comment "
                "\"kukeon:isolation:bridge:kuke-b\" -j RETURN\n"
                "-A OTHER -m comment --comment \"kukeon:isolation:bridge:kuke-c\" -j RETURN\n"
                "-A KUKEON-ISOLATION-2 -m comment --comment \"kukeon:isolation:bridge:kuke-d\"\n"
                "-A KUKEON-ISOLATION -m comment --comment \"xkukeon:isolation:bridge:kuke-e\"\n"
                "-A KUKEON-ISOLATION -m comment --comment \"kukeon:isolation:bridge:kuke-+\"\n"
                "-A KUKEON-ISOLATION -m conntrack --ctstate RELATED,ESTABLISHED -m comment "
                "--comment \"kukeon:isolation:established\" -j RETURN\n"
                "-A KUKEON-ISOLATION -i kuke-b -m comment --comment \"kukeon:isolation:drop:kuke-b\" -j "
                "DROP\n"
                /* a DROP rule whose RETURN rule is gone still names its bridge */
                "-A KUKEON-ISOLATION -i kuke-z -m comment --comment \"kukeon:isolation:drop:kuke-z\" -j "
                "DROP";
        char **v = NULL;
        size_t n = 9;
        assert_int_equal(cni_isolation_parse_bridges(NULL, listing, &v, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(v[0], "kuke-a");
        assert_string_equal(v[1], "kuke-b");
        assert_string_equal(v[2], "kuke-z");
        assert_null(v[3]);
        cni_strv_free(v);

        assert_int_equal(cni_isolation_parse_bridges(NULL, "", &v, &n), 0);
        assert_int_equal(n, 0);
        assert_null(v[0]);
        cni_strv_free(v);
}

/* ---- the runner ---- */

static void test_command_run(void **state)
{
        char *const argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL};
        CniCommandOutcome o;
        assert_int_equal(cni_command_run(argv, 5000, &o), 0);
        assert_int_equal(o.status, 3);
        assert_string_equal(o.out, "out\n");
        assert_string_equal(o.err, "err\n");
        cni_command_outcome_done(&o);

        /* a name is looked up in the fixed path, and the environment is ours */
        char *const env[] = {"sh", "-c", "echo \"$PATH|$LC_ALL|$HOME\"", NULL};
        assert_int_equal(cni_command_run(env, 5000, &o), 0);
        assert_int_equal(o.status, 0);
        assert_string_equal(o.out, "/usr/sbin:/sbin:/usr/bin:/bin|C|\n");
        cni_command_outcome_done(&o);

        char *const killed[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
        assert_int_equal(cni_command_run(killed, 5000, &o), 0);
        assert_int_equal(o.status, 128 + 9);
        cni_command_outcome_done(&o);

        char *const missing[] = {"kuke-no-such-command", NULL};
        assert_int_equal(cni_command_run(missing, 5000, &o), -ENOENT);
        char *const missing_path[] = {"/nonexistent/iptables", NULL};
        assert_int_equal(cni_command_run(missing_path, 5000, &o), -ENOENT);
}

static void test_command_deadline_kills_group(void **state)
{
        char pidfile[] = "/tmp/kuke-iso-pid-XXXXXX";
        int fd = mkstemp(pidfile);
        assert_true(fd >= 0);
        close(fd);
        char script[256];
        /* a helper that keeps stdout open after the command itself is gone */
        snprintf(script, sizeof(script), "sleep 30 & echo $! > %s; exit 0", pidfile);
        char *const argv[] = {"/bin/sh", "-c", script, NULL};
        CniCommandOutcome o;
        uint64_t start = uv_hrtime();
        assert_int_equal(cni_command_run(argv, 300, &o), -ETIMEDOUT);
        uint64_t took_ms = (uv_hrtime() - start) / 1000000;
        assert_true(took_ms >= 250 && took_ms < 3000);
        _cleanup_free_ char *pid_text = file_read(pidfile, NULL);
        unlink(pidfile);
        pid_t pid = (pid_t)atoi(pid_text);
        assert_true(pid > 0);
        for (int i = 0; i < 100 && pid_alive(pid); i++)
                usleep(10000);
        assert_false(pid_alive(pid));

        char *const hang[] = {"/bin/sh", "-c", "sleep 30", NULL};
        assert_int_equal(cni_command_run(hang, 200, &o), -ETIMEDOUT);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rule_argv_default),
                cmocka_unit_test(test_rule_argv_config),
                cmocka_unit_test(test_rule_argv_refuses),
                cmocka_unit_test(test_parse_bridges),
                cmocka_unit_test(test_command_run),
                cmocka_unit_test(test_command_deadline_kills_group),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
