/* Subnet allocation: requested subnets, the lowest free /24 of the pool, what the statuses record,
 * exhaustion, and the CIDR arithmetic under it. */
#include "cni-test-util.h"

/* Allocates and expects success. */
static void assert_alloc(const char *pool, const char *space, const char *requested,
                         const CniSpaceRecord *recs, size_t n, const char *want)
{
        char got[CNI_SUBNET_MAX];
        char *error = NULL;
        int r = cni_subnet_allocate(pool, "main", space, requested, recs, n, got, &error);
        if (r < 0)
                fail_msg("allocation failed: %d %s", r, error);
        assert_null(error);
        assert_string_equal(got, want);
}

/* Allocates and expects failure r with a message containing needle. */
static void assert_alloc_fails(const char *pool, const char *space, const char *requested,
                               const CniSpaceRecord *recs, size_t n, int want_r, const char *needle)
{
        char got[CNI_SUBNET_MAX];
        char *error = NULL;
        assert_int_equal(cni_subnet_allocate(pool, "main", space, requested, recs, n, got, &error), want_r);
        assert_contains(error, needle);
        free(error);
}

static void test_lowest_free(void **state)
{
        assert_alloc(NULL, "blog", NULL, NULL, 0, "10.88.0.0/24");
        CniSpaceRecord recs[] = {
                {"main", "a", "10.88.0.0/24", NULL},
                {"other", "b", "10.88.2.0/24", NULL},
                {"main", "c", NULL, NULL}, /* nothing recorded yet */
        };
        assert_alloc(NULL, "blog", NULL, recs, ARRAY_SIZE(recs), "10.88.1.0/24");
        /* a custom pool */
        assert_alloc("172.30.0.0/22", "blog", NULL, NULL, 0, "172.30.0.0/24");
        /* a pool of exactly one /24 */
        assert_alloc("192.168.5.0/24", "blog", NULL, NULL, 0, "192.168.5.0/24");
}

static void test_released_by_status_going_away(void **state)
{
        CniSpaceRecord recs[] = {
                {"main", "a", "10.88.0.0/24", NULL},
                {"main", "b", "10.88.1.0/24", NULL},
        };
        assert_alloc(NULL, "new", NULL, recs, 2, "10.88.2.0/24");
        /* space a deleted: its /24 is the lowest free again */
        assert_alloc(NULL, "new", NULL, recs + 1, 1, "10.88.0.0/24");
}

static void test_recorded_survives_restart(void **state)
{
        CniSpaceRecord recs[] = {
                {"main", "a", "10.88.0.0/24", NULL},
                {"main", "blog", "10.88.7.0/24", NULL},
        };
        assert_alloc(NULL, "blog", NULL, recs, 2, "10.88.7.0/24");
        /* a recorded subnet that now overlaps another space is given up for a free one */
        CniSpaceRecord clash[] = {
                {"main", "a", "10.88.7.0/24", NULL},
                {"main", "blog", "10.88.7.0/24", NULL},
        };
        assert_alloc(NULL, "blog", NULL, clash, 2, "10.88.0.0/24");
        /* a recorded value that does not parse is ignored */
        CniSpaceRecord junk[] = {{"main", "blog", "banana", NULL}};
        assert_alloc(NULL, "blog", NULL, junk, 1, "10.88.0.0/24");
}

static void test_pool_skips_overlaps_of_any_size(void **state)
{
        /* a requested /20 elsewhere in the pool covers 10.88.0.0 - 10.88.15.255 */
        CniSpaceRecord recs[] = {{"main", "big", "10.88.0.0/20", NULL},
                                 {"main", "small", "10.88.16.0/28", NULL}};
        assert_alloc(NULL, "blog", NULL, recs, 2, "10.88.17.0/24");
        /* a record covering the whole pool */
        CniSpaceRecord all[] = {{"main", "huge", "10.0.0.0/8", NULL}};
        assert_alloc_fails(NULL, "blog", NULL, all, 1, -ENOSPC, "10.88.0.0/16");
}

static void test_exhausted(void **state)
{
        CniSpaceRecord recs[256];
        char subnets[256][32];
        char names[256][16];
        for (int i = 0; i < 256; i++) {
                snprintf(subnets[i], sizeof(subnets[i]), "10.88.%d.0/24", i);
                snprintf(names[i], sizeof(names[i]), "s%d", i);
                recs[i] = (CniSpaceRecord){"main", names[i], subnets[i], NULL};
        }
        assert_alloc_fails(NULL, "blog", NULL, recs, 256, -ENOSPC, "no free /24");
        /* one released: that one */
        recs[200].subnet = NULL;
        assert_alloc(NULL, "blog", NULL, recs, 256, "10.88.200.0/24");
}

static void test_requested(void **state)
{
        CniSpaceRecord recs[] = {{"main", "a", "10.88.0.0/24", NULL}, {"lab", "db", "10.90.0.0/16", NULL}};
        /* inside or outside the pool */
        assert_alloc(NULL, "blog", "10.88.5.0/24", recs, 2, "10.88.5.0/24");
        assert_alloc(NULL, "blog", "192.168.10.0/28", recs, 2, "192.168.10.0/28");
        assert_alloc(NULL, "blog", "172.16.0.0/12", recs, 2, "172.16.0.0/12");
        /* the space's own record does not count as an overlap */
        CniSpaceRecord self[] = {{"main", "blog", "10.88.5.0/24", NULL}};
        assert_alloc(NULL, "blog", "10.88.5.0/25", self, 1, "10.88.5.0/25");
}

