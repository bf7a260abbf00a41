/* drivers/containerd/archive-json.c: the JSON documents of images (OCI index and docker manifest list,
 * OCI and docker schema2 manifest, image config). Every input goes to all three parsers.
 *
 * Invariants: a parse fails with a message naming the file and leaves a zeroed result, or succeeds with
 * sha256 digests, non-negative sizes and media types; a manifest rebuilt with docker_manifest_build() (as
 * a docker-archive import writes it) parses back to the same descriptors. */
#include "common/macro.h"
#include "drivers/containerd/archive.h"
#include "tests/fuzz/fuzz.h"

static void check_message(int r, const char *message)
{
        FUZZ_CHECK(r == -EINVAL || r == -ENOMEM, "r=%d", r);
        FUZZ_CHECK(r == -ENOMEM || strncmp(message, "fuzz.json", 9) == 0, "message \"%s\"", message);
}

static void check_descriptor(const OciDescriptor *d)
{
        FUZZ_CHECK(oci_digest_is_valid(d->digest), "digest \"%s\"", d->digest);
        FUZZ_CHECK(d->media_type && d->size >= 0, "media type %p size %lld", (void *)d->media_type,
                   (long long)d->size);
}

static bool descriptor_equal(const OciDescriptor *a, const OciDescriptor *b)
{
        return streq(a->media_type, b->media_type) && streq(a->digest, b->digest) && a->size == b->size;
}

static void check_rebuilt(const OciManifest *m)
{
        _cleanup_free_ char *json = NULL;
        if (docker_manifest_build(&m->config, m->layers, m->n_layers, &json) < 0)
                return; /* -ENOMEM */
        OciManifest m2;
        char message[IMAGE_MESSAGE_MAX];
        int r = oci_manifest_parse(json, strlen(json), "rebuilt.json", &m2, message);
        if (r == -ENOMEM)
                return;
        FUZZ_CHECK(r == 0, "the rebuilt manifest does not parse: %s\n%s", message, json);
        FUZZ_CHECK(descriptor_equal(&m->config, &m2.config) && m->n_layers == m2.n_layers,
                   "the rebuilt manifest differs:\n%s", json);
        for (size_t i = 0; i < m->n_layers; i++)
                FUZZ_CHECK(descriptor_equal(&m->layers[i], &m2.layers[i]), "layer %zu differs:\n%s", i,
                           json);
        oci_manifest_done(&m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *s = (const char *)data;
        char message[IMAGE_MESSAGE_MAX];
        int r;

        OciIndex index;
        r = oci_index_parse(s, size, "fuzz.json", &index, message);
        if (r < 0) {
                check_message(r, message);
                FUZZ_CHECK(!index.manifests && index.n_manifests == 0, "a failed index keeps manifests");
        }
        for (size_t i = 0; i < index.n_manifests; i++) {
                check_descriptor(&index.manifests[i]);
                (void)oci_kind_from_media_type(index.manifests[i].media_type);
                (void)oci_platform_is_host(index.manifests[i].os, index.manifests[i].architecture,
                                           index.manifests[i].variant);
        }
        oci_index_done(&index);

        OciManifest m;
        r = oci_manifest_parse(s, size, "fuzz.json", &m, message);
        if (r < 0) {
                check_message(r, message);
                FUZZ_CHECK(!m.layers && !m.config.media_type, "a failed manifest keeps descriptors");
        } else {
                check_descriptor(&m.config);
                for (size_t i = 0; i < m.n_layers; i++)
                        check_descriptor(&m.layers[i]);
                check_rebuilt(&m);
        }
        oci_manifest_done(&m);

        OciImageConfig c;
        r = oci_config_parse(s, size, "fuzz.json", &c, message);
        if (r < 0) {
                check_message(r, message);
                FUZZ_CHECK(!c.os && !c.entrypoint && !c.cmd && !c.env && !c.diff_ids,
                           "a failed config keeps fields");
        }
        for (size_t i = 0; i < c.n_diff_ids; i++)
                FUZZ_CHECK(oci_digest_is_valid(c.diff_ids[i]), "diff_id \"%s\"", c.diff_ids[i]);
        oci_config_done(&c);
        return 0;
}
