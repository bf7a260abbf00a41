/* The archive reader (drivers/containerd/archive*.c) on small tars built here with libarchive's writer:
 * a valid OCI layout (plain and with a multi-platform index), a valid docker archive, and the broken
 * ones: "..", absolute paths, symbolic and hard links, truncation, a wrong digest, a missing blob, no
 * linux/amd64 image, an unknown format, a duplicate entry, a docker layer that is not its diff_id. No
 * containerd involved. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>

#include "drivers/containerd/archive.h"

typedef struct T {
        char dir[64];
        char tar[128];
        struct archive *w;
        ImageArchive *result;
        char message[IMAGE_MESSAGE_MAX];
        char layer[SHA256_HEX_MAX], config[SHA256_HEX_MAX], manifest[SHA256_HEX_MAX];
} T;

static int setup(void **state)
{
        T *t = calloc(1, sizeof(*t));
        snprintf(t->dir, sizeof(t->dir), "/tmp/kuke-test-import-XXXXXX");
        assert_non_null(mkdtemp(t->dir));
        snprintf(t->tar, sizeof(t->tar), "%s/image.tar", t->dir);
        *state = t;
        return 0;
}

static int teardown(void **state)
{
        T *t = *state;
        image_archive_free(t->result);
        unlink(t->tar);
        rmdir(t->dir); /* the spool file is unlinked from the start: nothing else is left */
        free(t);
        return 0;
}

/* ---- building tars ---- */

static void tar_begin(T *t)
{
        t->w = archive_write_new();
        archive_write_set_format_pax_restricted(t->w);
        assert_int_equal(archive_write_open_filename(t->w, t->tar), ARCHIVE_OK);
}

static void tar_entry(T *t, const char *name, mode_t type, const char *data, size_t len, const char *link)
{
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, type == AE_IFREG && !link ? (la_int64_t)len : 0);
        if (type == AE_IFLNK)
                archive_entry_set_symlink(e, link);
        else if (link)
                archive_entry_set_hardlink(e, link);
        assert_int_equal(archive_write_header(t->w, e), ARCHIVE_OK);
        if (type == AE_IFREG && !link && len > 0)
                assert_int_equal(archive_write_data(t->w, data, len), (la_ssize_t)len);
        archive_entry_free(e);
}

static void tar_file(T *t, const char *name, const char *data)
{
        tar_entry(t, name, AE_IFREG, data, strlen(data), NULL);
}

static void tar_end(T *t)
{
        assert_int_equal(archive_write_close(t->w), ARCHIVE_OK);
        archive_write_free(t->w);
}

/* Writes data as a layout blob and returns its digest in ret. */
static void tar_blob(T *t, const char *data, char ret[static SHA256_HEX_MAX])
{
        char path[128];
        assert_int_equal(sha256_digest_string(data, strlen(data), ret), 0);
        snprintf(path, sizeof(path), "blobs/sha256/%s", ret + 7);
        tar_file(t, path, data);
}

enum {
        WRONG_DIGEST = 1 << 0,  /* the layer blob's content differs from its name */
        NO_LAYER = 1 << 1,      /* the layer blob is missing */
        ARM64 = 1 << 2,         /* the index.json entry is linux/arm64 */
        NESTED_INDEX = 1 << 3,  /* index.json names an index of arm64 + amd64 manifests */
        WRONG_SIZE = 1 << 4,    /* the manifest descriptor in index.json has another size */
        REF_NAME_ONLY = 1 << 5, /* only org.opencontainers.image.ref.name "v1" */
};

#define LAYER_DATA "pretend this is a gzip'd layer"

