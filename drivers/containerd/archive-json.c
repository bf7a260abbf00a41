/* The JSON documents of images: OCI index and manifest (docker manifest lists and schema2 manifests read
 * the same), image config, and the docker schema2 manifest `ctr import` generates. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/macro.h"
#include "drivers/containerd/archive.h"

static _printf_(3, 4) int json_fail(char *message, const char *file, const char *fmt, ...)
{
        int n = snprintf(message, IMAGE_MESSAGE_MAX, "%s: ", file);
        if (n < 0 || n >= IMAGE_MESSAGE_MAX)
                return -EINVAL;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(message + n, IMAGE_MESSAGE_MAX - (size_t)n, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static int json_load(const char *data, size_t len, const char *file, json_t **ret, char *message)
{
        json_error_t err;
        json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
        if (!root) {
                snprintf(message, IMAGE_MESSAGE_MAX, "%s:%d:%d: %s", file, err.line, err.column, err.text);
                return -EINVAL;
        }
        if (!json_is_object(root)) {
                json_decref(root);
                return json_fail(message, file, "expected a JSON object");
        }
        *ret = root;
        return 0;
}

OciKind oci_kind_from_media_type(const char *media_type)
{
        if (!media_type)
                return OCI_KIND_UNKNOWN;
        if (streq(media_type, OCI_MEDIA_INDEX) || streq(media_type, DOCKER_MEDIA_LIST))
                return OCI_KIND_INDEX;
        if (streq(media_type, OCI_MEDIA_MANIFEST) || streq(media_type, DOCKER_MEDIA_MANIFEST))
                return OCI_KIND_MANIFEST;
        return OCI_KIND_UNKNOWN;
}

bool oci_digest_is_valid(const char *s)
{
        if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != SHA256_HEX_MAX - 1)
                return false;
        for (const char *p = s + 7; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

bool oci_platform_is_host(const char *os, const char *architecture, const char *variant)
{
        return streq_ptr(os, IMAGE_PLATFORM_OS) && streq_ptr(architecture, IMAGE_PLATFORM_ARCH) &&
               (!variant || !*variant || streq(variant, "v1"));
}

/* A copy of the optional string member key of o; -EINVAL when present but not a string. */
static int get_string(json_t *o, const char *key, const char *file, const char *where, char **ret,
                      char *message)
{
        json_t *v = json_object_get(o, key);
        *ret = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v))
                return json_fail(message, file, "%s%s: expected a string", where, key);
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : -ENOMEM;
}

static void strv_free(char **v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
}

/* The optional array of strings key of o. */
static int get_strv(json_t *o, const char *key, const char *file, const char *where, char ***ret,
                    size_t *ret_n, char *message)
{
        json_t *v = json_object_get(o, key);
        *ret = NULL;
        *ret_n = 0;
        if (!v || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0))
                return 0;
        if (!json_is_array(v))
                return json_fail(message, file, "%s%s: expected an array of strings", where, key);
        char **strv = calloc(json_array_size(v), sizeof(char *));
        if (!strv)
                return -ENOMEM;
        size_t i;
        json_t *e;
        json_array_foreach (v, i, e) {
                if (!json_is_string(e)) {
                        strv_free(strv, i);
                        return json_fail(message, file, "%s%s[%zu]: expected a string", where, key, i);
                }
                if (!(strv[i] = strdup(json_string_value(e)))) {
                        strv_free(strv, i);
                        return -ENOMEM;
                }
        }
        *ret = strv;
        *ret_n = json_array_size(v);
        return 0;
}

static int get_digest(json_t *v, const char *file, const char *where, char ret[static SHA256_HEX_MAX],
                      char *message)
{
        if (!json_is_string(v))
                return json_fail(message, file, "%s: expected a digest string", where);
        if (!oci_digest_is_valid(json_string_value(v)))
                return json_fail(message, file, "%s: \"%s\" is not a sha256 digest", where,
                                 json_string_value(v));
        memcpy(ret, json_string_value(v), SHA256_HEX_MAX);
        return 0;
}

void oci_descriptor_done(OciDescriptor *d)
{
        free(d->media_type);
        free(d->os);
        free(d->architecture);
        free(d->variant);
        free(d->image_name);
        free(d->ref_name);
        *d = (OciDescriptor){0};
}