static void test_requested_overlap_names_the_space(void **state)
{
        CniSpaceRecord recs[] = {{"main", "a", "10.88.0.0/24", NULL}, {"lab", "db", "10.90.0.0/16", NULL}};
        assert_alloc_fails(NULL, "blog", "10.88.0.0/24", recs, 2, -EADDRINUSE,
                           "subnet 10.88.0.0/24 overlaps 10.88.0.0/24 of space main/a");
        assert_alloc_fails(NULL, "blog", "10.90.3.0/24", recs, 2, -EADDRINUSE, "of space lab/db");
        assert_alloc_fails(NULL, "blog", "10.0.0.0/8", recs, 2, -EADDRINUSE, "of space main/a");
}

static void test_requested_invalid(void **state)
{
        assert_alloc_fails(NULL, "blog", "10.88.0.0", NULL, 0, -EINVAL, "not an IPv4 CIDR");
        assert_alloc_fails(NULL, "blog", "10.88.0.0/33", NULL, 0, -EINVAL, "not an IPv4 CIDR");
        assert_alloc_fails(NULL, "blog", "fd00::/64", NULL, 0, -EINVAL, "not an IPv4 CIDR");
        assert_alloc_fails(NULL, "blog", "10.88.0.300/24", NULL, 0, -EINVAL, "not an IPv4 CIDR");
        assert_alloc_fails(NULL, "blog", "10.88.0.1/24", NULL, 0, -EINVAL, "host bits set");
        assert_alloc_fails(NULL, "blog", "10.88.0.0/29", NULL, 0, -EINVAL,
                           "/29 is out of range (/8 to /28)");
        assert_alloc_fails(NULL, "blog", "0.0.0.0/0", NULL, 0, -EINVAL, "/0 is out of range");
}

static void test_pool_invalid(void **state)
{
        assert_alloc_fails("10.88.0.0/25", "blog", NULL, NULL, 0, -EINVAL, "subnet pool \"10.88.0.0/25\"");
        assert_alloc_fails("10.88.0.1/16", "blog", NULL, NULL, 0, -EINVAL, "subnet pool");
        assert_alloc_fails("nope", "blog", NULL, NULL, 0, -EINVAL, "subnet pool");
        /* no message buffer: only r */
        char got[CNI_SUBNET_MAX];
        assert_int_equal(cni_subnet_allocate("nope", "main", "blog", NULL, NULL, 0, got, NULL), -EINVAL);
}

static void test_cidr(void **state)
{
        Ipv4Cidr c, d;
        assert_int_equal(ipv4_cidr_parse("10.88.1.0/24", &c), 0);
        assert_int_equal(c.addr, 0x0a580100);
        assert_int_equal(c.prefix, 24);
        assert_true(ipv4_cidr_is_network(&c));
        char s[CNI_SUBNET_MAX];
        ipv4_cidr_format(&c, s);
        assert_string_equal(s, "10.88.1.0/24");

        static const char *const bad[] = {
                "",           "/24",           "10.88.1.0/",    "10.88.1.0/024", "10.88.1.0/+4",
                "10.88.1/24", "10.88.1.0/24x", "010.88.1.0/24", "10.88.1.0//24", " 10.88.1.0/24"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                if (ipv4_cidr_parse(bad[i], &c) != -EINVAL)
                        fail_msg("\"%s\" parsed", bad[i]);
        assert_int_equal(ipv4_cidr_parse(NULL, &c), -EINVAL);

        assert_int_equal(ipv4_cidr_parse("10.88.0.0/16", &c), 0);
        assert_int_equal(ipv4_cidr_parse("10.88.255.240/28", &d), 0);
        assert_true(ipv4_cidr_overlap(&c, &d));
        assert_true(ipv4_cidr_overlap(&d, &c));
        assert_int_equal(ipv4_cidr_parse("10.89.0.0/24", &d), 0);
        assert_false(ipv4_cidr_overlap(&c, &d));
        assert_int_equal(ipv4_cidr_parse("0.0.0.0/0", &d), 0);
        assert_true(ipv4_cidr_overlap(&c, &d));
}

static void test_gateway(void **state)
{
        char gw[CNI_IP_MAX];
        assert_int_equal(cni_subnet_gateway("10.88.3.0/24", gw), 0);
        assert_string_equal(gw, "10.88.3.1");
        assert_int_equal(cni_subnet_gateway("192.168.10.16/28", gw), 0);
        assert_string_equal(gw, "192.168.10.17");
        assert_int_equal(cni_subnet_gateway("10.88.3.0/31", gw), -EINVAL);
        assert_int_equal(cni_subnet_gateway("x", gw), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lowest_free),
                cmocka_unit_test(test_released_by_status_going_away),
                cmocka_unit_test(test_recorded_survives_restart),
                cmocka_unit_test(test_pool_skips_overlaps_of_any_size),
                cmocka_unit_test(test_exhausted),
                cmocka_unit_test(test_requested),
                cmocka_unit_test(test_requested_overlap_names_the_space),
                cmocka_unit_test(test_requested_invalid),
                cmocka_unit_test(test_pool_invalid),
                cmocka_unit_test(test_cidr),
                cmocka_unit_test(test_gateway),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