/* An OCI layout with one image; flags break it in one way. */
static void build_layout(T *t, unsigned flags)
{
        char json[2048], diff_id[SHA256_HEX_MAX], child[SHA256_HEX_MAX];
        tar_begin(t);
        tar_entry(t, "./", AE_IFDIR, NULL, 0, NULL);
        tar_file(t, "./oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
        assert_int_equal(sha256_digest_string("uncompressed", 12, diff_id), 0);
        assert_int_equal(sha256_digest_string(LAYER_DATA, strlen(LAYER_DATA), t->layer), 0);
        if (!(flags & NO_LAYER)) {
                char path[128];
                snprintf(path, sizeof(path), "blobs/sha256/%s", t->layer + 7);
                tar_file(t, path, flags & WRONG_DIGEST ? "tampered layer bytes, same length!" : LAYER_DATA);
        }
        snprintf(json, sizeof(json),
                 "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/bin/sh\"]},"
                 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                 diff_id);
        tar_blob(t, json, t->config);
        snprintf(json, sizeof(json),
                 "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_MANIFEST
                 "\",\"config\":{\"mediaType\":\"" OCI_MEDIA_CONFIG
                 "\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
                 "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":%zu}]}",
                 t->config, strlen(json), t->layer, strlen(LAYER_DATA));
        size_t manifest_size = strlen(json);
        tar_blob(t, json, t->manifest);
        const char *type = OCI_MEDIA_MANIFEST;
        const char *target = t->manifest;
        size_t target_size = manifest_size + (flags & WRONG_SIZE ? 1 : 0);
        if (flags & NESTED_INDEX) {
                snprintf(json, sizeof(json),
                         "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" OCI_MEDIA_MANIFEST
                         "\",\"digest\":"
                         "\"sha256:%064d\",\"size\":7,\"platform\":{\"os\":\"linux\",\"architecture\":"
                         "\"arm64\"}},"
                         "{\"mediaType\":\"" OCI_MEDIA_MANIFEST
                         "\",\"digest\":\"%s\",\"size\":%zu,\"platform\":"
                         "{\"os\":\"linux\",\"architecture\":\"%s\"}}]}",
                         0, t->manifest, manifest_size, flags & ARM64 ? "arm64" : "amd64");
                target_size = strlen(json);
                tar_blob(t, json, child);
                type = OCI_MEDIA_INDEX;
                target = child;
        }
        snprintf(json, sizeof(json),
                 "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu,"
                 "\"annotations\":{%s\"org.opencontainers.image.ref.name\":\"v1\"}%s}]}",
                 type, target, target_size,
                 flags & REF_NAME_ONLY ? "" : "\"io.containerd.image.name\":\"kukeon/busybox:test\",",
                 flags & ARM64 && !(flags & NESTED_INDEX)
                         ? ",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}"
                         : "");
        tar_file(t, "index.json", json);
        tar_end(t);
}

