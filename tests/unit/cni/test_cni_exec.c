/* Running a conflist's plugins, against fake plugins (shell scripts in a temp CNI_PATH): ADD in order with
 * prevResult chained, DEL in reverse and idempotent, CHECK, VERSION, the environment, and every way a
 * plugin can fail (missing, not executable, hanging, error object, garbage, no address), deadlines and
 * cancellation killing the whole process group. No root needed; every loop closes cleanly. */
#include <time.h>

#include "cni-test-util.h"

#define RESULT_P1                                                                                           \
        "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/run/netns/fake\"}],"   \
        "\"ips\":[{\"interface\":0,\"address\":\"10.9.0.5/24\",\"gateway\":\"10.9.0.1\"}]}"
#define RESULT_P2                                                                                           \
        "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.9.0.6/24\",\"gateway\":\"10.9.0.1\"}]}"

typedef struct Fixture {
        TestDir *dir;
        char bin[128];
        json_t *list; /* plugins p1, p2 */
        CniRuntime rt;
        CniAttachment att;
} Fixture;

/* A plugin that logs its command, stdin and environment under the temp dir, then prints result on ADD
 * (and answers VERSION with versions). */
static void logging_plugin(Fixture *f, const char *name, const char *result, const char *versions)
{
        char body[4096];
        snprintf(body, sizeof(body),
                 "D=%s\n"
                 "cat > $D/%s.$CNI_COMMAND.in\n"
                 "printf '%%s\\n' \"$CNI_COMMAND\" \"${CNI_CONTAINERID-unset}\" \"${CNI_NETNS-unset}\" "
                 "\"${CNI_IFNAME-unset}\" \"${CNI_ARGS-unset}\" \"$CNI_PATH\" \"$PATH\" "
                 "\"${KUKE_LEAK-unset}\" "
                 "> $D/%s.$CNI_COMMAND.env\n"
                 "echo \"$CNI_COMMAND %s\" >> $D/order\n"
                 "case $CNI_COMMAND in\n"
                 "ADD) printf '%%s' '%s' ;;\n"
                 "VERSION) printf '%%s' '{\"cniVersion\":\"1.0.0\",\"supportedVersions\":%s}' ;;\n"
                 "esac\n",
                 f->dir->tmp, name, name, name, result, versions);
        fake_plugin(f->bin, name, body);
}

static int fixture_setup(void **state)
{
        Fixture *f = calloc(1, sizeof(Fixture));
        if (!f || testdir_setup((void **)&f->dir) < 0)
                return -1;
        snprintf(f->bin, sizeof(f->bin), "%s/bin", f->dir->tmp);
        if (mkdir(f->bin, 0755) < 0)
                return -1;
        logging_plugin(f, "p1", RESULT_P1, "[\"0.4.0\",\"1.0.0\"]");
        logging_plugin(f, "p2", RESULT_P2, "[\"1.0.0\"]");
        f->list = json_loads("{\"cniVersion\":\"1.0.0\",\"name\":\"main-blog\",\"plugins\":"
                             "[{\"type\":\"p1\",\"x\":1},{\"type\":\"p2\"}]}",
                             0, NULL);
        f->rt = (CniRuntime){.plugin_path = f->bin, .path_env = "/usr/bin:/bin", .timeout_ms = 5000};
        f->att = (CniAttachment){.container_id = "kukeon_main_blog_wp_app", .netns_path = "/run/netns/fake"};
        *state = f;
        return 0;
}

static int fixture_teardown(void **state)
{
        Fixture *f = *state;
        json_decref(f->list);
        void *d = f->dir;
        int r = testdir_teardown(&d);
        free(f);
        return r;
}

/* A file of the temp dir as a string ("" when missing). */
static char *tmp_read(Fixture *f, const char *name)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", f->dir->tmp, name);
        if (access(path, F_OK) < 0)
                return strdup("");
        return file_read(path, NULL);
}

static void assert_tmp_file(Fixture *f, const char *name, const char *want)
{
        char *have = tmp_read(f, name);
        assert_string_equal(have, want);
        free(have);
}

static json_t *tmp_json(Fixture *f, const char *name)
{
        char *text = tmp_read(f, name);
        json_t *j = json_loads(text, 0, NULL);
        if (!j)
                fail_msg("%s is not JSON: %s", name, text);
        free(text);
        return j;
}

