/* The docker archive ("docker save"): manifest.json lists per image its config file, RepoTags and layer
 * files. Each entry becomes a docker schema2 manifest, generated the way `ctr import` does (same bytes):
 * config typed application/vnd.docker.container.image.v1+json, layers typed by their compression. Files
 * whose names promise a digest (blobs/sha256/<hex>, <hex>.json) are checked against it, and uncompressed
 * layers against their diff_ids (compressed ones are checked by the unpack, against the applied digest). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/macro.h"
#include "drivers/containerd/archive-plan.h"
#include "drivers/containerd/ctrd.h"

/* The digest a file's name promises, if any: "blobs/sha256/<hex>", or "<hex>.json" at the top (docker
 * names the config after its digest, the image ID). */
static bool path_digest(const char *path, char ret[static SHA256_HEX_MAX])
{
        const char *hex = NULL;
        if (strncmp(path, "blobs/sha256/", 13) == 0 && strlen(path) == 13 + 64)
                hex = path + 13;
        else if (strlen(path) == 64 + 5 && streq(path + 64, ".json"))
                hex = path;
        if (!hex)
                return false;
        snprintf(ret, SHA256_HEX_MAX, "sha256:%.64s", hex);
        return oci_digest_is_valid(ret);
}

/* The spooled file named by manifest.json[i].<field>, checked against the digest its name promises. */
static int docker_file(Resolver *R, json_t *v, size_t i, const char *field, const ImageArchiveFile **ret)
{
        if (!json_is_string(v)) {
                snprintf(R->message, IMAGE_MESSAGE_MAX, "manifest.json: [%zu].%s: expected a string", i,
                         field);
                return -EINVAL;
        }
        const char *path = json_string_value(v);
        const ImageArchiveFile *f = image_archive_files_find(R->files, path);
        if (!f) {
                snprintf(R->message, IMAGE_MESSAGE_MAX,
                         "manifest.json: [%zu].%s: \"%s\" is not in the archive", i, field, path);
                return -ENOENT;
        }
        OciDescriptor promised = {.size = f->size};
        if (path_digest(f->path, promised.digest)) {
                char what[64];
                snprintf(what, sizeof(what), "manifest.json: [%zu].%s", i, field);
                int r = blob_check(R, f, &promised, what);
                if (r < 0)
                        return r;
        }
        *ret = f;
        return 0;
}

