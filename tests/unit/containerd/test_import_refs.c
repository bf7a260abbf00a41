/* Pure pieces of the image import: chain ids, reference normalization, the image JSON parsers, the
 * docker manifest we generate, archive path normalization. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#include "drivers/containerd/archive.h"
#include "drivers/containerd/ctrd.h"

#define DA "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DB "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DC "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

/* Computed independently: sha256 of the ASCII "<parent> <diff_id>" (python3 hashlib). */
static void test_chain_ids(void **state)
{
        const char *ids[] = {DA, DB, DC};
        char chain[3][SHA256_HEX_MAX];
        assert_int_equal(ctrd_chain_ids(ids, 3, chain), 0);
        assert_string_equal(chain[0], DA);
        assert_string_equal(chain[1],
                            "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c");
        assert_string_equal(chain[2],
                            "sha256:c1377126441fb2f5ec2c21ae2a60255331d639e830f0ee1b40a36e52d4c40588");

        char one[SHA256_HEX_MAX];
        assert_int_equal(ctrd_chain_id_next(NULL, DA, one), 0);
        assert_string_equal(one, DA);
        assert_int_equal(ctrd_chain_id_next(DA, "sha256:ABC", one), -EINVAL);
        assert_int_equal(ctrd_chain_id_next("md5:x", DA, one), -EINVAL);
        const char *bad[] = {DA, "sha512:" DA};
        assert_int_equal(ctrd_chain_ids(bad, 2, chain), -EINVAL);
}

static void assert_ref(const char *in, const char *want)
{
        char *out = NULL;
        int r = ctrd_image_ref_normalize(in, &out);
        if (!want) {
                if (r != -EINVAL)
                        fail_msg("\"%s\" normalized to \"%s\", expected -EINVAL", in, out ? out : "(null)");
                return;
        }
        if (r < 0)
                fail_msg("\"%s\": %d", in, r);
        assert_string_equal(out, want);
        free(out);
}

static void test_ref_normalize(void **state)
{
        assert_ref("busybox", "docker.io/library/busybox:latest");
        assert_ref("busybox:1.36", "docker.io/library/busybox:1.36");
        assert_ref("kukeon/busybox:test", "docker.io/kukeon/busybox:test");
        assert_ref("docker.io/kukeon/busybox:test", "docker.io/kukeon/busybox:test");
        assert_ref("docker.io/busybox", "docker.io/library/busybox:latest");
        assert_ref("index.docker.io/library/busybox", "docker.io/library/busybox:latest");
        assert_ref("localhost/x", "localhost/x:latest");
        assert_ref("localhost:5000/a/b:v1", "localhost:5000/a/b:v1");
        assert_ref("127.0.0.1:5055/kukeon/busybox:test", "127.0.0.1:5055/kukeon/busybox:test");
        assert_ref("Registry.Example.COM/x_y/a-b.c__d:V1.0-rc", "Registry.Example.COM/x_y/a-b.c__d:V1.0-rc");
        assert_ref("a---b", "docker.io/library/a---b:latest");
        assert_ref("busybox@" DA, "docker.io/library/busybox@" DA);
        assert_ref("busybox:1@" DA, "docker.io/library/busybox:1@" DA);
        /* idempotent */
        assert_ref("docker.io/library/busybox:latest", "docker.io/library/busybox:latest");

        assert_ref("", NULL);
        assert_ref("Busybox", NULL);    /* upper case in the path */
        assert_ref("busybox:", NULL);   /* empty tag */
        assert_ref("busybox:-x", NULL); /* tag must start with a word character */
        assert_ref("busybox@sha256:12", NULL);
        assert_ref("a//b", NULL);
        assert_ref("a/b/", NULL);
        assert_ref("a..b", NULL);
        assert_ref("-a", NULL);
        assert_ref("host:port/x", NULL); /* a port is digits */
        assert_ref("a b", NULL);

        /* docker's 255 bytes hold for the normalized name (domain/library/path), found by fuzzing: a name
         * at the limit normalizes again to itself, one over it is refused */
        char path[300], in[600], want[700];
        memset(path, 'a', 255 - strlen("docker.io/library/"));
        path[255 - strlen("docker.io/library/")] = '\0';
        snprintf(want, sizeof(want), "docker.io/library/%s:latest", path);
        assert_ref(path, want);
        assert_ref(want, want);
        snprintf(in, sizeof(in), "%sa", path);
        assert_ref(in, NULL);
        /* the longest reference: a 255-byte name, a 128-byte tag and a digest */
        char tag[129];
        memset(tag, 't', 128);
        tag[128] = '\0';
        snprintf(in, sizeof(in), "docker.io/library/%s:%s@" DA, path, tag);
        assert_ref(in, in);
}

static void test_path_normalize(void **state)
{
        struct {
                const char *in, *out;
                int r;
        } cases[] = {
                {"index.json", "index.json", 0},
                {"./index.json", "index.json", 0},
                {"./blobs//sha256/./x/", "blobs/sha256/x", 0},
                {"./", "", 1},
                {".", "", 1},
                {"/etc/passwd", NULL, -EINVAL},
                {"../x", NULL, -EINVAL},
                {"a/../b", NULL, -EINVAL},
                {"a/..", NULL, -EINVAL},
                {"a/..b", "a/..b", 0},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char buf[64];
                snprintf(buf, sizeof(buf), "%s", cases[i].in);
                int r = image_archive_path_normalize(buf);
                assert_int_equal(r, cases[i].r);
                if (cases[i].out)
                        assert_string_equal(buf, cases[i].out);
        }
}