static void assert_json_text(const json_t *have, const char *want_text)
{
        json_t *want = json_loads(want_text, 0, NULL);
        assert_non_null(want);
        assert_true(json_equal(have, want));
        json_decref(want);
}

/* ---- the happy paths ---- */

static void test_add_chains_prev_result(void **state)
{
        Fixture *f = *state;
        OpResult o = op_run(OP_ADD, &f->rt, f->list, &f->att, NULL);
        assert_int_equal(o.r, 0);
        assert_string_equal(o.message, "");
        /* the last plugin's result is the chain's */
        assert_string_equal(o.ip, "10.9.0.6");
        assert_int_equal(o.prefix, 24);
        assert_string_equal(o.gateway, "10.9.0.1");
        assert_json_text(o.json, RESULT_P2);
        op_result_done(&o);

        assert_tmp_file(f, "order", "ADD p1\nADD p2\n");
        json_t *in1 = tmp_json(f, "p1.ADD.in");
        assert_json_text(in1, "{\"type\":\"p1\",\"x\":1,\"cniVersion\":\"1.0.0\",\"name\":\"main-blog\"}");
        json_decref(in1);
        json_t *in2 = tmp_json(f, "p2.ADD.in");
        assert_json_text(json_object_get(in2, "prevResult"), RESULT_P1);
        assert_string_equal(json_string_value(json_object_get(in2, "name")), "main-blog");
        json_decref(in2);
}

static void test_add_env_is_exact(void **state)
{
        Fixture *f = *state;
        f->att.args = "IgnoreUnknown=1";
        setenv("KUKE_LEAK", "1", 1);
        OpResult o = op_run(OP_ADD, &f->rt, f->list, &f->att, NULL);
        unsetenv("KUKE_LEAK");
        assert_int_equal(o.r, 0);
        op_result_done(&o);
        char want[1024];
        snprintf(want, sizeof(want),
                 "ADD\nkukeon_main_blog_wp_app\n/run/netns/fake\neth0\nIgnoreUnknown=1\n%s\n"
                 "/usr/bin:/bin\nunset\n",
                 f->bin);
        assert_tmp_file(f, "p1.ADD.env", want);
}

static void test_del_reverse_without_netns(void **state)
{
        Fixture *f = *state;
        json_t *prev = json_loads(RESULT_P2, 0, NULL);
        OpResult o = op_run(OP_DEL, &f->rt, f->list, &f->att, prev);
        assert_int_equal(o.r, 0);
        assert_null(o.json);
        assert_tmp_file(f, "order", "DEL p2\nDEL p1\n");
        /* every plugin gets the ADD's final result */
        json_t *in = tmp_json(f, "p1.DEL.in");
        assert_true(json_equal(json_object_get(in, "prevResult"), prev));
        json_decref(in);
        /* /run/netns/fake is no pinned namespace: CNI_NETNS is left out */
        char want[1024];
        snprintf(want, sizeof(want),
                 "DEL\nkukeon_main_blog_wp_app\nunset\neth0\nunset\n%s\n/usr/bin:/bin\nunset\n", f->bin);
        assert_tmp_file(f, "p2.DEL.env", want);
        json_decref(prev);

        /* no netns at all, no prevResult */
        f->att.netns_path = NULL;
        o = op_run(OP_DEL, &f->rt, f->list, &f->att, NULL);
        assert_int_equal(o.r, 0);
        in = tmp_json(f, "p1.DEL.in");
        assert_null(json_object_get(in, "prevResult"));
        json_decref(in);
}

static void test_del_goes_on_and_container_unknown_is_done(void **state)
{
        Fixture *f = *state;
        /* p2 (first in DEL order) fails with an I/O error: p1 still runs, the error is reported */
        char body[512];
        snprintf(
                body, sizeof(body),
                "echo \"$CNI_COMMAND p2\" >> %s/order\n"
                "echo '{\"cniVersion\":\"1.0.0\",\"code\":5,\"msg\":\"cannot open\",\"details\":\"eth0\"}'\n"
                "exit 1",
                f->dir->tmp);
        fake_plugin(f->bin, "p2", body);
        OpResult o = op_run(OP_DEL, &f->rt, f->list, &f->att, NULL);
        assert_int_equal(o.r, -EIO);
        assert_string_equal(o.message, "p2: cannot open: eth0 (CNI error 5)");
        assert_tmp_file(f, "order", "DEL p2\nDEL p1\n");

        /* "container unknown" (3): already gone, done */
        fake_plugin(f->bin, "p2",
                    "echo '{\"cniVersion\":\"1.0.0\",\"code\":3,\"msg\":\"no such container\"}'; exit 1");
        o = op_run(OP_DEL, &f->rt, f->list, &f->att, NULL);
        assert_int_equal(o.r, 0);
        assert_string_equal(o.message, "");
}

