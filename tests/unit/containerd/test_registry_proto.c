/* The pure parts of the registry protocol: what a manifest response is, the platform pick from an index,
 * the GC labels of pulled blobs, error bodies and statuses. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#include "drivers/containerd/registry-proto.h"

#define DA "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DB "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DC "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static void assert_media_type(const char *content_type, const char *body, int want_r, const char *want)
{
        char *mt = NULL;
        char msg[REGISTRY_MESSAGE_MAX];
        int r = registry_manifest_media_type(content_type, body, body ? strlen(body) : 0, &mt, msg);
        if (r != want_r)
                fail_msg("\"%s\" / %s: got %d (%s), expected %d", content_type ? content_type : "(null)",
                         body ? body : "(null)", r, r < 0 ? msg : mt, want_r);
        if (want)
                assert_string_equal(mt, want);
        else
                assert_null(mt);
        free(mt);
}

static void test_media_type(void **state)
{
        const char *oci_manifest = "{\"schemaVersion\":2,\"config\":{}}";
        assert_media_type(OCI_MEDIA_MANIFEST, oci_manifest, 0, OCI_MEDIA_MANIFEST);
        assert_media_type("Application/VND.oci.image.index.v1+json; charset=utf-8", "", 0, OCI_MEDIA_INDEX);
        assert_media_type(DOCKER_MEDIA_MANIFEST, NULL, 0, DOCKER_MEDIA_MANIFEST);
        assert_media_type(DOCKER_MEDIA_LIST, NULL, 0, DOCKER_MEDIA_LIST);
        /* Generic content types: the document says. */
        assert_media_type("application/json", "{\"mediaType\":\"" DOCKER_MEDIA_MANIFEST "\"}", 0,
                          DOCKER_MEDIA_MANIFEST);
        assert_media_type(NULL, "{\"schemaVersion\":2,\"manifests\":[]}", 0, OCI_MEDIA_INDEX);
        assert_media_type("text/plain", oci_manifest, 0, OCI_MEDIA_MANIFEST);
        /* schema 1 */
        assert_media_type(DOCKER_MEDIA_SCHEMA1_SIGNED, "{}", -ENOTSUP, NULL);
        assert_media_type("application/json", "{\"schemaVersion\":1,\"fsLayers\":[]}", -ENOTSUP, NULL);
        /* garbage, wrong types */
        assert_media_type("text/html", "<html></html>", -EBADMSG, NULL);
        assert_media_type("application/octet-stream", "\x01\x02garbage", -EBADMSG, NULL);
        assert_media_type(NULL, "[1,2]", -EBADMSG, NULL);
        assert_media_type("application/json", "{\"mediaType\":\"application/x-foo\"}", -EBADMSG, NULL);
        assert_media_type("application/json", "{\"schemaVersion\":2}", -EBADMSG, NULL);
}

static OciDescriptor desc(const char *digest, const char *media_type, const char *os, const char *arch,
                          const char *variant)
{
        OciDescriptor d = {.media_type = (char *)media_type,
                           .size = 100,
                           .os = (char *)os,
                           .architecture = (char *)arch,
                           .variant = (char *)variant};
        snprintf(d.digest, sizeof(d.digest), "%s", digest);
        return d;
}

static void test_index_select(void **state)
{
        char msg[REGISTRY_MESSAGE_MAX];
        size_t i = 99;
        /* arm64 first, then amd64: amd64 */
        OciDescriptor two[] = {desc(DA, OCI_MEDIA_MANIFEST, "linux", "arm64", "v8"),
                               desc(DB, OCI_MEDIA_MANIFEST, "linux", "amd64", NULL)};
        OciIndex index = {two, 2};
        assert_int_equal(registry_index_select(&index, &i, msg), 0);
        assert_int_equal(i, 1);

        /* A variant other than v1 is not ours; v1 is; an attestation (unknown/unknown) is skipped; a nested
         * index is skipped; windows/amd64 is not linux. */
        OciDescriptor many[] = {desc(DA, OCI_MEDIA_INDEX, "linux", "amd64", NULL),
                                desc(DA, OCI_MEDIA_MANIFEST, "windows", "amd64", NULL),
                                desc(DA, OCI_MEDIA_MANIFEST, "unknown", "unknown", NULL),
                                desc(DA, DOCKER_MEDIA_MANIFEST, "linux", "amd64", "v3"),
                                desc(DC, DOCKER_MEDIA_MANIFEST, "linux", "amd64", "v1")};
        index = (OciIndex){many, 5};
        assert_int_equal(registry_index_select(&index, &i, msg), 0);
        assert_int_equal(i, 4);

        /* No platform at all: the first manifest entry without one (its config decides). */
        OciDescriptor bare[] = {desc(DA, OCI_MEDIA_MANIFEST, "linux", "arm64", NULL),
                                desc(DB, OCI_MEDIA_MANIFEST, NULL, NULL, NULL),
                                desc(DC, OCI_MEDIA_MANIFEST, NULL, NULL, NULL)};
        index = (OciIndex){bare, 3};
        assert_int_equal(registry_index_select(&index, &i, msg), 0);
        assert_int_equal(i, 1);

        /* Nothing for us: -ENOEXEC with the platforms there are. */
        OciDescriptor foreign[] = {desc(DA, OCI_MEDIA_MANIFEST, "linux", "arm64", "v8"),
                                   desc(DB, OCI_MEDIA_MANIFEST, "linux", "arm", "v7")};
        index = (OciIndex){foreign, 2};
        assert_int_equal(registry_index_select(&index, &i, msg), -ENOEXEC);
        assert_string_equal(
                msg, "no manifest for linux/amd64 in the index (it has linux/arm64/v8, linux/arm/v7)");
        index = (OciIndex){NULL, 0};
        assert_int_equal(registry_index_select(&index, &i, msg), -ENOEXEC);
        assert_string_equal(msg, "no manifest for linux/amd64 in the index (it has no entries)");
}

