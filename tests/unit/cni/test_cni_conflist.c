/* The space conflist: the document (golden files under golden/), reading it back, writing it atomically
 * with its run-path copy, removing it and host-local's state.
 *
 * KUKE_UPDATE_GOLDEN=1 rewrites the golden files from the current output (review the diff before
 * committing it). */
#include <libgen.h>

#include "cni-test-util.h"

static void golden_path(const char *name, char *ret, size_t size)
{
        char here[4096];
        snprintf(here, sizeof(here), "%s", __FILE__);
        snprintf(ret, size, "%s/golden/%s", dirname(here), name);
}

static void assert_golden(const char *text, const char *name)
{
        char path[4096];
        golden_path(name, path, sizeof(path));
        if (getenv("KUKE_UPDATE_GOLDEN")) {
                FILE *f = fopen(path, "we");
                assert_non_null(f);
                fputs(text, f);
                fclose(f);
        }
        char *want = file_read(path, NULL);
        assert_string_equal(text, want);
        free(want);
}

static json_t *build_ok(const CniNetworkConfig *c)
{
        json_t *j = NULL;
        assert_int_equal(cni_conflist_build(c, &j), 0);
        assert_non_null(j);
        return j;
}

static void test_golden_default_ipam(void **state)
{
        CniNetworkConfig c = {
                .realm = "main", .space = "blog", .bridge = "kuke-main-blog", .subnet = "10.88.0.0/24"};
        json_t *j = build_ok(&c);
        char *text = cni_conflist_format(j);
        assert_golden(text, "main-blog.conflist");
        free(text);
        json_decref(j);
}

static void test_golden_data_dir(void **state)
{
        char bridge[CNI_BRIDGE_NAME_MAX];
        assert_int_equal(cni_bridge_name("default", "default", NULL, 0, bridge), 0);
        CniNetworkConfig c = {.realm = "default",
                              .space = "default",
                              .bridge = bridge,
                              .subnet = "10.88.3.0/24",
                              .ipam_data_dir = "/tmp/kukeon-test/ipam"};
        json_t *j = build_ok(&c);
        char *text = cni_conflist_format(j);
        assert_golden(text, "default-default.conflist");
        free(text);
        json_decref(j);
}

static void test_read_back(void **state)
{
        CniNetworkConfig c = {
                .realm = "main", .space = "blog", .bridge = "kuke-main-blog", .subnet = "10.88.9.0/24"};
        json_t *j = build_ok(&c);
        const char *name, *bridge, *subnet;
        assert_int_equal(cni_conflist_network(j, &name, &bridge, &subnet), 0);
        assert_string_equal(name, "main-blog");
        assert_string_equal(bridge, "kuke-main-blog");
        assert_string_equal(subnet, "10.88.9.0/24");
        assert_int_equal(cni_conflist_check_shape(j, NULL), 0);
        json_decref(j);

        json_t *no_bridge = json_loads("{\"name\":\"x\",\"plugins\":[{\"type\":\"portmap\"}]}", 0, NULL);
        assert_int_equal(cni_conflist_network(no_bridge, &name, &bridge, &subnet), -EINVAL);
        json_decref(no_bridge);
}

