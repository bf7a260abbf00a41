/* kukeond's configuration: defaults, the file, the environment and flags, in that order of strength;
 * durations; positioned errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/config.h"

static char *write_temp(const char *content)
{
        char *path = strdup("/tmp/kukeond-config-test.XXXXXX");
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
        close(fd);
        return path;
}

static int load(int argc, char **argv, char **envp, DaemonConfig *c, char **error)
{
        ConfigSources src = {0};
        int r = config_parse_args(argc, argv, &src, error);
        if (r >= 0)
                r = config_read_env(&src, envp);
        if (r >= 0)
                r = config_load(&src, c, error);
        config_sources_done(&src);
        return r;
}

static void test_defaults(void **state)
{
        char *argv[] = {"kukeond", NULL};
        char *envp[] = {NULL};
        DaemonConfig c;
        char *error = NULL;
        assert_int_equal(load(1, argv, envp, &c, &error), 0);
        assert_string_equal(c.run_path, "/opt/kukeon");
        assert_string_equal(c.containerd_socket, "/run/containerd/containerd.sock");
        assert_string_equal(c.state_dir, "/run/kukeon");
        assert_string_equal(c.cgroup_root, "kukeon");
        assert_string_equal(c.cni_conf_dir, "/etc/cni/net.d");
        assert_string_equal(c.cni_bin_dir, "/opt/cni/bin:/usr/lib/cni");
        assert_string_equal(c.netns_dir, "/run/netns");
        assert_string_equal(c.subnet_pool, "10.88.0.0/16");
        assert_int_equal(c.resync_interval_ms, 5 * 60 * 1000);
        assert_int_equal(c.cni_timeout_ms, 60 * 1000);
        assert_int_equal(c.log_level, LOG_INFO);
        assert_string_equal(c.runc_root, "");
        assert_null(c.config_file);
        config_done(&c);
}

static void test_precedence(void **state)
{
        char *file = write_temp("apiVersion: v1beta1\n"
                                "kind: DaemonConfig\n"
                                "runPath: /file/run\n"
                                "stateDir: /file/state\n"
                                "cgroup-root: fromfile\n"
                                "resyncInterval: 1h\n"
                                "cniTimeout: 5s\n"
                                "logLevel: debug\n");
        char config_flag[256];
        snprintf(config_flag, sizeof(config_flag), "--config=%s", file);
        char *argv[] = {"kukeond", config_flag, "--run-path", "/flag/run", "--resync-interval=0", NULL};
        char *envp[] = {"KUKEOND_RUN_PATH=/env/run",
                        "KUKEOND_STATE_DIR=/env/state",
                        "KUKEON_STATE_DIR=/kuke/state",
                        "KUKEOND_NETNS_DIR=/env/netns",
                        "OTHER=1",
                        NULL};
        DaemonConfig c;
        char *error = NULL;
        assert_int_equal(load(5, argv, envp, &c, &error), 0);
        assert_string_equal(c.run_path, "/flag/run");       /* flag > env > file */
        assert_string_equal(c.state_dir, "/env/state");     /* env > file; KUKEOND_ > KUKEON_ */
        assert_string_equal(c.cgroup_root, "fromfile");     /* file > default (flag spelling) */
        assert_string_equal(c.netns_dir, "/env/netns");     /* env > default */
        assert_int_equal(c.resync_interval_ms, 0);          /* flag > file */
        assert_int_equal(c.log_level, LOG_DEBUG);           /* file */
        assert_int_equal(c.cni_timeout_ms, 5000);           /* file */
        assert_string_equal(c.subnet_pool, "10.88.0.0/16"); /* default */
        assert_string_equal(c.config_file, file);
        config_done(&c);

        /* the kuke names are taken when kukeond's own are not set */
        char *argv2[] = {"kukeond", NULL};
        char *envp2[] = {"KUKEON_RUN_PATH=/kuke/run", "KUKEOND_CONFIG=/nonexistent/kukeond.yaml", NULL};
        assert_int_equal(load(1, argv2, envp2, &c, &error), -ENOENT);
        assert_non_null(strstr(error, "/nonexistent/kukeond.yaml"));
        free(error);
        error = NULL;
        char *envp3[] = {"KUKEON_RUN_PATH=/kuke/run", NULL};
        assert_int_equal(load(1, argv2, envp3, &c, &error), 0);
        assert_string_equal(c.run_path, "/kuke/run");
        config_done(&c);
        unlink(file);
        free(file);
}

