/* The pure parts of the container and task operations: identity labels, container labels, containerd
 * filter strings, the runc options Any, the shim group annotation, signal names, results under
 * CtrdFlags, mount conversions, task status names. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>

#include "drivers/containerd/ctrd-tasks-internal.h"
#include "drivers/containerd/ctrd.h"

#include "github.com/containerd/containerd/runtime/v2/runc/options/oci.pb-c.h"

static void test_identity_labels(void **state)
{
        CtrdLabel l[CTRD_IDENTITY_LABELS_MAX];
        const CtrdIdentity all = {"main", "blog", "wordpress", "wp", "app", "sha256:ab"};
        assert_int_equal(ctrd_identity_labels(&all, l), 6);
        const char *want[][2] = {{"kukeon.io/realm", "main"},      {"kukeon.io/space", "blog"},
                                 {"kukeon.io/stack", "wordpress"}, {"kukeon.io/cell", "wp"},
                                 {"kukeon.io/container", "app"},   {"kukeon.io/spec-digest", "sha256:ab"}};
        for (size_t i = 0; i < 6; i++) {
                assert_string_equal(l[i].key, want[i][0]);
                assert_string_equal(l[i].value, want[i][1]);
        }
        const CtrdIdentity some = {.realm = "main", .cell = "wp"};
        assert_int_equal(ctrd_identity_labels(&some, l), 2);
        assert_string_equal(l[1].key, CTRD_LABEL_CELL);
        assert_string_equal(ctrd_label_get(l, 2, CTRD_LABEL_CELL), "wp");
        assert_null(ctrd_label_get(l, 2, CTRD_LABEL_SPACE));
        assert_null(ctrd_label_get(NULL, 0, CTRD_LABEL_SPACE));
}

static void test_container_labels(void **state)
{
        const CtrdLabel in[] = {{"kukeon.io/realm", "main"}, {"kukeon.io/cell", "wp"}};
        CtrdLabel *out = NULL;
        size_t n = 0;
        assert_int_equal(ctrd_container_labels(in, 2, "main-blog-wp", "SIGQUIT", &out, &n), 0);
        assert_int_equal(n, 4);
        assert_string_equal(out[1].value, "wp");
        assert_string_equal(ctrd_label_get(out, n, CTRD_LABEL_RUNC_GROUP), "main-blog-wp");
        assert_string_equal(ctrd_label_get(out, n, CTRD_LABEL_STOP_SIGNAL), "SIGQUIT");
        free(out);

        assert_int_equal(ctrd_container_labels(in, 2, NULL, NULL, &out, &n), 0);
        assert_int_equal(n, 2);
        free(out);
        assert_int_equal(ctrd_container_labels(NULL, 0, NULL, NULL, &out, &n), 0);
        assert_int_equal(n, 0);
        free(out);

        /* A map: a key twice would keep one value silently. */
        const CtrdLabel twice[] = {{"a", "1"}, {"a", "2"}};
        assert_int_equal(ctrd_container_labels(twice, 2, NULL, NULL, &out, &n), -EINVAL);
        const CtrdLabel group[] = {{CTRD_LABEL_RUNC_GROUP, "x"}};
        assert_int_equal(ctrd_container_labels(group, 1, "y", NULL, &out, &n), -EINVAL);
        assert_int_equal(ctrd_container_labels(group, 1, NULL, NULL, &out, &n), 0);
        free(out);
        const CtrdLabel empty_key[] = {{"", "1"}};
        assert_int_equal(ctrd_container_labels(empty_key, 1, NULL, NULL, &out, &n), -EINVAL);
        const CtrdLabel null_value[] = {{"a", NULL}};
        assert_int_equal(ctrd_container_labels(null_value, 1, NULL, NULL, &out, &n), -EINVAL);
}

static void test_filters(void **state)
{
        const CtrdLabel one[] = {{CTRD_LABEL_CELL, "wp"}};
        char *f = ctrd_filter_labels(one, 1);
        assert_string_equal(f, "labels.\"kukeon.io/cell\"==\"wp\"");
        free(f);

        const CtrdLabel two[] = {{CTRD_LABEL_REALM, "main"}, {CTRD_LABEL_CELL, "wp"}};
        f = ctrd_filter_labels(two, 2);
        assert_string_equal(f, "labels.\"kukeon.io/realm\"==\"main\",labels.\"kukeon.io/cell\"==\"wp\"");
        free(f);

        /* Go string syntax: quotes and backslashes escaped, control characters as \x; a value starting
         * with '/' (a quote character for containerd's scanner) is safe inside quotes. */
        const CtrdLabel odd[] = {{"k\"1", "/a\\b,c==d\n"}};
        f = ctrd_filter_labels(odd, 1);
        assert_string_equal(f, "labels.\"k\\\"1\"==\"/a\\\\b,c==d\\x0a\"");
        free(f);

        assert_null(ctrd_filter_labels(NULL, 0));

        f = ctrd_filter_task_events("kukeon-main");
        assert_string_equal(f, "namespace==\"kukeon-main\",topic~=\"^/tasks/\"");
        free(f);
}