static void test_build_invalid(void **state)
{
        json_t *j = NULL;
        CniNetworkConfig bad[] = {
                {.realm = "", .space = "blog", .bridge = "kuke-x", .subnet = "10.88.0.0/24"},
                {.realm = "main", .space = "blog", .bridge = "kuke-abcdefghijkl", .subnet = "10.88.0.0/24"},
                {.realm = "main", .space = "blog", .bridge = "kuke-x", .subnet = "10.88.0.1/24"},
                {.realm = "main", .space = "blog", .bridge = "kuke-x", .subnet = NULL},
                {.realm = "main",
                 .space = "blog",
                 .bridge = "kuke-x",
                 .subnet = "10.88.0.0/24",
                 .ipam_data_dir = "rel"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                assert_int_equal(cni_conflist_build(&bad[i], &j), -EINVAL);
        assert_null(j);
}

static void test_write_copy_idempotent(void **state)
{
        TestDir *d = *state;
        char conf_dir[256], space_dir[256], copy[300], path[300];
        snprintf(conf_dir, sizeof(conf_dir), "%s/etc/cni/net.d", d->tmp); /* created on demand */
        snprintf(space_dir, sizeof(space_dir), "%s/run/main/blog", d->tmp);
        snprintf(copy, sizeof(copy), "%s/" CNI_CONFLIST_COPY_NAME, space_dir);
        write_text(d->tmp, "run/main/blog/space.yaml", "kind: Space\n");

        CniNetworkConfig c = {
                .realm = "main", .space = "blog", .bridge = "kuke-main-blog", .subnet = "10.88.0.0/24"};
        json_t *j = build_ok(&c);
        assert_int_equal(cni_conflist_write(conf_dir, j, copy), 1);
        /* the same bytes again: nothing written */
        assert_int_equal(cni_conflist_write(conf_dir, j, copy), 0);

        char *want = cni_conflist_format(j);
        snprintf(path, sizeof(path), "%s/main-blog.conflist", conf_dir);
        char *have = file_read(path, NULL);
        assert_string_equal(have, want);
        free(have);
        have = file_read(copy, NULL);
        assert_string_equal(have, want);
        free(have);
        free(want);
        assert_no_dot_files(conf_dir);
        assert_no_dot_files(space_dir);

        /* read back from disk */
        json_t *back = NULL;
        char *error = NULL;
        assert_int_equal(cni_conflist_read(path, &back, &error), 0);
        assert_true(json_equal(back, j));
        json_decref(back);

        /* only the copy is stale: rewritten, 1 */
        write_text(d->tmp, "run/main/blog/" CNI_CONFLIST_COPY_NAME, "old\n");
        assert_int_equal(cni_conflist_write(conf_dir, j, copy), 1);
        assert_int_equal(cni_conflist_write(conf_dir, j, NULL), 0);

        /* a space directory that is gone is not brought back */
        snprintf(copy, sizeof(copy), "%s/run/main/gone/" CNI_CONFLIST_COPY_NAME, d->tmp);
        assert_int_equal(cni_conflist_write(conf_dir, j, copy), -ENOENT);
        json_decref(j);
}

static void test_read_errors(void **state)
{
        TestDir *d = *state;
        char path[300];
        json_t *j = NULL;
        char *error = NULL;
        snprintf(path, sizeof(path), "%s/missing.conflist", d->tmp);
        assert_int_equal(cni_conflist_read(path, &j, &error), -ENOENT);
        assert_null(error);
        write_text(d->tmp, "bad.conflist", "{\n  \"name\": \"x\",\n  oops\n}\n");
        snprintf(path, sizeof(path), "%s/bad.conflist", d->tmp);
        assert_int_equal(cni_conflist_read(path, &j, &error), -EINVAL);
        assert_prefix(error, path);
        assert_contains(error, ":3:");
        free(error);
}

static void test_remove(void **state)
{
        TestDir *d = *state;
        char conf_dir[256], copy[300], path[300];
        snprintf(conf_dir, sizeof(conf_dir), "%s/net.d", d->tmp);
        snprintf(copy, sizeof(copy), "%s/run/main/blog/" CNI_CONFLIST_COPY_NAME, d->tmp);
        write_text(d->tmp, "run/main/blog/space.yaml", "kind: Space\n");
        CniNetworkConfig c = {
                .realm = "main", .space = "blog", .bridge = "kuke-main-blog", .subnet = "10.88.0.0/24"};
        json_t *j = build_ok(&c);
        assert_int_equal(cni_conflist_write(conf_dir, j, copy), 1);
        json_decref(j);

        assert_int_equal(cni_conflist_remove(conf_dir, "main-blog", copy), 1);
        snprintf(path, sizeof(path), "%s/main-blog.conflist", conf_dir);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(access(copy, F_OK), -1);
        assert_int_equal(cni_conflist_remove(conf_dir, "main-blog", copy), 0);
        /* the whole space directory gone, the conf dir too */
        snprintf(copy, sizeof(copy), "%s/run/main/gone/" CNI_CONFLIST_COPY_NAME, d->tmp);
        snprintf(conf_dir, sizeof(conf_dir), "%s/nothing", d->tmp);
        assert_int_equal(cni_conflist_remove(conf_dir, "main-blog", copy), 0);
        assert_int_equal(cni_conflist_remove(conf_dir, "../x", NULL), -EINVAL);
}

static void test_ipam_remove(void **state)
{
        TestDir *d = *state;
        char data_dir[256], net[300];
        snprintf(data_dir, sizeof(data_dir), "%s/ipam", d->tmp);
        /* what host-local leaves: a reservation, the last reserved address, the lock */
        write_text(d->tmp, "ipam/main-blog/10.88.0.2", "kukeon_main_blog_web_app\neth0");
        write_text(d->tmp, "ipam/main-blog/last_reserved_ip.0", "10.88.0.2");
        write_text(d->tmp, "ipam/main-blog/lock", "");
        write_text(d->tmp, "ipam/main-other/lock", "");
        assert_int_equal(cni_ipam_remove(data_dir, "main-blog"), 1);
        snprintf(net, sizeof(net), "%s/main-blog", data_dir);
        assert_int_equal(access(net, F_OK), -1);
        /* the other network is untouched */
        snprintf(net, sizeof(net), "%s/main-other/lock", data_dir);
        assert_int_equal(access(net, F_OK), 0);
        assert_int_equal(cni_ipam_remove(data_dir, "main-blog"), 0);
        snprintf(net, sizeof(net), "%s/none", d->tmp);
        assert_int_equal(cni_ipam_remove(net, "main-blog"), 0);
        assert_int_equal(cni_ipam_remove(data_dir, ".."), -EINVAL);
        assert_int_equal(cni_ipam_remove(data_dir, "a/b"), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_golden_default_ipam),
                cmocka_unit_test(test_golden_data_dir),
                cmocka_unit_test(test_read_back),
                cmocka_unit_test(test_build_invalid),
                cmocka_unit_test_setup_teardown(test_write_copy_idempotent, testdir_setup, testdir_teardown),
                cmocka_unit_test_setup_teardown(test_read_errors, testdir_setup, testdir_teardown),
                cmocka_unit_test_setup_teardown(test_remove, testdir_setup, testdir_teardown),
                cmocka_unit_test_setup_teardown(test_ipam_remove, testdir_setup, testdir_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