static const char *label(const RegistryLabels *l, const char *key)
{
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->items[i].key, key) == 0)
                        return l->items[i].value;
        return NULL;
}

static void test_labels(void **state)
{
        RegistryLabels l;
        OciDescriptor entries[] = {desc(DA, OCI_MEDIA_MANIFEST, "linux", "arm64", NULL),
                                   desc(DB, OCI_MEDIA_MANIFEST, "linux", "amd64", NULL)};
        OciIndex index = {entries, 2};
        assert_int_equal(registry_labels_blob("127.0.0.1", "kukeon/busybox", &index, NULL, &l), 0);
        assert_int_equal(l.n, 3);
        /* every entry, also the one not pulled (containerd-api.md §3 b3) */
        assert_string_equal(label(&l, "containerd.io/gc.ref.content.m.0"), DA);
        assert_string_equal(label(&l, "containerd.io/gc.ref.content.m.1"), DB);
        assert_string_equal(label(&l, "containerd.io/distribution.source.127.0.0.1"), "kukeon/busybox");
        registry_labels_done(&l);

        OciDescriptor layers[] = {desc(DB, "", NULL, NULL, NULL), desc(DC, "", NULL, NULL, NULL)};
        OciManifest m = {
                .config = desc(DA, OCI_MEDIA_CONFIG, NULL, NULL, NULL), .layers = layers, .n_layers = 2};
        assert_int_equal(registry_labels_blob("docker.io", "library/busybox", NULL, &m, &l), 0);
        assert_int_equal(l.n, 4);
        assert_string_equal(label(&l, "containerd.io/gc.ref.content.config"), DA);
        assert_string_equal(label(&l, "containerd.io/gc.ref.content.l.0"), DB);
        assert_string_equal(label(&l, "containerd.io/gc.ref.content.l.1"), DC);
        assert_string_equal(label(&l, "containerd.io/distribution.source.docker.io"), "library/busybox");
        registry_labels_done(&l);

        assert_int_equal(registry_labels_blob("docker.io", "library/busybox", NULL, NULL, &l), 0);
        assert_int_equal(l.n, 1);
        registry_labels_done(&l);
        registry_labels_done(&l); /* a second time: harmless */
}

static void test_errors(void **state)
{
        char buf[128];
        const char *body = "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\","
                           "\"detail\":{\"Tag\":\"nope\"}}]}";
        assert_string_equal(registry_error_describe(body, strlen(body), buf, sizeof(buf)),
                            "MANIFEST_UNKNOWN: manifest unknown");
        body = "{\"errors\":[{\"code\":\"UNAUTHORIZED\"},{\"code\":\"DENIED\",\"message\":\"x\"}]}";
        assert_string_equal(registry_error_describe(body, strlen(body), buf, sizeof(buf)),
                            "UNAUTHORIZED (and 1 more)");
        body = "\n  <html>\x01 bad gateway</html>\nmore";
        assert_string_equal(registry_error_describe(body, strlen(body), buf, sizeof(buf)),
                            "<html>? bad gateway</html>");
        assert_string_equal(registry_error_describe("", 0, buf, sizeof(buf)), "");
        assert_string_equal(registry_error_describe(NULL, 0, buf, sizeof(buf)), "");
        char small[8];
        assert_string_equal(registry_error_describe("0123456789", 10, small, sizeof(small)), "0123456");

        assert_int_equal(registry_http_status_to_errno(200), 0);
        assert_int_equal(registry_http_status_to_errno(206), 0);
        assert_int_equal(registry_http_status_to_errno(400), -EINVAL);
        assert_int_equal(registry_http_status_to_errno(401), -EACCES);
        assert_int_equal(registry_http_status_to_errno(403), -EACCES);
        assert_int_equal(registry_http_status_to_errno(404), -ENOENT);
        assert_int_equal(registry_http_status_to_errno(405), -EOPNOTSUPP);
        assert_int_equal(registry_http_status_to_errno(429), -EBUSY);
        assert_int_equal(registry_http_status_to_errno(500), -EIO);
        assert_int_equal(registry_http_status_to_errno(503), -EAGAIN);
        assert_int_equal(registry_http_status_to_errno(504), -ETIMEDOUT);
        assert_int_equal(registry_http_status_to_errno(302), -EPROTO);
        assert_int_equal(registry_http_status_to_errno(0), -EPROTO);

        assert_true(registry_layer_is_supported("application/vnd.oci.image.layer.v1.tar+gzip"));
        assert_true(registry_layer_is_supported(DOCKER_MEDIA_LAYER_GZIP));
        assert_true(registry_layer_is_supported(OCI_MEDIA_LAYER_ZSTD));
        assert_false(
                registry_layer_is_supported("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"));
        assert_false(registry_layer_is_supported(""));
        assert_false(registry_layer_is_supported(NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_media_type),
                cmocka_unit_test(test_index_select),
                cmocka_unit_test(test_labels),
                cmocka_unit_test(test_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