static int descriptor_parse(json_t *o, const char *file, const char *where, OciDescriptor *d, char *message)
{
        char w[128];
        *d = (OciDescriptor){0};
        if (!json_is_object(o))
                return json_fail(message, file, "%s: expected an object", where);
        snprintf(w, sizeof(w), "%s.digest", where);
        int r = get_digest(json_object_get(o, "digest"), file, w, d->digest, message);
        if (r < 0)
                return r;
        json_t *size = json_object_get(o, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0)
                return json_fail(message, file, "%s.size: expected a non-negative integer", where);
        d->size = json_integer_value(size);
        snprintf(w, sizeof(w), "%s.", where);
        if ((r = get_string(o, "mediaType", file, w, &d->media_type, message)) < 0)
                goto fail;
        if (!d->media_type && !(d->media_type = strdup(""))) {
                r = -ENOMEM;
                goto fail;
        }
        json_t *platform = json_object_get(o, "platform");
        if (platform && !json_is_null(platform)) {
                snprintf(w, sizeof(w), "%s.platform.", where);
                if (!json_is_object(platform))
                        r = json_fail(message, file, "%s.platform: expected an object", where);
                if (r >= 0)
                        r = get_string(platform, "os", file, w, &d->os, message);
                if (r >= 0)
                        r = get_string(platform, "architecture", file, w, &d->architecture, message);
                if (r >= 0)
                        r = get_string(platform, "variant", file, w, &d->variant, message);
                if (r < 0)
                        goto fail;
        }
        json_t *annotations = json_object_get(o, "annotations");
        if (json_is_object(annotations)) {
                snprintf(w, sizeof(w), "%s.annotations.", where);
                r = get_string(annotations, ANNOTATION_IMAGE_NAME, file, w, &d->image_name, message);
                if (r >= 0)
                        r = get_string(annotations, ANNOTATION_REF_NAME, file, w, &d->ref_name, message);
                if (r < 0)
                        goto fail;
        }
        return 0;
fail:
        oci_descriptor_done(d);
        return r;
}

/* The array key of root as descriptors. */
static int descriptors_parse(json_t *root, const char *key, const char *file, OciDescriptor **ret,
                             size_t *ret_n, char *message)
{
        json_t *arr = json_object_get(root, key);
        *ret = NULL;
        *ret_n = 0;
        if (!json_is_array(arr))
                return json_fail(message, file, "%s: expected an array", key);
        OciDescriptor *ds = calloc(json_array_size(arr) + 1, sizeof(*ds));
        if (!ds)
                return -ENOMEM;
        size_t i;
        json_t *e;
        json_array_foreach (arr, i, e) {
                char where[64];
                snprintf(where, sizeof(where), "%s[%zu]", key, i);
                int r = descriptor_parse(e, file, where, &ds[i], message);
                if (r < 0) {
                        for (size_t j = 0; j < i; j++)
                                oci_descriptor_done(&ds[j]);
                        free(ds);
                        return r;
                }
        }
        *ret = ds;
        *ret_n = json_array_size(arr);
        return 0;
}

int oci_index_parse(const char *data, size_t len, const char *file, OciIndex *ret,
                    char message[static IMAGE_MESSAGE_MAX])
{
        json_t *root;
        *ret = (OciIndex){0};
        int r = json_load(data, len, file, &root, message);
        if (r < 0)
                return r;
        r = descriptors_parse(root, "manifests", file, &ret->manifests, &ret->n_manifests, message);
        json_decref(root);
        return r;
}

void oci_index_done(OciIndex *index)
{
        for (size_t i = 0; i < index->n_manifests; i++)
                oci_descriptor_done(&index->manifests[i]);
        free(index->manifests);
        *index = (OciIndex){0};
}

int oci_manifest_parse(const char *data, size_t len, const char *file, OciManifest *ret,
                       char message[static IMAGE_MESSAGE_MAX])
{
        json_t *root;
        *ret = (OciManifest){0};
        int r = json_load(data, len, file, &root, message);
        if (r < 0)
                return r;
        json_t *version = json_object_get(root, "schemaVersion");
        if (!json_is_integer(version) || json_integer_value(version) != 2)
                r = json_fail(message, file, "schemaVersion: expected 2");
        if (r >= 0)
                r = descriptor_parse(json_object_get(root, "config"), file, "config", &ret->config, message);
        if (r >= 0 &&
            (r = descriptors_parse(root, "layers", file, &ret->layers, &ret->n_layers, message)) < 0)
                oci_descriptor_done(&ret->config);
        json_decref(root);
        return r;
}