static void expect_error(int argc, char **argv, char **envp, const char *needle)
{
        DaemonConfig c;
        char *error = NULL;
        int r = load(argc, argv, envp, &c, &error);
        assert_true(r < 0);
        if (!error || !strstr(error, needle))
                fail_msg("expected \"%s\" in \"%s\"", needle, error ? error : "(none)");
        free(error);
}

static void test_errors(void **state)
{
        char *file = write_temp("kind: DaemonConfig\nrunPath: /ok\nbogus: 1\n");
        char flag[256];
        snprintf(flag, sizeof(flag), "--config=%s", file);
        char *envp[] = {NULL};
        expect_error(2, (char *[]){"kukeond", flag, NULL}, envp, ":3:1: bogus: unknown field");
        unlink(file);
        free(file);

        file = write_temp("kind: DaemonConfig\nresyncInterval: soon\n");
        snprintf(flag, sizeof(flag), "--config=%s", file);
        expect_error(2, (char *[]){"kukeond", flag, NULL}, envp, ":2:17: resyncInterval: invalid duration");
        unlink(file);
        free(file);

        file = write_temp("kind: Realm\n");
        snprintf(flag, sizeof(flag), "--config=%s", file);
        expect_error(2, (char *[]){"kukeond", flag, NULL}, envp, "kind: expected DaemonConfig");
        unlink(file);
        free(file);

        expect_error(2, (char *[]){"kukeond", "--bogus", NULL}, envp, "--bogus: unknown option");
        expect_error(2, (char *[]){"kukeond", "--run-path", NULL}, envp, "needs a value");
        expect_error(3, (char *[]){"kukeond", "--run-path", "relative", NULL}, envp,
                     "--run-path: expected an absolute path");
        expect_error(2, (char *[]){"kukeond", "--log-level=loud", NULL}, envp, "invalid log level");
        expect_error(1, (char *[]){"kukeond", NULL}, (char *[]){"KUKEOND_CGROUP_ROOT=a/b", NULL},
                     "KUKEOND_CGROUP_ROOT: expected one directory name");
}

static void test_commands(void **state)
{
        ConfigSources src = {0};
        char *error = NULL;
        assert_int_equal(config_parse_args(2, (char *[]){"kukeond", "--help", NULL}, &src, &error),
                         CONFIG_HELP);
        assert_int_equal(config_parse_args(2, (char *[]){"kukeond", "-V", NULL}, &src, &error),
                         CONFIG_VERSION);
        assert_int_equal(config_parse_args(1, (char *[]){"kukeond", NULL}, &src, &error), CONFIG_RUN);
        config_sources_done(&src);
}

static void test_durations(void **state)
{
        static const struct {
                const char *s;
                int64_t ms;
        } ok[] = {{"0", 0},           {"300", 300000}, {"5m", 300000},   {"90s", 90000},
                  {"1h30m", 5400000}, {"250ms", 250},  {"1d", 86400000}, {"2m30s", 150000}};
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                int64_t ms = -1;
                assert_int_equal(config_parse_duration(ok[i].s, &ms), 0);
                assert_int_equal(ms, ok[i].ms);
        }
        static const char *const bad[] = {"", "m", "5x", "-1", "5 m", "1.5h", "s5"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int64_t ms;
                assert_int_equal(config_parse_duration(bad[i], &ms), -EINVAL);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),  cmocka_unit_test(test_precedence),
                cmocka_unit_test(test_errors),    cmocka_unit_test(test_commands),
                cmocka_unit_test(test_durations),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
