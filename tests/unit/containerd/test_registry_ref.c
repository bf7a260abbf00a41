/* Image references of a registry pull: parsing and normalization, the registry host, the object to
 * resolve, loopback hosts, which credentials belong to which registry. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#include "drivers/containerd/pull.h"
#include "drivers/containerd/registry-ref.h"

#define DIG "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

typedef struct RefCase {
        const char *in;
        const char *name, *domain, *host, *repository, *tag, *digest; /* name NULL: -EINVAL */
} RefCase;

static const RefCase cases[] = {
        {"busybox", "docker.io/library/busybox:latest", "docker.io", "registry-1.docker.io",
         "library/busybox", "latest", NULL},
        {"busybox:1.36", "docker.io/library/busybox:1.36", "docker.io", "registry-1.docker.io",
         "library/busybox", "1.36", NULL},
        {"kukeon/busybox:test", "docker.io/kukeon/busybox:test", "docker.io", "registry-1.docker.io",
         "kukeon/busybox", "test", NULL},
        {"docker.io/busybox", "docker.io/library/busybox:latest", "docker.io", "registry-1.docker.io",
         "library/busybox", "latest", NULL},
        {"index.docker.io/library/busybox:x", "docker.io/library/busybox:x", "docker.io",
         "registry-1.docker.io", "library/busybox", "x", NULL},
        {"127.0.0.1:5055/kukeon/busybox:test", "127.0.0.1:5055/kukeon/busybox:test", "127.0.0.1:5055",
         "127.0.0.1:5055", "kukeon/busybox", "test", NULL},
        {"localhost/x", "localhost/x:latest", "localhost", "localhost", "x", "latest", NULL},
        {"localhost:5000/a/b/c", "localhost:5000/a/b/c:latest", "localhost:5000", "localhost:5000", "a/b/c",
         "latest", NULL},
        {"ghcr.io/o/r@" DIG, "ghcr.io/o/r@" DIG, "ghcr.io", "ghcr.io", "o/r", NULL, DIG},
        {"busybox@" DIG, "docker.io/library/busybox@" DIG, "docker.io", "registry-1.docker.io",
         "library/busybox", NULL, DIG},
        {"r.io:443/x:v1@" DIG, "r.io:443/x:v1@" DIG, "r.io:443", "r.io:443", "x", "v1", DIG},
        {"my-registry.local:5000/team/app:1.0", "my-registry.local:5000/team/app:1.0",
         "my-registry.local:5000", "my-registry.local:5000", "team/app", "1.0", NULL},
        /* invalid */
        {.in = ""},
        {.in = "Busybox"},
        {.in = "busybox:"},
        {.in = "busybox:bad/tag"},
        {.in = "busybox@sha256:abc"},
        {.in = "busybox@md5:0123"},
        {.in = "a//b"},
        {.in = "/busybox"},
        {.in = "busybox/"},
        {.in = "r.io:port/x"},
        {.in = ":5000/x"},
        {.in = "x:-tag"},
};

static void test_ref_parse(void **state)
{
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                const RefCase *c = &cases[i];
                RegistryRef ref;
                int r = registry_ref_parse(c->in, &ref);
                if (!c->name) {
                        if (r != -EINVAL)
                                fail_msg("\"%s\": got %d (%s), expected -EINVAL", c->in, r,
                                         r >= 0 ? ref.name : "");
                        continue;
                }
                if (r < 0)
                        fail_msg("\"%s\": %d", c->in, r);
                assert_string_equal(ref.name, c->name);
                assert_string_equal(ref.domain, c->domain);
                assert_string_equal(ref.host, c->host);
                assert_string_equal(ref.repository, c->repository);
                if (c->tag)
                        assert_string_equal(ref.tag, c->tag);
                else
                        assert_null(ref.tag);
                if (c->digest)
                        assert_string_equal(ref.digest, c->digest);
                else
                        assert_null(ref.digest);
                /* A digest wins over the tag. */
                assert_string_equal(registry_ref_object(&ref), c->digest ? c->digest : c->tag);
                registry_ref_done(&ref);
        }
        assert_int_equal(registry_ref_parse(NULL, &(RegistryRef){0}), -EINVAL);
        RegistryRef zero = {0};
        registry_ref_done(&zero);
}

static void test_source_host(void **state)
{
        RegistryRef ref;
        assert_int_equal(registry_ref_parse("127.0.0.1:5055/kukeon/busybox:test", &ref), 0);
        char *host = registry_ref_source_host(&ref);
        assert_string_equal(host, "127.0.0.1");
        free(host);
        registry_ref_done(&ref);
        assert_int_equal(registry_ref_parse("busybox", &ref), 0);
        host = registry_ref_source_host(&ref);
        assert_string_equal(host, "docker.io");
        free(host);
        registry_ref_done(&ref);
}