static int read_archive(T *t, const ImageArchiveOptions *opts)
{
        ImageArchiveOptions o = opts ? *opts : (ImageArchiveOptions){0};
        o.tmp_dir = t->dir;
        int fd = open(t->tar, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        t->result = image_archive_free(t->result);
        int r = image_archive_read(fd, &o, &t->result, t->message);
        close(fd);
        return r;
}

static void assert_fails(T *t, int want, const char *message_part)
{
        int r = read_archive(t, NULL);
        if (r != want || !strstr(t->message, message_part))
                fail_msg("got %d \"%s\", wanted %d with \"%s\"", r, t->message, want, message_part);
        assert_null(t->result);
}

static const char *label(const ImageArchiveBlob *b, const char *key)
{
        for (size_t i = 0; i < b->n_labels; i++)
                if (strcmp(b->labels[i].key, key) == 0)
                        return b->labels[i].value;
        return NULL;
}

/* The bytes of a blob, from the spool file. */
static char *blob_bytes(const ImageArchive *a, const ImageArchiveBlob *b)
{
        char *buf = calloc(1, (size_t)b->size + 1);
        assert_int_equal(pread(a->spool_fd, buf, (size_t)b->size, (off_t)b->offset), b->size);
        return buf;
}

/* ---- valid archives ---- */

static void test_oci_layout(void **state)
{
        T *t = *state;
        build_layout(t, 0);
        assert_int_equal(read_archive(t, NULL), 0);
        const ImageArchive *a = t->result;
        assert_int_equal(a->format, IMAGE_ARCHIVE_OCI_LAYOUT);
        /* children first: layer, config, manifest */
        assert_int_equal(a->n_blobs, 3);
        assert_string_equal(a->blobs[0].digest, t->layer);
        assert_string_equal(a->blobs[0].kind, "layer");
        assert_string_equal(a->blobs[1].digest, t->config);
        assert_string_equal(a->blobs[2].digest, t->manifest);
        assert_string_equal(a->blobs[2].kind, "manifest");
        assert_int_equal(a->blobs[0].n_labels, 0);
        assert_string_equal(label(&a->blobs[2], "containerd.io/gc.ref.content.config"), t->config);
        assert_string_equal(label(&a->blobs[2], "containerd.io/gc.ref.content.l.0"), t->layer);
        char *layer = blob_bytes(a, &a->blobs[0]);
        assert_string_equal(layer, LAYER_DATA);
        free(layer);
        assert_int_equal(a->total_size, a->blobs[0].size + a->blobs[1].size + a->blobs[2].size);

        assert_int_equal(a->n_images, 1);
        assert_string_equal(a->images[0].name, "docker.io/kukeon/busybox:test");
        assert_string_equal(a->images[0].target.digest, t->manifest);
        assert_string_equal(a->images[0].target.media_type, OCI_MEDIA_MANIFEST);
        assert_int_equal(a->n_manifests, 1);
        assert_int_equal(a->manifests[0].config.n_diff_ids, 1);
        assert_string_equal(a->manifests[0].config.entrypoint ? "x" : a->manifests[0].config.cmd[0],
                            "/bin/sh");
}

static void test_oci_nested_index(void **state)
{
        T *t = *state;
        build_layout(t, NESTED_INDEX);
        assert_int_equal(read_archive(t, NULL), 0);
        const ImageArchive *a = t->result;
        /* The amd64 manifest is selected; the index names both children in its GC labels. */
        assert_int_equal(a->n_blobs, 4);
        const ImageArchiveBlob *index = &a->blobs[3];
        assert_string_equal(index->kind, "index");
        assert_string_equal(label(index, "containerd.io/gc.ref.content.m.0"),
                            "sha256:0000000000000000000000000000000000000000000000000000000000000000");
        assert_string_equal(label(index, "containerd.io/gc.ref.content.m.1"), t->manifest);
        assert_string_equal(a->images[0].target.digest, index->digest);
        assert_string_equal(a->images[0].target.media_type, OCI_MEDIA_INDEX);
        assert_string_equal(a->manifests[a->images[0].manifest].digest, t->manifest);
}

static void test_oci_ref_name(void **state)
{
        T *t = *state;
        build_layout(t, REF_NAME_ONLY);
        /* A tag alone names nothing without a base name. */
        assert_fails(t, -EINVAL, "the archive names no image");
        const ImageArchiveOptions o = {.base_name = "docker.io/kukeon/busybox"};
        assert_int_equal(read_archive(t, &o), 0);
        assert_string_equal(t->result->images[0].name, "docker.io/kukeon/busybox:v1");
}

static void build_docker(T *t, const char *layer, const char *diff_id_of)
{
        char json[1024], diff_id[SHA256_HEX_MAX], config_path[128];
        assert_int_equal(sha256_digest_string(diff_id_of, strlen(diff_id_of), diff_id), 0);
        assert_int_equal(sha256_digest_string(layer, strlen(layer), t->layer), 0);
        snprintf(json, sizeof(json),
                 "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/bin/sh\"]},"
                 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
                 diff_id);
        assert_int_equal(sha256_digest_string(json, strlen(json), t->config), 0);
        snprintf(config_path, sizeof(config_path), "%s.json", t->config + 7);
        tar_begin(t);
        char manifest[512];
        snprintf(manifest, sizeof(manifest),
                 "[{\"Config\":\"%s\",\"RepoTags\":[\"kukeon/busybox:test\",\"busybox\"],"
                 "\"Layers\":[\"0123/layer.tar\"]}]",
                 config_path);
        tar_file(t, "manifest.json", manifest);
        tar_file(t, config_path, json);
        tar_entry(t, "0123", AE_IFDIR, NULL, 0, NULL);
        tar_file(t, "0123/layer.tar", layer);
        tar_file(t, "0123/VERSION", "1.0");
        tar_end(t);
}

static void test_docker_archive(void **state)
{
        T *t = *state;
        build_docker(t, "plain tar bytes", "plain tar bytes");
        assert_int_equal(read_archive(t, NULL), 0);
        const ImageArchive *a = t->result;
        assert_int_equal(a->format, IMAGE_ARCHIVE_DOCKER);
        assert_int_equal(a->n_blobs, 3);
        assert_string_equal(a->blobs[0].media_type, DOCKER_MEDIA_LAYER);
        assert_string_equal(a->blobs[0].digest, t->layer);
        assert_string_equal(a->blobs[1].media_type, DOCKER_MEDIA_CONFIG);
        assert_string_equal(a->blobs[1].digest, t->config);
        const ImageArchiveBlob *m = &a->blobs[2];
        assert_string_equal(m->media_type, DOCKER_MEDIA_MANIFEST);
        /* the generated manifest is in the spool, and its digest is its bytes' */
        char *bytes = blob_bytes(a, m), digest[SHA256_HEX_MAX];
        assert_int_equal(sha256_digest_string(bytes, (size_t)m->size, digest), 0);
        assert_string_equal(digest, m->digest);
        assert_non_null(strstr(bytes, "\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar\""));
        free(bytes);
        assert_string_equal(label(m, "containerd.io/gc.ref.content.l.0"), t->layer);
        assert_int_equal(a->n_images, 2);
        assert_string_equal(a->images[0].name, "docker.io/kukeon/busybox:test");
        assert_string_equal(a->images[1].name, "docker.io/library/busybox:latest");
        assert_string_equal(a->images[0].target.digest, m->digest);
        assert_int_equal(a->images[1].manifest, 0);
}

/* ---- broken archives ---- */

static void test_docker_wrong_diff_id(void **state)
{
        T *t = *state;
        build_docker(t, "plain tar bytes", "other bytes");
        assert_fails(t, -EBADMSG, "0123/layer.tar: digest sha256:");
}

static void test_unsafe_paths(void **state)
{
        T *t = *state;
        tar_begin(t);
        tar_file(t, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
        tar_file(t, "blobs/../../etc/passwd", "x");
        tar_end(t);
        assert_fails(t, -EINVAL, "entry \"blobs/../../etc/passwd\": \"..\" is not allowed in paths");

        tar_begin(t);
        tar_file(t, "/etc/passwd", "x");
        tar_end(t);
        assert_fails(t, -EINVAL, "entry \"/etc/passwd\": absolute paths are not allowed");
}

static void test_links(void **state)
{
        T *t = *state;
        tar_begin(t);
        tar_file(t, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
        tar_entry(t, "index.json", AE_IFLNK, NULL, 0, "/etc/passwd");
        tar_end(t);
        assert_fails(t, -EINVAL, "entry \"index.json\": symbolic links are not allowed");

        tar_begin(t);
        tar_file(t, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
        tar_entry(t, "index.json", AE_IFREG, NULL, 0, "oci-layout");
        tar_end(t);
        assert_fails(t, -EINVAL, "entry \"index.json\": hard links are not allowed");

        tar_begin(t);
        tar_entry(t, "fifo", AE_IFIFO, NULL, 0, NULL);
        tar_end(t);
        assert_fails(t, -EINVAL, "only regular files and directories");
}

static void test_truncated(void **state)
{
        T *t = *state;
        build_layout(t, 0);
        /* Cut inside the layer blob's data (the second entry's header is at 512 * 3). */
        assert_int_equal(truncate(t->tar, 512 * 4 + 100), 0);
        assert_fails(t, -EIO, "Truncated");
}

static void test_wrong_digest_and_size(void **state)
{
        T *t = *state;
        build_layout(t, WRONG_DIGEST);
        assert_fails(t, -EBADMSG, "layer 0 of manifest");
        assert_non_null(strstr(t->message, "has digest sha256:"));

        build_layout(t, WRONG_SIZE);
        assert_fails(t, -EBADMSG, "bytes, not");
}

static void test_missing_blob(void **state)
{
        T *t = *state;
        build_layout(t, NO_LAYER);
        assert_fails(t, -ENOENT, "is not in the archive (blobs/sha256/");
}

static void test_no_amd64(void **state)
{
        T *t = *state;
        build_layout(t, ARM64);
        assert_fails(t, -ENOEXEC, "no image for linux/amd64 in the archive (found linux/arm64)");
        build_layout(t, ARM64 | NESTED_INDEX);
        assert_fails(t, -ENOEXEC, "no image for linux/amd64 in the archive (found linux/arm64)");
}

static void test_unknown_formats(void **state)
{
        T *t = *state;
        FILE *f = fopen(t->tar, "w");
        fputs("PK\3\4 this is not a tar at all, not even close; padding padding padding padding", f);
        fclose(f);
        assert_fails(t, -EINVAL, "not a tar archive");

        tar_begin(t);
        tar_file(t, "hello.txt", "hi");
        tar_end(t);
        assert_fails(t, -EINVAL, "unknown archive format");

        tar_begin(t);
        tar_file(t, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
        tar_file(t, "./oci-layout", "{}");
        tar_end(t);
        assert_fails(t, -EINVAL, "entry \"oci-layout\" appears twice");

        tar_begin(t);
        tar_file(t, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
        tar_end(t);
        assert_fails(t, -ENOENT, "index.json is missing");
}

static void test_cancel(void **state)
{
        T *t = *state;
        build_layout(t, 0);
        atomic_bool cancel;
        atomic_init(&cancel, true);
        const ImageArchiveOptions o = {.cancel = &cancel};
        assert_int_equal(read_archive(t, &o), -ECANCELED);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_oci_layout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oci_nested_index, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oci_ref_name, setup, teardown),
                cmocka_unit_test_setup_teardown(test_docker_archive, setup, teardown),
                cmocka_unit_test_setup_teardown(test_docker_wrong_diff_id, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unsafe_paths, setup, teardown),
                cmocka_unit_test_setup_teardown(test_links, setup, teardown),
                cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wrong_digest_and_size, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_blob, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_amd64, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unknown_formats, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
