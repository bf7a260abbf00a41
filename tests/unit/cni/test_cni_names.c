/* Network and bridge names: the plain form, the hashed form for long names, collisions, read-back. */
#include "cni-test-util.h"

#define NONE NULL, 0

static void assert_kernel_ifname(const char *name)
{
        assert_true(cni_ifname_is_valid(name));
        assert_true(strlen(name) <= 15);
        /* only what our rule produces: lowercase, digits, '-' and '_' */
        assert_int_equal(strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_"), strlen(name));
}

static void test_network_name(void **state)
{
        char name[CNI_NETWORK_NAME_MAX];
        assert_int_equal(cni_network_name("main", "blog", name, sizeof(name)), 0);
        assert_string_equal(name, "main-blog");
        char small[8];
        assert_int_equal(cni_network_name("main", "blog", small, sizeof(small)), -ENAMETOOLONG);
}

static void test_bridge_plain_when_it_fits(void **state)
{
        char b[CNI_BRIDGE_NAME_MAX];
        assert_int_equal(cni_bridge_name("main", "blog", NONE, b), 0);
        assert_string_equal(b, "kuke-main-blog");
        /* exactly 15 bytes still fits */
        assert_int_equal(cni_bridge_name("abcde", "fghi", NONE, b), 0);
        assert_string_equal(b, "kuke-abcde-fghi");
        assert_kernel_ifname(b);
}

static void test_bridge_hashed_when_long(void **state)
{
        char b[CNI_BRIDGE_NAME_MAX], again[CNI_BRIDGE_NAME_MAX];
        /* 16 bytes: one too many */
        assert_int_equal(cni_bridge_name("abcdef", "ghij", NONE, b), 0);
        assert_int_equal(strlen(b), 15);
        assert_prefix(b, "kuke-abc_");
        assert_kernel_ifname(b);
        /* stable */
        assert_int_equal(cni_bridge_name("abcdef", "ghij", NONE, again), 0);
        assert_string_equal(b, again);

        assert_int_equal(cni_bridge_name("default", "default", NONE, b), 0);
        assert_prefix(b, "kuke-def_");
        assert_kernel_ifname(b);
        assert_int_equal(cni_bridge_name("kukeon-system", "kukeon", NONE, b), 0);
        assert_prefix(b, "kuke-kuk_");
        assert_kernel_ifname(b);

        /* a dash at the cut is dropped, not doubled */
        assert_int_equal(cni_bridge_name("ab", "cdefghijklmnop", NONE, b), 0);
        assert_prefix(b, "kuke-ab_");
        assert_kernel_ifname(b);

        /* the longest names there are */
        char r63[64], s63[64];
        memset(r63, 'r', 63);
        memset(s63, 's', 63);
        r63[63] = s63[63] = '\0';
        assert_int_equal(cni_bridge_name(r63, s63, NONE, b), 0);
        assert_kernel_ifname(b);
}

static void test_bridge_long_names_sharing_a_prefix_differ(void **state)
{
        static const char *const spaces[] = {"production-frontend", "production-backend", "production-db",
                                             "production-cache", "production-queue"};
        char names[ARRAY_SIZE(spaces)][CNI_BRIDGE_NAME_MAX];
        for (size_t i = 0; i < ARRAY_SIZE(spaces); i++) {
                assert_int_equal(cni_bridge_name("main", spaces[i], NONE, names[i]), 0);
                assert_kernel_ifname(names[i]);
                assert_prefix(names[i], "kuke-mai_");
                for (size_t k = 0; k < i; k++)
                        if (streq(names[i], names[k]))
                                fail_msg("%s and %s share bridge %s", spaces[i], spaces[k], names[i]);
        }
        /* the same space name in two realms */
        char a[CNI_BRIDGE_NAME_MAX], b[CNI_BRIDGE_NAME_MAX];
        assert_int_equal(cni_bridge_name("team-one", "services", NONE, a), 0);
        assert_int_equal(cni_bridge_name("team-two", "services", NONE, b), 0);
        assert_string_not_equal(a, b);
}

static void test_bridge_plain_and_hashed_never_meet(void **state)
{
        /* "kuke-" + 10 bytes can look like a hashed name only if names could hold '_': they cannot */
        char plain[CNI_BRIDGE_NAME_MAX], hashed[CNI_BRIDGE_NAME_MAX];
        assert_int_equal(cni_bridge_name("abc", "123456", NONE, plain), 0);
        assert_string_equal(plain, "kuke-abc-123456");
        assert_int_equal(cni_bridge_name("abcdefghijk", "x", NONE, hashed), 0);
        assert_non_null(strchr(hashed, '_'));
        assert_null(strchr(plain, '_'));
}

static void test_bridge_taken_by_another_space(void **state)
{
        /* "a-b"/"c" and "a"/"b-c" both spell kuke-a-b-c: the second one to be named moves away */
        char first[CNI_BRIDGE_NAME_MAX], second[CNI_BRIDGE_NAME_MAX];
        assert_int_equal(cni_bridge_name("a-b", "c", NONE, first), 0);
        assert_string_equal(first, "kuke-a-b-c");
        CniSpaceRecord recs[] = {{"a-b", "c", "10.88.0.0/24", "kuke-a-b-c"}};
        assert_int_equal(cni_bridge_name("a", "b-c", recs, 1, second), 0);
        assert_string_not_equal(second, first);
        assert_kernel_ifname(second);

        /* a hashed name taken by another space (made up here) is salted */
        char h[CNI_BRIDGE_NAME_MAX], salted[CNI_BRIDGE_NAME_MAX];
        assert_int_equal(cni_bridge_name("main", "production-frontend", NONE, h), 0);
        CniSpaceRecord clash[] = {{"other", "space", "10.88.1.0/24", h}};
        assert_int_equal(cni_bridge_name("main", "production-frontend", clash, 1, salted), 0);
        assert_string_not_equal(salted, h);
        assert_prefix(salted, "kuke-mai_");
        assert_kernel_ifname(salted);
}

static void test_bridge_read_back(void **state)
{
        char b[CNI_BRIDGE_NAME_MAX];
        /* recorded in the status: kept even though the rule would say otherwise */
        CniSpaceRecord recs[] = {{"main", "blog", "10.88.0.0/24", "k-da500047"},
                                 {"main", "other", "10.88.1.0/24", "kuke-main-other"}};
        assert_int_equal(cni_bridge_name("main", "blog", recs, 2, b), 0);
        assert_string_equal(b, "k-da500047");
        /* a recorded name that is not a valid interface name is recomputed */
        CniSpaceRecord bad[] = {{"main", "blog", "10.88.0.0/24", "this-is-far-too-long-a-name"}};
        assert_int_equal(cni_bridge_name("main", "blog", bad, 1, b), 0);
        assert_string_equal(b, "kuke-main-blog");
        /* one that another space records as well is not kept */
        CniSpaceRecord dup[] = {{"main", "blog", NULL, "kuke-shared"}, {"main", "x", NULL, "kuke-shared"}};
        assert_int_equal(cni_bridge_name("main", "blog", dup, 2, b), 0);
        assert_string_equal(b, "kuke-main-blog");
}

static void test_bridge_invalid(void **state)
{
        char b[CNI_BRIDGE_NAME_MAX];
        assert_int_equal(cni_bridge_name("", "blog", NONE, b), -EINVAL);
        assert_int_equal(cni_bridge_name("main", NULL, NONE, b), -EINVAL);
}

static void test_ifname_is_valid(void **state)
{
        assert_true(cni_ifname_is_valid("eth0"));
        assert_true(cni_ifname_is_valid("kuke-abcde-fghi"));
        assert_false(cni_ifname_is_valid("kuke-abcde-fghij")); /* 16 bytes */
        assert_false(cni_ifname_is_valid(""));
        assert_false(cni_ifname_is_valid(NULL));
        assert_false(cni_ifname_is_valid("."));
        assert_false(cni_ifname_is_valid(".."));
        assert_false(cni_ifname_is_valid("a/b"));
        assert_false(cni_ifname_is_valid("a:b"));
        assert_false(cni_ifname_is_valid("a b"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_network_name),
                cmocka_unit_test(test_bridge_plain_when_it_fits),
                cmocka_unit_test(test_bridge_hashed_when_long),
                cmocka_unit_test(test_bridge_long_names_sharing_a_prefix_differ),
                cmocka_unit_test(test_bridge_plain_and_hashed_never_meet),
                cmocka_unit_test(test_bridge_taken_by_another_space),
                cmocka_unit_test(test_bridge_read_back),
                cmocka_unit_test(test_bridge_invalid),
                cmocka_unit_test(test_ifname_is_valid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