static void test_runc_options(void **state)
{
        uint8_t *data = NULL;
        size_t len = 0;
        const CtrdRuncOptions o = {.root = "/run/kukeon/runc", .binary_name = "/usr/sbin/runc"};
        assert_int_equal(ctrd_runc_options_pack(&o, &data, &len), 0);
        assert_true(len > 0);
        Containerd__Runc__V1__Options *u = containerd__runc__v1__options__unpack(NULL, len, data);
        assert_non_null(u);
        assert_string_equal(u->root, "/run/kukeon/runc");
        assert_string_equal(u->binary_name, "/usr/sbin/runc");
        assert_false(u->systemd_cgroup);
        assert_false(u->no_pivot_root);
        assert_string_equal(u->shim_cgroup, "");
        containerd__runc__v1__options__free_unpacked(u, NULL);
        free(data);

        /* All defaults: an empty value, as ctr sends. */
        assert_int_equal(ctrd_runc_options_pack(&(CtrdRuncOptions){0}, &data, &len), 0);
        assert_int_equal(len, 0);
        assert_null(data);

        assert_int_equal(ctrd_runc_options_pack(&(CtrdRuncOptions){.systemd_cgroup = true}, &data, &len), 0);
        u = containerd__runc__v1__options__unpack(NULL, len, data);
        assert_non_null(u);
        assert_true(u->systemd_cgroup);
        assert_string_equal(u->root, "");
        containerd__runc__v1__options__free_unpacked(u, NULL);
        free(data);
}

static void test_spec_group(void **state)
{
        char *out = NULL;
        assert_int_equal(
                ctrd_spec_set_group("{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"args\":[\"sh\"]}}",
                                    "main-blog-wp", &out),
                0);
        assert_string_equal(out, "{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"args\":[\"sh\"]},"
                                 "\"annotations\":{\"io.containerd.runc.v2.group\":\"main-blog-wp\"}}");
        free(out);

        /* Other annotations stay; an old group is replaced. */
        assert_int_equal(ctrd_spec_set_group("{\"annotations\":{\"a\":\"b\",\"io.containerd.runc.v2.group\":"
                                             "\"old\"}}",
                                             "new", &out),
                         0);
        assert_string_equal(out, "{\"annotations\":{\"a\":\"b\",\"io.containerd.runc.v2.group\":\"new\"}}");
        free(out);

        assert_int_equal(ctrd_spec_set_group("[1]", "g", &out), -EINVAL);
        assert_int_equal(ctrd_spec_set_group("{", "g", &out), -EINVAL);
        assert_int_equal(ctrd_spec_set_group("{\"annotations\":[]}", "g", &out), -EINVAL);
}

static void test_signals(void **state)
{
        assert_int_equal(ctrd_signal_from_string("SIGTERM"), SIGTERM);
        assert_int_equal(ctrd_signal_from_string("TERM"), SIGTERM);
        assert_int_equal(ctrd_signal_from_string("sigquit"), SIGQUIT);
        assert_int_equal(ctrd_signal_from_string("SIGKILL"), SIGKILL);
        assert_int_equal(ctrd_signal_from_string("SIGWINCH"), SIGWINCH);
        assert_int_equal(ctrd_signal_from_string("9"), 9);
        assert_int_equal(ctrd_signal_from_string("34"), 34);
        assert_int_equal(ctrd_signal_from_string("0"), -EINVAL);
        assert_int_equal(ctrd_signal_from_string("65"), -EINVAL);
        assert_int_equal(ctrd_signal_from_string("9x"), -EINVAL);
        assert_int_equal(ctrd_signal_from_string("SIGFOO"), -EINVAL);
        assert_int_equal(ctrd_signal_from_string("SIG"), -EINVAL);
        assert_int_equal(ctrd_signal_from_string(""), -EINVAL);
        assert_int_equal(ctrd_signal_from_string(NULL), -EINVAL);
}

