/* drivers/containerd/registry-ref.c: an image reference of a pull, normalized by docker's rules
 * (ctrd_image_ref_normalize()) and split into registry, repository, tag and digest.
 *
 * Invariants: a reference that parses has a domain, a host, a repository and a tag or a digest, and its
 * name is domain/repository[:tag][@digest]; the name parses again to the same reference (normalization is
 * idempotent: the name is what image records store); a credential entry for the reference's own host
 * matches it. */
#include "common/macro.h"
#include "drivers/containerd/registry-ref.h"
#include "tests/fuzz/fuzz.h"

static bool ref_equal(const RegistryRef *a, const RegistryRef *b)
{
        return streq(a->name, b->name) && streq(a->domain, b->domain) && streq(a->host, b->host) &&
               streq(a->repository, b->repository) && streq_ptr(a->tag, b->tag) &&
               streq_ptr(a->digest, b->digest);
}

static void check_ref(const RegistryRef *ref)
{
        FUZZ_CHECK(ref->name && ref->domain && *ref->domain && ref->host && *ref->host && ref->repository &&
                           *ref->repository,
                   "a parsed reference lacks a part");
        FUZZ_CHECK(ref->tag || ref->digest, "\"%s\": neither tag nor digest", ref->name);
        FUZZ_CHECK(registry_ref_object(ref) == (ref->digest ? ref->digest : ref->tag), "\"%s\": object",
                   ref->name);
        _cleanup_free_ char *joined = NULL;
        if (asprintf(&joined, "%s/%s%s%s%s%s", ref->domain, ref->repository, ref->tag ? ":" : "",
                     strempty(ref->tag), ref->digest ? "@" : "", strempty(ref->digest)) < 0) {
                joined = NULL;
                return;
        }
        FUZZ_CHECK(streq(joined, ref->name), "\"%s\" splits into \"%s\"", ref->name, joined);
        FUZZ_CHECK(registry_server_matches(ref->host, ref), "\"%s\": its host \"%s\" does not match",
                   ref->name, ref->host);
        _cleanup_free_ char *source = registry_ref_source_host(ref);
        if (source)
                FUZZ_CHECK(*source && strncmp(ref->domain, source, strlen(source)) == 0,
                           "\"%s\": source host \"%s\"", ref->name, source);
        (void)registry_host_is_loopback(ref->domain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        RegistryRef ref;
        int r = registry_ref_parse(s, &ref);
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL || r == -ENOMEM, "\"%s\": r=%d", s, r);
                FUZZ_CHECK(!ref.name && !ref.domain, "\"%s\": a failed parse keeps parts", s);
                return 0;
        }
        check_ref(&ref);
        RegistryRef again;
        r = registry_ref_parse(ref.name, &again);
        if (r != -ENOMEM) {
                FUZZ_CHECK(r == 0, "\"%s\" normalizes to \"%s\", which does not parse (%d)", s, ref.name, r);
                FUZZ_CHECK(ref_equal(&ref, &again), "\"%s\" normalizes to \"%s\", which parses to \"%s\"", s,
                           ref.name, again.name);
                registry_ref_done(&again);
        }
        registry_ref_done(&ref);
        return 0;
}