static void test_check(void **state)
{
        Fixture *f = *state;
        json_t *prev = json_loads(RESULT_P2, 0, NULL);
        OpResult o = op_run(OP_CHECK, &f->rt, f->list, &f->att, prev);
        assert_int_equal(o.r, 0);
        assert_tmp_file(f, "order", "CHECK p1\nCHECK p2\n");
        json_t *in = tmp_json(f, "p2.CHECK.in");
        assert_true(json_equal(json_object_get(in, "prevResult"), prev));
        json_decref(in);

        /* disableCheck: nothing runs */
        json_object_set_new(f->list, "disableCheck", json_true());
        o = op_run(OP_CHECK, &f->rt, f->list, &f->att, prev);
        assert_int_equal(o.r, 0);
        assert_tmp_file(f, "order", "CHECK p1\nCHECK p2\n");
        json_decref(prev);
}

static void test_version(void **state)
{
        Fixture *f = *state;
        OpResult o = op_run(OP_VERSION, &f->rt, f->list, NULL, NULL);
        assert_int_equal(o.r, 0);
        assert_tmp_file(f, "order", "VERSION p1\nVERSION p2\n");
        json_t *in = tmp_json(f, "p1.VERSION.in");
        assert_json_text(in, "{\"cniVersion\":\"1.0.0\"}");
        json_decref(in);
        char want[512];
        snprintf(want, sizeof(want), "VERSION\nunset\nunset\nunset\nunset\n%s\n/usr/bin:/bin\nunset\n",
                 f->bin);
        assert_tmp_file(f, "p1.VERSION.env", want);

        logging_plugin(f, "p2", RESULT_P2, "[\"0.3.1\",\"0.4.0\"]");
        o = op_run(OP_VERSION, &f->rt, f->list, NULL, NULL);
        assert_int_equal(o.r, -EPROTONOSUPPORT);
        assert_string_equal(o.message, "p2: does not support CNI 1.0.0 (supports [\"0.3.1\",\"0.4.0\"])");
}

/* ---- failures ---- */

static void test_missing_plugin_rolls_back(void **state)
{
        Fixture *f = *state;
        char p2[256];
        snprintf(p2, sizeof(p2), "%s/p2", f->bin);
        assert_int_equal(unlink(p2), 0);
        OpResult o = op_run(OP_ADD, &f->rt, f->list, &f->att, NULL);
        assert_int_equal(o.r, -ENOENT);
        char want[512];
        snprintf(want, sizeof(want), "plugin \"p2\" not found in %s", f->bin);
        assert_string_equal(o.message, want);
        assert_null(o.json);
        /* p1 ran, so the whole list was deleted again (p2 is missing for that too) */
        assert_tmp_file(f, "order", "ADD p1\nDEL p1\n");

        /* the first plugin missing: nothing ran, nothing to roll back */
        snprintf(p2, sizeof(p2), "%s/p1", f->bin);
        assert_int_equal(unlink(p2), 0);
        o = op_run(OP_ADD, &f->rt, f->list, &f->att, NULL);
        assert_int_equal(o.r, -ENOENT);
        assert_tmp_file(f, "order", "ADD p1\nDEL p1\n");
}

static void test_not_executable(void **state)
{
        Fixture *f = *state;
        /* an interpreter that does not exist: execve fails, reported as the plugin's error */
        char path[256];
        snprintf(path, sizeof(path), "%s/p1", f->bin);
        FILE *file = fopen(path, "we");
        assert_non_null(file);
        fputs("#!/nonexistent/interpreter\n", file);
        fclose(file);
        OpResult o = op_run(OP_ADD, &f->rt, f->list, &f->att, NULL);
        assert_int_equal(o.r, -ENOENT);
        assert_string_equal(o.message, "p1: cannot execute: No such file or directory");
}

static uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static pid_t tmp_pid(Fixture *f, const char *name)
{
        char *s = tmp_read(f, name);
        pid_t pid = (pid_t)atoi(s);
        free(s);
        assert_true(pid > 0);
        return pid;
}