static void test_loopback(void **state)
{
        assert_true(registry_host_is_loopback("localhost"));
        assert_true(registry_host_is_loopback("LOCALHOST:5000"));
        assert_true(registry_host_is_loopback("127.0.0.1"));
        assert_true(registry_host_is_loopback("127.0.0.1:5055"));
        assert_true(registry_host_is_loopback("127.1.2.3:80"));
        assert_true(registry_host_is_loopback("[::1]:5000"));
        assert_false(registry_host_is_loopback("127.0.0.1.evil.com"));
        assert_false(registry_host_is_loopback("127.evil.com"));
        assert_false(registry_host_is_loopback("localhost.evil.com"));
        assert_false(registry_host_is_loopback("10.0.0.1"));
        assert_false(registry_host_is_loopback("registry-1.docker.io"));
        assert_false(registry_host_is_loopback(""));
        assert_false(registry_host_is_loopback(NULL));
}

static void test_server_matches(void **state)
{
        RegistryRef hub, local;
        assert_int_equal(registry_ref_parse("busybox", &hub), 0);
        assert_int_equal(registry_ref_parse("127.0.0.1:5055/kukeon/busybox:test", &local), 0);
        static const char *const hub_names[] = {"docker.io", "index.docker.io", "registry-1.docker.io",
                                                "https://index.docker.io/v1/", "Docker.IO"};
        for (size_t i = 0; i < sizeof(hub_names) / sizeof(hub_names[0]); i++) {
                assert_true(registry_server_matches(hub_names[i], &hub));
                assert_false(registry_server_matches(hub_names[i], &local));
        }
        assert_true(registry_server_matches("127.0.0.1:5055", &local));
        assert_true(registry_server_matches("http://127.0.0.1:5055/", &local));
        assert_false(registry_server_matches("127.0.0.1", &local)); /* the port is part of the name */
        assert_false(registry_server_matches("127.0.0.1:5056", &local));
        assert_false(registry_server_matches("", &local));
        assert_false(registry_server_matches(NULL, &local));
        assert_false(registry_server_matches("evil.io", &hub));

        const PullCredentials list[] = {
                {"r.io", "a", "1"}, {"docker.io", "b", "2"}, {"127.0.0.1:5055", "c", "3"}};
        assert_ptr_equal(pull_credentials_select(list, 3, "busybox"), &list[1]);
        assert_ptr_equal(pull_credentials_select(list, 3, "r.io/x/y:1"), &list[0]);
        assert_ptr_equal(pull_credentials_select(list, 3, "127.0.0.1:5055/kukeon/busybox:test"), &list[2]);
        assert_null(pull_credentials_select(list, 3, "ghcr.io/x"));
        assert_null(pull_credentials_select(list, 3, "Invalid"));
        assert_null(pull_credentials_select(NULL, 0, "busybox"));
        registry_ref_done(&hub);
        registry_ref_done(&local);
}

/* Regression (fuzz_registry_ref): a reference naming docker.io by another alias or in another case
 * ("registry-1.docker.io/library/busybox", "Docker.IO/x") matched no credential entry, not even one for
 * its own host, as the alias check compared the reference's domain with "docker.io" exactly. */
static void test_server_matches_docker_alias(void **state)
{
        static const char *const refs[] = {"registry-1.docker.io/library/busybox", "Docker.IO/x",
                                           "registry.hub.docker.com/a/b:1"};
        for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
                RegistryRef ref;
                assert_int_equal(registry_ref_parse(refs[i], &ref), 0);
                assert_true(registry_server_matches(ref.host, &ref));
                assert_true(registry_server_matches("docker.io", &ref));
                assert_true(registry_server_matches("https://index.docker.io/v1/", &ref));
                assert_false(registry_server_matches("r.io", &ref));
                registry_ref_done(&ref);
        }
        const PullCredentials list[] = {{"r.io", "a", "1"}, {"docker.io", "b", "2"}};
        assert_ptr_equal(pull_credentials_select(list, 2, "registry-1.docker.io/library/busybox"), &list[1]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ref_parse),
                cmocka_unit_test(test_source_host),
                cmocka_unit_test(test_loopback),
                cmocka_unit_test(test_server_matches),
                cmocka_unit_test(test_server_matches_docker_alias),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
