/* The pure parts of the registry protocol: media types, the platform pick, GC labels, error bodies. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/macro.h"
#include "drivers/containerd/registry-proto.h"

static const char *const known_types[] = {OCI_MEDIA_MANIFEST, DOCKER_MEDIA_MANIFEST, OCI_MEDIA_INDEX,
                                          DOCKER_MEDIA_LIST};

/* The known media type equal to s[0..len) (case-insensitively), or NULL. */
static const char *known_type(const char *s, size_t len)
{
        for (size_t i = 0; i < ARRAY_SIZE(known_types); i++)
                if (strlen(known_types[i]) == len && strncasecmp(s, known_types[i], len) == 0)
                        return known_types[i];
        return NULL;
}

static bool is_schema1(const char *s, size_t len)
{
        return (len == strlen(DOCKER_MEDIA_SCHEMA1) && strncasecmp(s, DOCKER_MEDIA_SCHEMA1, len) == 0) ||
               (len == strlen(DOCKER_MEDIA_SCHEMA1_SIGNED) &&
                strncasecmp(s, DOCKER_MEDIA_SCHEMA1_SIGNED, len) == 0);
}

/* The media type of a JSON manifest document without a telling Content-Type. */
static int media_type_from_body(const char *body, size_t len, const char **ret, char *message)
{
        json_error_t error;
        json_t *root = json_loadb(body ? body : "", body ? len : 0, 0, &error);
        if (!json_is_object(root)) {
                json_decref(root);
                snprintf(message, REGISTRY_MESSAGE_MAX, "the manifest is not a JSON object (%d:%d: %s)",
                         error.line, error.column, root ? "not an object" : error.text);
                return -EBADMSG;
        }
        const char *mt = json_string_value(json_object_get(root, "mediaType"));
        json_t *version = json_object_get(root, "schemaVersion");
        int r = 0;
        if (mt && is_schema1(mt, strlen(mt)))
                r = -ENOTSUP;
        else if (mt && known_type(mt, strlen(mt)))
                *ret = known_type(mt, strlen(mt));
        else if (mt)
                r = -EBADMSG;
        else if (json_is_integer(version) && json_integer_value(version) == 1)
                r = -ENOTSUP;
        else if (json_is_array(json_object_get(root, "manifests")))
                *ret = OCI_MEDIA_INDEX;
        else if (json_is_object(json_object_get(root, "config")))
                *ret = OCI_MEDIA_MANIFEST;
        else
                r = -EBADMSG;
        if (r == -EBADMSG)
                snprintf(message, REGISTRY_MESSAGE_MAX,
                         "the document is no manifest or index (mediaType %s)", mt ? mt : "absent");
        json_decref(root);
        return r;
}

int registry_manifest_media_type(const char *content_type, const char *body, size_t len, char **ret,
                                 char message[static REGISTRY_MESSAGE_MAX])
{
        const char *ct = content_type ? content_type : "";
        while (*ct == ' ' || *ct == '\t')
                ct++;
        size_t ct_len = strcspn(ct, "; \t");
        const char *type = known_type(ct, ct_len);
        *ret = NULL;
        message[0] = '\0';
        if (is_schema1(ct, ct_len)) {
                snprintf(message, REGISTRY_MESSAGE_MAX, "docker schema 1 manifests are not supported");
                return -ENOTSUP;
        }
        if (!type) {
                bool is_generic = ct_len == 0 ||
                                  (ct_len == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
                                  (ct_len == 10 && strncasecmp(ct, "text/plain", 10) == 0) ||
                                  (ct_len == 24 && strncasecmp(ct, "application/octet-stream", 24) == 0);
                if (!is_generic) {
                        snprintf(message, REGISTRY_MESSAGE_MAX, "unexpected Content-Type \"%.*s\"",
                                 (int)(ct_len > 100 ? 100 : ct_len), ct);
                        return -EBADMSG;
                }
                int r = media_type_from_body(body, len, &type, message);
                if (r == -ENOTSUP)
                        snprintf(message, REGISTRY_MESSAGE_MAX,
                                 "docker schema 1 manifests are not supported");
                if (r < 0)
                        return r;
        }
        *ret = strdup(type);
        return *ret ? 0 : -ENOMEM;
}

int registry_index_select(const OciIndex *index, size_t *ret, char message[static REGISTRY_MESSAGE_MAX])
{
        size_t fallback = SIZE_MAX;
        for (size_t i = 0; i < index->n_manifests; i++) {
                const OciDescriptor *d = &index->manifests[i];
                if (d->media_type[0] && oci_kind_from_media_type(d->media_type) != OCI_KIND_MANIFEST)
                        continue; /* a nested index or something else */
                if (oci_platform_is_host(d->os, d->architecture, d->variant)) {
                        *ret = i;
                        return 0;
                }
                if (!d->os && !d->architecture && fallback == SIZE_MAX)
                        fallback = i;
        }
        if (fallback != SIZE_MAX) {
                *ret = fallback;
                return 0;
        }
        int n = snprintf(message, REGISTRY_MESSAGE_MAX, "no manifest for %s/%s in the index (it has",
                         IMAGE_PLATFORM_OS, IMAGE_PLATFORM_ARCH);
        for (size_t i = 0; i < index->n_manifests && n > 0 && n < REGISTRY_MESSAGE_MAX - 40; i++) {
                const OciDescriptor *d = &index->manifests[i];
                n += snprintf(message + n, REGISTRY_MESSAGE_MAX - (size_t)n, "%s %s/%s%s%s", i ? "," : "",
                              d->os ? d->os : "?", d->architecture ? d->architecture : "?",
                              d->variant ? "/" : "", strempty(d->variant));
        }
        if (n > 0 && n < REGISTRY_MESSAGE_MAX)
                snprintf(message + n, REGISTRY_MESSAGE_MAX - (size_t)n, "%s)",
                         index->n_manifests ? "" : " no entries");
        return -ENOEXEC;
}

bool registry_layer_is_supported(const char *media_type)
{
        static const char *const types[] = {
                "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
                OCI_MEDIA_LAYER_ZSTD, DOCKER_MEDIA_LAYER, DOCKER_MEDIA_LAYER_GZIP};
        for (size_t i = 0; media_type && i < ARRAY_SIZE(types); i++)
                if (streq(media_type, types[i]))
                        return true;
        return false;
}

int registry_labels_add(RegistryLabels *l, const char *key, const char *value)
{
        CtrdLabel *items = realloc(l->items, (l->n + 1) * sizeof(*items));
        if (!items)
                return -ENOMEM;
        l->items = items;
        char *k = strdup(key), *v = strdup(value);
        if (!k || !v) {
                free(k);
                free(v);
                return -ENOMEM;
        }
        items[l->n++] = (CtrdLabel){k, v};
        return 0;
}

void registry_labels_done(RegistryLabels *l)
{
        for (size_t i = 0; i < l->n; i++) {
                free((char *)l->items[i].key);
                free((char *)l->items[i].value);
        }
        free(l->items);
        *l = (RegistryLabels){0};
}

static int labels_children(RegistryLabels *l, const char *prefix, const OciDescriptor *ds, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                char key[96];
                snprintf(key, sizeof(key), "containerd.io/gc.ref.content.%s.%zu", prefix, i);
                int r = registry_labels_add(l, key, ds[i].digest);
                if (r < 0)
                        return r;
        }
        return 0;
}