static void test_manifest_parse(void **state)
{
        static const char json[] =
                "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" DA
                "\","
                "\"size\":395},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
                "\"digest\":\"" DB "\",\"size\":1031505}]}";
        char message[IMAGE_MESSAGE_MAX];
        OciManifest m;
        assert_int_equal(oci_manifest_parse(json, strlen(json), "m.json", &m, message), 0);
        assert_string_equal(m.config.digest, DA);
        assert_int_equal(m.config.size, 395);
        assert_int_equal(m.n_layers, 1);
        assert_string_equal(m.layers[0].media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
        assert_int_equal(m.layers[0].size, 1031505);
        oci_manifest_done(&m);

        static const char bad[] =
                "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:xyz\",\"size\":1},\"layers\":[]}";
        assert_int_equal(oci_manifest_parse(bad, strlen(bad), "m.json", &m, message), -EINVAL);
        assert_string_equal(message, "m.json: config.digest: \"sha256:xyz\" is not a sha256 digest");
        assert_int_equal(oci_manifest_parse("{\n\"a\":", 6, "m.json", &m, message), -EINVAL);
        assert_non_null(strstr(message, "m.json:2:"));
        static const char neg[] =
                "{\"schemaVersion\":2,\"config\":{\"digest\":\"" DA "\",\"size\":-1},\"layers\":[]}";
        assert_int_equal(oci_manifest_parse(neg, strlen(neg), "m.json", &m, message), -EINVAL);
        assert_string_equal(message, "m.json: config.size: expected a non-negative integer");
}

static void test_index_and_config_parse(void **state)
{
        static const char index[] =
                "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/"
                "vnd.oci.image.manifest.v1+json\","
                "\"digest\":\"" DA "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\","
                "\"variant\":\"v8\"},\"annotations\":{\"io.containerd.image.name\":\"x\","
                "\"org.opencontainers.image.ref.name\":\"1\"}},{\"digest\":\"" DB "\",\"size\":2}]}";
        char message[IMAGE_MESSAGE_MAX];
        OciIndex idx;
        assert_int_equal(oci_index_parse(index, strlen(index), "index.json", &idx, message), 0);
        assert_int_equal(idx.n_manifests, 2);
        assert_string_equal(idx.manifests[0].architecture, "arm64");
        assert_string_equal(idx.manifests[0].variant, "v8");
        assert_string_equal(idx.manifests[0].image_name, "x");
        assert_string_equal(idx.manifests[0].ref_name, "1");
        assert_null(idx.manifests[1].os);
        assert_string_equal(idx.manifests[1].media_type, "");
        oci_index_done(&idx);

        static const char config[] =
                "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/init\"],"
                "\"Cmd\":null,\"Env\":[\"A=1\",\"B=2\"],\"WorkingDir\":\"/w\",\"User\":\"1:2\","
                "\"StopSignal\":\"SIGQUIT\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DA "\",\"" DB
                "\"]}}";
        OciImageConfig c;
        assert_int_equal(oci_config_parse(config, strlen(config), "c.json", &c, message), 0);
        assert_true(oci_platform_is_host(c.os, c.architecture, c.variant));
        assert_int_equal(c.n_entrypoint, 1);
        assert_string_equal(c.entrypoint[0], "/init");
        assert_int_equal(c.n_cmd, 0);
        assert_int_equal(c.n_env, 2);
        assert_string_equal(c.working_dir, "/w");
        assert_string_equal(c.user, "1:2");
        assert_string_equal(c.stop_signal, "SIGQUIT");
        assert_int_equal(c.n_diff_ids, 2);
        assert_string_equal(c.diff_ids[1], DB);
        oci_config_done(&c);

        static const char nodiff[] = "{\"config\":{\"Env\":[1]},\"rootfs\":{}}";
        assert_int_equal(oci_config_parse(nodiff, strlen(nodiff), "c.json", &c, message), -EINVAL);
        assert_string_equal(message, "c.json: config.Env[0]: expected a string");
        assert_false(oci_platform_is_host("linux", "arm64", NULL));
        assert_false(oci_platform_is_host(NULL, "amd64", NULL));
}

/* Byte for byte what ctr import writes (its digest checked by the integration test against ctr). */
static void test_docker_manifest(void **state)
{
        OciDescriptor config = {
                .media_type = DOCKER_MEDIA_CONFIG,
                .digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111",
                .size = 3};
        OciDescriptor layer = {
                .media_type = DOCKER_MEDIA_LAYER,
                .digest = "sha256:2222222222222222222222222222222222222222222222222222222222222222",
                .size = 10};
        char *json;
        assert_int_equal(docker_manifest_build(&config, &layer, 1, &json), 0);
        char digest[SHA256_HEX_MAX];
        assert_int_equal(sha256_digest_string(json, strlen(json), digest), 0);
        assert_string_equal(digest,
                            "sha256:6873c3d3dba5bec343d3dbf90cee68b4548bb0d6749f70cf26b55fd335b90e5f");
        free(json);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_chain_ids),
                cmocka_unit_test(test_ref_normalize),
                cmocka_unit_test(test_path_normalize),
                cmocka_unit_test(test_manifest_parse),
                cmocka_unit_test(test_index_and_config_parse),
                cmocka_unit_test(test_docker_manifest),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