void oci_manifest_done(OciManifest *manifest)
{
        oci_descriptor_done(&manifest->config);
        for (size_t i = 0; i < manifest->n_layers; i++)
                oci_descriptor_done(&manifest->layers[i]);
        free(manifest->layers);
        *manifest = (OciManifest){0};
}

static int config_rootfs_parse(json_t *root, const char *file, OciImageConfig *c, char *message)
{
        json_t *rootfs = json_object_get(root, "rootfs");
        json_t *ids = json_is_object(rootfs) ? json_object_get(rootfs, "diff_ids") : NULL;
        if (!json_is_array(ids))
                return json_fail(message, file, "rootfs.diff_ids: expected an array");
        c->diff_ids = calloc(json_array_size(ids) + 1, SHA256_HEX_MAX);
        if (!c->diff_ids)
                return -ENOMEM;
        size_t i;
        json_t *e;
        json_array_foreach (ids, i, e) {
                char where[64];
                snprintf(where, sizeof(where), "rootfs.diff_ids[%zu]", i);
                int r = get_digest(e, file, where, c->diff_ids[i], message);
                if (r < 0)
                        return r;
        }
        c->n_diff_ids = json_array_size(ids);
        return 0;
}

static int config_process_parse(json_t *root, const char *file, OciImageConfig *c, char *message)
{
        json_t *cfg = json_object_get(root, "config");
        if (!cfg || json_is_null(cfg))
                return 0;
        if (!json_is_object(cfg))
                return json_fail(message, file, "config: expected an object");
        int r = get_strv(cfg, "Entrypoint", file, "config.", &c->entrypoint, &c->n_entrypoint, message);
        if (r >= 0)
                r = get_strv(cfg, "Cmd", file, "config.", &c->cmd, &c->n_cmd, message);
        if (r >= 0)
                r = get_strv(cfg, "Env", file, "config.", &c->env, &c->n_env, message);
        if (r >= 0)
                r = get_string(cfg, "WorkingDir", file, "config.", &c->working_dir, message);
        if (r >= 0)
                r = get_string(cfg, "User", file, "config.", &c->user, message);
        if (r >= 0)
                r = get_string(cfg, "StopSignal", file, "config.", &c->stop_signal, message);
        return r;
}

int oci_config_parse(const char *data, size_t len, const char *file, OciImageConfig *ret,
                     char message[static IMAGE_MESSAGE_MAX])
{
        json_t *root;
        *ret = (OciImageConfig){0};
        int r = json_load(data, len, file, &root, message);
        if (r < 0)
                return r;
        r = get_string(root, "os", file, "", &ret->os, message);
        if (r >= 0)
                r = get_string(root, "architecture", file, "", &ret->architecture, message);
        if (r >= 0)
                r = get_string(root, "variant", file, "", &ret->variant, message);
        if (r >= 0)
                r = config_process_parse(root, file, ret, message);
        if (r >= 0)
                r = config_rootfs_parse(root, file, ret, message);
        json_decref(root);
        if (r < 0)
                oci_config_done(ret);
        return r;
}

void oci_config_done(OciImageConfig *c)
{
        free(c->os);
        free(c->architecture);
        free(c->variant);
        strv_free(c->entrypoint, c->n_entrypoint);
        strv_free(c->cmd, c->n_cmd);
        strv_free(c->env, c->n_env);
        free(c->working_dir);
        free(c->user);
        free(c->stop_signal);
        free(c->diff_ids);
        *c = (OciImageConfig){0};
}

/* {"mediaType":…,"digest":…,"size":…}: Go's order for ocispec.Descriptor. */
static json_t *descriptor_json(const OciDescriptor *d)
{
        return json_pack("{s:s,s:s,s:I}", "mediaType", d->media_type, "digest", d->digest, "size",
                         (json_int_t)d->size);
}

int docker_manifest_build(const OciDescriptor *config, const OciDescriptor *layers, size_t n_layers,
                          char **ret)
{
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n_layers; i++)
                if (json_array_append_new(arr, descriptor_json(&layers[i])) < 0) {
                        json_decref(arr);
                        arr = NULL;
                }
        if (!arr)
                return -ENOMEM;
        /* json_pack steals arr ("o") even when it fails. */
        json_t *root = json_pack("{s:i,s:s,s:o,s:o}", "schemaVersion", 2, "mediaType", DOCKER_MEDIA_MANIFEST,
                                 "config", descriptor_json(config), "layers", arr);
        if (!root)
                return -ENOMEM;
        *ret = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(root);
        return *ret ? 0 : -ENOMEM;
}