int registry_labels_blob(const char *source_host, const char *repository, const OciIndex *index,
                         const OciManifest *manifest, RegistryLabels *ret)
{
        *ret = (RegistryLabels){0};
        _cleanup_free_ char *key = NULL;
        if (asprintf(&key, REGISTRY_LABEL_SOURCE_PREFIX "%s", source_host) < 0) {
                key = NULL; /* undefined after a failure */
                return -ENOMEM;
        }
        int r = 0;
        if (index)
                r = labels_children(ret, "m", index->manifests, index->n_manifests);
        if (r >= 0 && manifest)
                r = registry_labels_add(ret, "containerd.io/gc.ref.content.config", manifest->config.digest);
        if (r >= 0 && manifest)
                r = labels_children(ret, "l", manifest->layers, manifest->n_layers);
        if (r >= 0)
                r = registry_labels_add(ret, key, repository);
        if (r < 0)
                registry_labels_done(ret);
        return r;
}

static void text_describe(const char *body, size_t len, char *buf, size_t size)
{
        size_t n = 0;
        while (len > 0 && isspace((unsigned char)*body)) {
                body++;
                len--;
        }
        for (size_t i = 0; i < len && n + 1 < size && body[i] != '\n' && body[i] != '\r'; i++)
                buf[n++] = ((unsigned char)body[i] < 0x20 || body[i] == 0x7f) ? '?' : body[i];
        buf[n] = '\0';
}

char *registry_error_describe(const char *body, size_t len, char *buf, size_t size)
{
        if (size == 0)
                return buf;
        buf[0] = '\0';
        if (!body || len == 0)
                return buf;
        json_t *root = json_loadb(body, len, 0, NULL);
        json_t *errors = json_object_get(root, "errors");
        json_t *first = json_array_get(errors, 0);
        const char *code = json_string_value(json_object_get(first, "code"));
        const char *msg = json_string_value(json_object_get(first, "message"));
        if (code || msg) {
                size_t more = json_array_size(errors) - 1;
                snprintf(buf, size, "%s%s%s", strempty(code), code && msg ? ": " : "", strempty(msg));
                if (more > 0) {
                        size_t n = strlen(buf);
                        snprintf(buf + n, size - n, " (and %zu more)", more);
                }
                for (char *c = buf; *c; c++)
                        if ((unsigned char)*c < 0x20 || *c == 0x7f)
                                *c = '?';
        } else
                text_describe(body, len, buf, size);
        json_decref(root);
        return buf;
}

int registry_http_status_to_errno(long status)
{
        if (status >= 200 && status < 300)
                return 0;
        switch (status) {
        case 400:
                return -EINVAL;
        case 401:
        case 403:
                return -EACCES;
        case 404:
                return -ENOENT;
        case 405:
        case 501:
                return -EOPNOTSUPP;
        case 408:
        case 504:
                return -ETIMEDOUT;
        case 429:
                return -EBUSY;
        case 502:
        case 503:
                return -EAGAIN;
        default:
                return status >= 500 && status < 600 ? -EIO : -EPROTO;
        }
}