/* The media type of a layer file by its first bytes; -EINVAL for compressions containerd cannot apply. */
static int layer_media_type(Resolver *R, const ImageArchiveFile *f, const char **ret)
{
        unsigned char magic[4] = {0};
        if (f->size >= 4 && pread(R->files->spool_fd, magic, 4, (off_t)f->offset) != 4) {
                snprintf(R->message, IMAGE_MESSAGE_MAX, "%s: reading the spool file failed", f->path);
                return -EIO;
        }
        if (magic[0] == 0x1f && magic[1] == 0x8b)
                *ret = DOCKER_MEDIA_LAYER_GZIP;
        else if (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
                *ret = OCI_MEDIA_LAYER_ZSTD;
        else if ((magic[0] == 'B' && magic[1] == 'Z' && magic[2] == 'h') ||
                 (magic[0] == 0xfd && magic[1] == '7')) {
                snprintf(R->message, IMAGE_MESSAGE_MAX, "%s: bzip2 and xz layers are not supported",
                         f->path);
                return -EINVAL;
        } else
                *ret = DOCKER_MEDIA_LAYER;
        return 0;
}

/* Layer descriptors of entry i (into m, offsets into ret_offsets), checked against the config's diff_ids. */
static int docker_layers(Resolver *R, json_t *layers, size_t i, const OciImageConfig *c, OciManifest *m,
                         uint64_t **ret_offsets)
{
        if (!json_is_array(layers)) {
                snprintf(R->message, IMAGE_MESSAGE_MAX, "manifest.json: [%zu].Layers: expected an array", i);
                return -EINVAL;
        }
        size_t n = json_array_size(layers);
        if (n != c->n_diff_ids) {
                snprintf(R->message, IMAGE_MESSAGE_MAX,
                         "manifest.json: [%zu]: %zu layers but %zu diff_ids in "
                         "the config",
                         i, n, c->n_diff_ids);
                return -EINVAL;
        }
        m->layers = calloc(n + 1, sizeof(*m->layers));
        *ret_offsets = calloc(n + 1, sizeof(uint64_t));
        if (!m->layers || !*ret_offsets)
                return -ENOMEM;
        for (size_t j = 0; j < n; j++) {
                char field[32];
                const ImageArchiveFile *f;
                const char *type;
                snprintf(field, sizeof(field), "Layers[%zu]", j);
                int r = docker_file(R, json_array_get(layers, j), i, field, &f);
                if (r >= 0)
                        r = layer_media_type(R, f, &type);
                if (r < 0)
                        return r;
                if (streq(type, DOCKER_MEDIA_LAYER) && !streq(f->digest, c->diff_ids[j])) {
                        snprintf(R->message, IMAGE_MESSAGE_MAX, "%s: digest %s does not match diff_id %s",
                                 f->path, f->digest, c->diff_ids[j]);
                        return -EBADMSG;
                }
                m->n_layers = j + 1;
                if (!(m->layers[j].media_type = strdup(type)))
                        return -ENOMEM;
                memcpy(m->layers[j].digest, f->digest, SHA256_HEX_MAX);
                m->layers[j].size = f->size;
                (*ret_offsets)[j] = f->offset;
        }
        return 0;
}

/* The names of entry i: its RepoTags, normalized (none: the entry is not imported). */
static int docker_names(Resolver *R, json_t *tags, size_t i, char ***ret, size_t *ret_n)
{
        *ret = NULL;
        *ret_n = 0;
        if (!tags || json_is_null(tags))
                return 0;
        if (!json_is_array(tags)) {
                snprintf(R->message, IMAGE_MESSAGE_MAX, "manifest.json: [%zu].RepoTags: expected an array",
                         i);
                return -EINVAL;
        }
        char **names = calloc(json_array_size(tags) + 1, sizeof(char *));
        if (!names)
                return -ENOMEM;
        *ret = names;
        for (size_t j = 0; j < json_array_size(tags); j++) {
                json_t *t = json_array_get(tags, j);
                int r = json_is_string(t) ? ctrd_image_ref_normalize(json_string_value(t), &names[j])
                                          : -EINVAL;
                if (r < 0) {
                        snprintf(R->message, IMAGE_MESSAGE_MAX,
                                 "manifest.json: [%zu].RepoTags[%zu]: not a valid "
                                 "image name",
                                 i, j);
                        return r;
                }
                *ret_n = j + 1;
        }
        return 0;
}

static void strv_free(char **v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
}

/* Generates the manifest of m, appends it to the spool and records it with the images named. */
static int docker_manifest(Resolver *R, OciManifest *m, OciImageConfig *c, const uint64_t *offsets,
                           uint64_t config_offset, char **names, size_t n_names)
{
        _cleanup_free_ char *json = NULL;
        OciDescriptor desc = {.media_type = DOCKER_MEDIA_MANIFEST};
        uint64_t offset;
        size_t idx;
        int r = docker_manifest_build(&m->config, m->layers, m->n_layers, &json);
        if (r >= 0 && sha256_digest_string(json, strlen(json), desc.digest) < 0)
                r = -EIO;
        if (r >= 0)
                r = image_archive_spool_append(R->files, json, strlen(json), &offset);
        if (r < 0) {
                oci_manifest_done(m);
                oci_config_done(c);
                return r;
        }
        desc.size = (int64_t)strlen(json);
        r = plan_add_manifest(R, &desc, offset, m, c, offsets, config_offset, &idx);
        for (size_t j = 0; r >= 0 && j < n_names; j++)
                r = plan_add_image(R, names[j], &desc, idx);
        return r;
}

static int docker_entry(Resolver *R, json_t *e, size_t i)
{
        char **names = NULL;
        size_t n_names = 0;
        const ImageArchiveFile *cf;
        _cleanup_free_ char *cdata = NULL;
        _cleanup_free_ uint64_t *offsets = NULL;
        OciManifest m = {0};
        OciImageConfig c = {0};
        if (!json_is_object(e)) {
                snprintf(R->message, IMAGE_MESSAGE_MAX, "manifest.json: [%zu]: expected an object", i);
                return -EINVAL;
        }
        int r = docker_names(R, json_object_get(e, "RepoTags"), i, &names, &n_names);
        if (r < 0 || n_names == 0)
                goto out;
        r = docker_file(R, json_object_get(e, "Config"), i, "Config", &cf);
        if (r >= 0)
                r = image_archive_file_load(R->files, cf, R->max_json, &cdata, R->message);
        if (r >= 0)
                r = oci_config_parse(cdata, (size_t)cf->size, cf->path, &c, R->message);
        if (r < 0)
                goto out;
        if ((c.os || c.architecture) && !oci_platform_is_host(c.os, c.architecture, c.variant)) {
                plan_foreign(R, c.os, c.architecture, c.variant);
                goto out;
        }
        m.config.media_type = strdup(DOCKER_MEDIA_CONFIG);
        memcpy(m.config.digest, cf->digest, SHA256_HEX_MAX);
        m.config.size = cf->size;
        r = m.config.media_type ? docker_layers(R, json_object_get(e, "Layers"), i, &c, &m, &offsets)
                                : -ENOMEM;
        if (r >= 0)
                r = docker_manifest(R, &m, &c, offsets, cf->offset, names, n_names);
out:
        oci_manifest_done(&m);
        oci_config_done(&c);
        strv_free(names, n_names);
        return r;
}

int docker_resolve(Resolver *R, const ImageArchiveFile *manifest_json)
{
        _cleanup_free_ char *data = NULL;
        int r = image_archive_file_load(R->files, manifest_json, R->max_json, &data, R->message);
        if (r < 0)
                return r;
        json_error_t err;
        json_t *root = json_loadb(data, (size_t)manifest_json->size, JSON_REJECT_DUPLICATES, &err);
        if (!root) {
                snprintf(R->message, IMAGE_MESSAGE_MAX, "manifest.json:%d:%d: %s", err.line, err.column,
                         err.text);
                return -EINVAL;
        }
        if (!json_is_array(root)) {
                snprintf(R->message, IMAGE_MESSAGE_MAX, "manifest.json: expected an array");
                r = -EINVAL;
        }
        for (size_t i = 0; r >= 0 && i < json_array_size(root); i++)
                r = docker_entry(R, json_array_get(root, i), i);
        json_decref(root);
        return r;
}