static void test_flags_result(void **state)
{
        assert_int_equal(ctrd_flags_result(0, 0), 1);
        assert_int_equal(ctrd_flags_result(0, CTRD_EXIST_OK | CTRD_MISSING_OK), 1);
        assert_int_equal(ctrd_flags_result(-EEXIST, 0), -EEXIST);
        assert_int_equal(ctrd_flags_result(-EEXIST, CTRD_EXIST_OK), 0);
        assert_int_equal(ctrd_flags_result(-EEXIST, CTRD_MISSING_OK), -EEXIST);
        assert_int_equal(ctrd_flags_result(-ENOENT, 0), -ENOENT);
        assert_int_equal(ctrd_flags_result(-ENOENT, CTRD_MISSING_OK), 0);
        assert_int_equal(ctrd_flags_result(-ENOENT, CTRD_EXIST_OK), -ENOENT);
        assert_int_equal(ctrd_flags_result(-EIO, CTRD_EXIST_OK | CTRD_MISSING_OK), -EIO);
}

static void test_mounts(void **state)
{
        const char *opts[] = {"index=off", "workdir=/w", "upperdir=/u", "lowerdir=/l"};
        const CtrdMount in[] = {{"overlay", "overlay", NULL, opts, 4}, {"bind", "/src", "/dst", NULL, 0}};
        Containerd__Types__Mount **pb = NULL;
        assert_int_equal(ctrd_pb_mounts_new(in, 2, &pb), 0);
        assert_string_equal(pb[0]->type, "overlay");
        assert_string_equal(pb[0]->target, "");
        assert_int_equal(pb[0]->n_options, 4);
        assert_string_equal(pb[0]->options[3], "lowerdir=/l");
        assert_string_equal(pb[1]->target, "/dst");

        /* Through the wire and back into a view. */
        uint8_t buf[512];
        Containerd__Types__Mount *unpacked[2];
        for (size_t i = 0; i < 2; i++) {
                size_t len = containerd__types__mount__pack(pb[i], buf);
                unpacked[i] = containerd__types__mount__unpack(NULL, len, buf);
                assert_non_null(unpacked[i]);
        }
        ctrd_pb_mounts_free(pb, 2);
        CtrdMount *view = NULL;
        assert_int_equal(ctrd_mounts_view(unpacked, 2, &view), 0);
        assert_string_equal(view[0].source, "overlay");
        assert_int_equal(view[0].n_options, 4);
        assert_string_equal(view[0].options[1], "workdir=/w");
        assert_string_equal(view[1].source, "/src");
        assert_int_equal(view[1].n_options, 0);
        free(view);
        for (size_t i = 0; i < 2; i++)
                containerd__types__mount__free_unpacked(unpacked[i], NULL);

        assert_int_equal(ctrd_pb_mounts_new(NULL, 0, &pb), 0);
        assert_null(pb);
        assert_int_equal(ctrd_mounts_view(NULL, 0, &view), 0);
        assert_null(view);
}

static void test_reply_time(void **state)
{
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
        assert_int_equal(ctrd_timestamp_ns(NULL), 0);
        assert_int_equal(ctrd_timestamp_ns(&ts), 0);
        ts.seconds = INT64_C(-62135596800); /* Go's zero time: "not exited yet" */
        assert_int_equal(ctrd_timestamp_ns(&ts), 0);
        ts.seconds = 1700000000;
        ts.nanos = 5;
        assert_int_equal(ctrd_timestamp_ns(&ts), INT64_C(1700000000000000005));
        ts.seconds = INT64_C(253402300799); /* year 9999 */
        assert_int_equal(ctrd_timestamp_ns(&ts), INT64_MAX);
}

static void test_status_names(void **state)
{
        assert_string_equal(ctrd_task_status_to_string(CTRD_TASK_CREATED), "created");
        assert_string_equal(ctrd_task_status_to_string(CTRD_TASK_STOPPED), "stopped");
        assert_string_equal(ctrd_task_status_to_string(CTRD_TASK_PAUSING), "pausing");
        assert_string_equal(ctrd_task_status_to_string(_CTRD_TASK_STATUS_MAX), "invalid");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_identity_labels), cmocka_unit_test(test_container_labels),
                cmocka_unit_test(test_filters),         cmocka_unit_test(test_runc_options),
                cmocka_unit_test(test_spec_group),      cmocka_unit_test(test_signals),
                cmocka_unit_test(test_flags_result),    cmocka_unit_test(test_mounts),
                cmocka_unit_test(test_reply_time),      cmocka_unit_test(test_status_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
