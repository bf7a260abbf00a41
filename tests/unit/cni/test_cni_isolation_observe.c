/* Observation with libnl without root: the error mapping, the pure checks on an observation, and what can
 * be read of the host's own loopback (a link that is no bridge) and of links or namespaces that do not
 * exist. Entering a namespace needs CAP_SYS_ADMIN: that part runs as root only (the integration test
 * covers real cells). */
#include <netlink/errno.h>

#include "tests/unit/cni/cni-test-util.h"

static void test_netlink_errors(void **state)
{
        assert_int_equal(cni_netlink_error_to_errno(0), 0);
        assert_int_equal(cni_netlink_error_to_errno(-NLE_OBJ_NOTFOUND), -ENOENT);
        assert_int_equal(cni_netlink_error_to_errno(NLE_OBJ_NOTFOUND), -ENOENT);
        assert_int_equal(cni_netlink_error_to_errno(-NLE_NODEV), -ENODEV);
        assert_int_equal(cni_netlink_error_to_errno(-NLE_PERM), -EPERM);
        assert_int_equal(cni_netlink_error_to_errno(-NLE_NOMEM), -ENOMEM);
        assert_int_equal(cni_netlink_error_to_errno(-NLE_EXIST), -EEXIST);
        assert_int_equal(cni_netlink_error_to_errno(-NLE_BUSY), -EBUSY);
        assert_int_equal(cni_netlink_error_to_errno(-NLE_PARSE_ERR), -EIO);
        assert_int_equal(cni_netlink_error_to_errno(-9999), -EIO);
}

static void test_attached_checks(void **state)
{
        CniCellObserved o = {.has_netns = true,
                             .link = {.has_link = true, .is_up = true, .kind = "veth", .n_addrs = 2}};
        snprintf(o.link.addrs[0], CNI_SUBNET_MAX, "10.88.0.12/24");
        snprintf(o.link.addrs[1], CNI_SUBNET_MAX, "10.88.0.2/24");
        assert_true(cni_link_has_ip(&o.link, "10.88.0.2"));
        assert_true(cni_link_has_ip(&o.link, "10.88.0.2/24"));
        assert_true(cni_link_has_ip(&o.link, "10.88.0.12"));
        assert_false(cni_link_has_ip(&o.link, "10.88.0.1"));
        assert_false(cni_link_has_ip(&o.link, "10.88.0.")); /* no prefix match */
        assert_false(cni_link_has_ip(&o.link, ""));
        assert_false(cni_link_has_ip(&o.link, NULL));
        assert_true(cni_cell_observed_is_attached(&o, "10.88.0.2"));

        /* each kind of drift */
        CniCellObserved down = o;
        down.link.is_up = false;
        assert_false(cni_cell_observed_is_attached(&down, "10.88.0.2"));
        CniCellObserved flushed = o;
        flushed.link.n_addrs = 0;
        assert_false(cni_cell_observed_is_attached(&flushed, "10.88.0.2"));
        CniCellObserved no_link = o;
        no_link.link.has_link = false;
        assert_false(cni_cell_observed_is_attached(&no_link, "10.88.0.2"));
        CniCellObserved no_netns = o;
        no_netns.has_netns = false;
        assert_false(cni_cell_observed_is_attached(&no_netns, "10.88.0.2"));
}

static void test_observe_host_links(void **state)
{
        CniBridgeObserved b;
        assert_int_equal(cni_observe_bridge("lo", &b), 0);
        assert_true(b.link.has_link);
        assert_true(b.link.is_up);
        assert_false(b.is_bridge); /* lo has no kind */
        assert_string_equal(b.link.kind, "");
        assert_true(cni_link_has_ip(&b.link, "127.0.0.1"));

        assert_int_equal(cni_observe_bridge("kuke-ut-none0", &b), 0);
        assert_false(b.link.has_link);
        assert_false(b.is_bridge);
        assert_int_equal(b.link.n_addrs, 0);
        assert_int_equal(cni_observe_bridge("a/b", &b), -EINVAL);
        assert_int_equal(cni_observe_bridge("name-longer-than-15", &b), -EINVAL);

        /* deleting: only a bridge, and nothing is done */
        assert_int_equal(cni_bridge_delete("lo"), -EMEDIUMTYPE);
        assert_int_equal(cni_bridge_delete("kuke-ut-none0"), 0);
        assert_int_equal(cni_bridge_delete(""), -EINVAL);

        char **v = NULL;
        size_t n = 9;
        assert_int_equal(cni_bridge_list("kuke-ut-none-", &v, &n), 0);
        assert_int_equal(n, 0);
        assert_null(v[0]);
        cni_strv_free(v);
}

static void test_observe_missing_netns(void **state)
{
        CniCellObserved o;
        assert_int_equal(cni_observe_cell("/nonexistent/netns/kukeon_x", NULL, &o), 0);
        assert_false(o.has_netns);
        assert_false(o.link.has_link);
        /* a plain file (a crash before the pin's mount) is no namespace */
        char path[] = "/tmp/kuke-obs-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(cni_observe_cell(path, "eth0", &o), 0);
        assert_false(o.has_netns);
        unlink(path);
        assert_int_equal(cni_observe_cell(NULL, NULL, &o), -EINVAL);
        assert_int_equal(cni_observe_cell("/proc/self/ns/net", "bad/name", &o), -EINVAL);
}

static void test_observe_own_netns(void **state)
{
        if (geteuid() != 0)
                skip(); /* setns() needs CAP_SYS_ADMIN, even into our own namespace */
        CniCellObserved o;
        assert_int_equal(cni_observe_cell("/proc/self/ns/net", "lo", &o), 0);
        assert_true(o.has_netns);
        assert_true(o.link.has_link && o.link.is_up);
        assert_true(cni_cell_observed_is_attached(&o, "127.0.0.1"));
        assert_int_equal(cni_observe_cell("/proc/self/ns/net", "kuke-ut-none0", &o), 0);
        assert_true(o.has_netns);
        assert_false(o.link.has_link);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_netlink_errors),     cmocka_unit_test(test_attached_checks),
                cmocka_unit_test(test_observe_host_links), cmocka_unit_test(test_observe_missing_netns),
                cmocka_unit_test(test_observe_own_netns),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