static void test_hang_killed_with_its_group(void **state)
{
        Fixture *f = *state;
        char body[512];
        /* hangs on ADD with a child of its own; DEL (the rollback) returns at once */
        snprintf(body, sizeof(body),
                 "[ \"$CNI_COMMAND\" = ADD ] || exit 0\n"
                 "sleep 30 & echo $! > %s/child\n"
                 "echo 'waiting for godot' >&2\n"
                 "sleep 30",
                 f->dir->tmp);
        fake_plugin(f->bin, "p2", body);
        f->rt.timeout_ms = 300;
        uint64_t start = now_ms();
        OpResult o = op_run(OP_ADD, &f->rt, f->list, &f->att, NULL);
        uint64_t took = now_ms() - start;
        assert_int_equal(o.r, -ETIMEDOUT);
        assert_string_equal(o.message, "p2: ADD did not finish within 300 ms, killed: waiting for godot");
        assert_true(took < 5000);
        /* the child went with the group: give the kernel a moment to reap it */
        pid_t child = tmp_pid(f, "child");
        for (int i = 0; i < 100 && pid_alive(child); i++)
                usleep(10000);
        assert_false(pid_alive(child));
}

static void test_straggler_holding_stdout(void **state)
{
        Fixture *f = *state;
        char body[512];
        /* exits at once, but a child keeps its stdout open: the deadline ends the wait */
        snprintf(body, sizeof(body), "sleep 30 & echo $! > %s/child\nexit 0", f->dir->tmp);
        fake_plugin(f->bin, "p1", body);
        f->rt.timeout_ms = 200;
        OpResult o = op_run(OP_DEL, &f->rt, f->list, &f->att, NULL);
        assert_int_equal(o.r, -ETIMEDOUT);
        pid_t child = tmp_pid(f, "child");
        for (int i = 0; i < 100 && pid_alive(child); i++)
                usleep(10000);
        assert_false(pid_alive(child));
}

static void test_error_object_and_garbage(void **state)
{
        Fixture *f = *state;
        fake_plugin(f->bin, "p1",
                    "[ \"$CNI_COMMAND\" = ADD ] || exit 0\n"
                    "echo '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"failed to allocate for range 0\","
                    "\"details\":\"no IP addresses available in range set: 10.9.0.1-10.9.0.14\"}'\n"
                    "exit 1");
        OpResult o = op_run(OP_ADD, &f->rt, f->list, &f->att, NULL);
        assert_int_equal(o.r, -EAGAIN);
        assert_string_equal(o.message,
                            "p1: failed to allocate for range 0: no IP addresses available in range "
                            "set: 10.9.0.1-10.9.0.14 (CNI error 11)");

        fake_plugin(f->bin, "p1", "[ \"$CNI_COMMAND\" = ADD ] || exit 0\necho 'hello, world'");
        o = op_run(OP_ADD, &f->rt, f->list, &f->att, NULL);
        assert_int_equal(o.r, -EBADMSG);
        assert_string_equal(o.message, "p1: ADD printed something that is not a JSON object");

        fake_plugin(f->bin, "p1", "echo 'it all went wrong' >&2\nexit 3");
        o = op_run(OP_ADD, &f->rt, f->list, &f->att, NULL);
        assert_int_equal(o.r, -EIO);
        assert_string_equal(o.message, "p1: exited with status 3 without a CNI error: it all went wrong");
}

static void test_result_without_address(void **state)
{
        Fixture *f = *state;
        logging_plugin(f, "p2", "{\"cniVersion\":\"1.0.0\",\"ips\":[]}", "[]");
        OpResult o = op_run(OP_ADD, &f->rt, f->list, &f->att, NULL);
        assert_int_equal(o.r, -EBADMSG);
        assert_string_equal(o.message, "the result of the plugins has no IPv4 address for eth0");
        assert_tmp_file(f, "order", "ADD p1\nADD p2\nDEL p2\nDEL p1\n");
}

/* ---- cancellation, arguments, parallel operations ---- */

typedef struct CancelCtx {
        uv_timer_t timer;
        CniOp *op;
} CancelCtx;

static void on_cancel_timer(uv_timer_t *t)
{
        CancelCtx *c = t->data;
        cni_op_cancel(c->op);
        uv_close((uv_handle_t *)t, NULL);
}

static void test_cancel(void **state)
{
        Fixture *f = *state;
        char body[512];
        snprintf(body, sizeof(body),
                 "echo \"$CNI_COMMAND p1\" >> %s/order\nsleep 30 & echo $! > %s/child\nwait", f->dir->tmp,
                 f->dir->tmp);
        fake_plugin(f->bin, "p1", body);
        uv_loop_t loop;
        assert_int_equal(uv_loop_init(&loop), 0);
        OpResult o = {0};
        CancelCtx c = {0};
        assert_int_equal(cni_exec_add(&loop, &f->rt, f->list, &f->att, on_op_result, &o, &c.op), 0);
        uv_timer_init(&loop, &c.timer);
        c.timer.data = &c;
        uv_timer_start(&c.timer, on_cancel_timer, 100, 0);
        loop_drain_and_close(&loop);
        assert_int_equal(o.calls, 1);
        assert_int_equal(o.r, -ECANCELED);
        /* no rollback after a cancel */
        assert_tmp_file(f, "order", "ADD p1\n");
        pid_t child = tmp_pid(f, "child");
        for (int i = 0; i < 100 && pid_alive(child); i++)
                usleep(10000);
        assert_false(pid_alive(child));
}

static void test_invalid_arguments(void **state)
{
        Fixture *f = *state;
        uv_loop_t loop;
        assert_int_equal(uv_loop_init(&loop), 0);
        OpResult o = {0};
        CniAttachment no_id = {.netns_path = "/run/netns/x"};
        CniAttachment no_netns = {.container_id = "x"};
        assert_int_equal(cni_exec_add(&loop, &f->rt, f->list, NULL, on_op_result, &o, NULL), -EINVAL);
        assert_int_equal(cni_exec_add(&loop, &f->rt, f->list, &no_id, on_op_result, &o, NULL), -EINVAL);
        assert_int_equal(cni_exec_add(&loop, &f->rt, f->list, &no_netns, on_op_result, &o, NULL), -EINVAL);
        assert_int_equal(cni_exec_check(&loop, &f->rt, f->list, &f->att, NULL, on_op_result, &o, NULL),
                         -EINVAL);
        assert_int_equal(cni_exec_del(&loop, &f->rt, NULL, &f->att, NULL, on_op_result, &o, NULL), -EINVAL);
        loop_drain_and_close(&loop);
        assert_int_equal(o.calls, 0);

        /* a conflist of the wrong shape ends through the callback, with the reason */
        json_t *bad = json_loads("{\"name\":\"x\",\"cniVersion\":\"1.0.0\",\"plugins\":[]}", 0, NULL);
        o = op_run(OP_ADD, &f->rt, bad, &f->att, NULL);
        assert_int_equal(o.r, -EINVAL);
        assert_string_equal(o.message, "conflist: plugins: expected a non-empty array");
        json_decref(bad);
        /* so does an attachment the environment cannot carry */
        f->att.ifname = "far-too-long-ifname";
        o = op_run(OP_ADD, &f->rt, f->list, &f->att, NULL);
        assert_int_equal(o.r, -EINVAL);
}

static void test_parallel_operations(void **state)
{
        Fixture *f = *state;
        uv_loop_t loop;
        assert_int_equal(uv_loop_init(&loop), 0);
        OpResult a = {0}, b = {0}, c = {0};
        CniAttachment other = f->att;
        other.container_id = "kukeon_main_blog_wp_db";
        assert_int_equal(cni_exec_add(&loop, &f->rt, f->list, &f->att, on_op_result, &a, NULL), 0);
        assert_int_equal(cni_exec_add(&loop, &f->rt, f->list, &other, on_op_result, &b, NULL), 0);
        assert_int_equal(cni_exec_version(&loop, &f->rt, f->list, on_op_result, &c, NULL), 0);
        loop_drain_and_close(&loop);
        assert_int_equal(a.r, 0);
        assert_int_equal(b.r, 0);
        assert_int_equal(c.r, 0);
        assert_string_equal(a.ip, "10.9.0.6");
        op_result_done(&a);
        op_result_done(&b);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)
        const struct CMUnitTest tests[] = {
                T(test_add_chains_prev_result),
                T(test_add_env_is_exact),
                T(test_del_reverse_without_netns),
                T(test_del_goes_on_and_container_unknown_is_done),
                T(test_check),
                T(test_version),
                T(test_missing_plugin_rolls_back),
                T(test_not_executable),
                T(test_hang_killed_with_its_group),
                T(test_straggler_holding_stdout),
                T(test_error_object_and_garbage),
                T(test_result_without_address),
                T(test_cancel),
                T(test_invalid_arguments),
                T(test_parallel_operations),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
