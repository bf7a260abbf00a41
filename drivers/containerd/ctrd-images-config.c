/* What a container needs of an image, read from containerd: image record → (index →) linux/amd64
 * manifest → config, with Content.Read; the config's "config" object and the top chain id. The same walk
 * unpacks an image by name. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/macro.h"
#include "drivers/containerd/archive.h"
#include "drivers/containerd/ctrd-internal.h"

typedef struct Resolve {
        GrpcConn *conn;
        char *ns, *name;
        char *snapshotter, *lease; /* unpack only */
        bool is_unpack;
        bool owns_lease;
        ctrd_image_config_cb config_cb;
        ctrd_unpack_cb unpack_cb;
        void *userdata;

        OciDescriptor target, manifest_desc;
        OciManifest manifest;
        OciImageConfig config;
        json_t *process;
        char lease_buf[CTRD_LEASE_ID_MAX];
        int result; /* of the unpack, while the own lease is deleted */
        char message[IMAGE_MESSAGE_MAX];
        char chain[SHA256_HEX_MAX];
} Resolve;

static void resolve_free(Resolve *R)
{
        free(R->ns);
        free(R->name);
        free(R->snapshotter);
        free(R->lease);
        oci_descriptor_done(&R->target);
        oci_descriptor_done(&R->manifest_desc);
        oci_manifest_done(&R->manifest);
        oci_config_done(&R->config);
        json_decref(R->process);
        free(R);
}

static void on_unpacked(int r, const char *message, const char *chain_id, void *userdata);

static void resolve_fail(Resolve *R, int r, const char *message)
{
        if (message != R->message)
                snprintf(R->message, sizeof(R->message), "%s", message);
        if (R->is_unpack) { /* deletes the lease of its own first */
                on_unpacked(r, R->message, NULL, R);
                return;
        }
        R->config_cb(r, R->message, NULL, R->userdata);
        resolve_free(R);
}

static CtrdDescriptor view(const OciDescriptor *d)
{
        return (CtrdDescriptor){d->media_type, d->digest, d->size};
}

/* Views of the layers and diff ids. Returns 0 or -ENOMEM; free both arrays. */
static int resolve_layers(Resolve *R, CtrdDescriptor **ret_layers, const char ***ret_ids)
{
        size_t n = R->manifest.n_layers;
        *ret_layers = calloc(n + 1, sizeof(**ret_layers));
        *ret_ids = calloc(n + 1, sizeof(**ret_ids));
        if (!*ret_layers || !*ret_ids)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                (*ret_layers)[i] = view(&R->manifest.layers[i]);
                (*ret_ids)[i] = R->config.diff_ids[i];
        }
        return 0;
}

static void on_unpack_lease_deleted(int r, const char *message, void *userdata)
{
        Resolve *R = userdata;
        R->unpack_cb(R->result, R->message, R->result >= 0 ? R->chain : NULL, R->userdata);
        resolve_free(R);
}

static void on_unpacked(int r, const char *message, const char *chain_id, void *userdata)
{
        Resolve *R = userdata;
        R->result = r;
        if (message != R->message)
                snprintf(R->message, sizeof(R->message), "%s", message);
        if (chain_id)
                snprintf(R->chain, sizeof(R->chain), "%s", chain_id);
        if (!R->owns_lease || ctrd_lease_delete(R->conn, R->ns, R->lease, r < 0, CTRD_MISSING_OK,
                                                on_unpack_lease_deleted, R) < 0)
                on_unpack_lease_deleted(0, "", R);
}

static void resolve_unpack(Resolve *R)
{
        _cleanup_free_ CtrdDescriptor *layers = NULL;
        _cleanup_free_ const char **ids = NULL;
        int r = resolve_layers(R, &layers, &ids);
        if (r >= 0) {
                const CtrdUnpack u = {.snapshotter = R->snapshotter,
                                      .lease = R->lease,
                                      .layers = layers,
                                      .diff_ids = ids,
                                      .n_layers = R->manifest.n_layers,
                                      .config_digest = R->manifest.config.digest};
                r = ctrd_image_unpack(R->conn, R->ns, &u, on_unpacked, R);
        }
        if (r < 0)
                on_unpacked(r, "cannot start the unpack", NULL, R);
}

static void resolve_deliver(Resolve *R)
{
        _cleanup_free_ CtrdDescriptor *layers = NULL;
        _cleanup_free_ const char **ids = NULL;
        int r = resolve_layers(R, &layers, &ids);
        if (r < 0) {
                resolve_fail(R, r, "out of memory");
                return;
        }
        for (size_t i = 0; i < R->manifest.n_layers; i++)
                if ((r = ctrd_chain_id_next(i ? R->chain : NULL, ids[i], R->chain)) < 0) {
                        resolve_fail(R, r, "invalid diff_id in the image config");
                        return;
                }
        CtrdImageConfig c = {.target = view(&R->target),
                             .manifest = view(&R->manifest_desc),
                             .config = view(&R->manifest.config),
                             .process = R->process,
                             .chain_id = R->chain,
                             .layers = layers,
                             .diff_ids = ids,
                             .n_layers = R->manifest.n_layers};
        R->config_cb(0, "", &c, R->userdata);
        resolve_free(R);
}

static void on_config_read(int r, const char *message, const uint8_t *data, size_t len, void *userdata)
{
        Resolve *R = userdata;
        if (r < 0) {
                snprintf(R->message, sizeof(R->message), "reading config %s: %s", R->manifest.config.digest,
                         message);
                resolve_fail(R, r, R->message);
                return;
        }
        if ((r = oci_config_parse((const char *)data, len, R->manifest.config.digest, &R->config,
                                  R->message)) < 0) {
                resolve_fail(R, r, R->message);
                return;
        }
        if (R->config.n_diff_ids != R->manifest.n_layers || R->manifest.n_layers == 0) {
                snprintf(R->message, sizeof(R->message),
                         "manifest %s has %zu layers, its config %zu diff_ids", R->manifest_desc.digest,
                         R->manifest.n_layers, R->config.n_diff_ids);
                resolve_fail(R, -EINVAL, R->message);
                return;
        }
        json_t *root = json_loadb((const char *)data, len, 0, NULL);
        json_t *process = root ? json_object_get(root, "config") : NULL;
        R->process = json_is_object(process) ? json_incref(process) : NULL;
        json_decref(root);
        if (R->is_unpack)
                resolve_unpack(R);
        else
                resolve_deliver(R);
}

static void on_manifest_read(int r, const char *message, const uint8_t *data, size_t len, void *userdata)
{
        Resolve *R = userdata;
        if (r < 0) {
                snprintf(R->message, sizeof(R->message), "reading manifest %s: %s", R->manifest_desc.digest,
                         message);
                resolve_fail(R, r, R->message);
                return;
        }
        r = oci_manifest_parse((const char *)data, len, R->manifest_desc.digest, &R->manifest, R->message);
        if (r >= 0)
                r = ctrd_content_read(R->conn, R->ns, R->manifest.config.digest, IMAGE_JSON_MAX_DEF,
                                      on_config_read, R);
        if (r < 0)
                resolve_fail(R, r, R->message[0] ? R->message : "cannot read the image config");
}

static int descriptor_copy(OciDescriptor *dst, const OciDescriptor *src)
{
        *dst = (OciDescriptor){.size = src->size};
        memcpy(dst->digest, src->digest, SHA256_HEX_MAX);
        dst->media_type = strdup(src->media_type);
        return dst->media_type ? 0 : -ENOMEM;
}

/* The target is an index: its first manifest for linux/amd64 (or without a platform). */
static int resolve_index(Resolve *R, const uint8_t *data, size_t len)
{
        OciIndex idx;
        int r = oci_index_parse((const char *)data, len, R->target.digest, &idx, R->message);
        if (r < 0)
                return r;
        r = -ENOEXEC;
        for (size_t i = 0; r == -ENOEXEC && i < idx.n_manifests; i++) {
                const OciDescriptor *m = &idx.manifests[i];
                if (oci_kind_from_media_type(m->media_type) == OCI_KIND_MANIFEST &&
                    (!m->os || oci_platform_is_host(m->os, m->architecture, m->variant)))
                        r = descriptor_copy(&R->manifest_desc, m);
        }
        oci_index_done(&idx);
        if (r == -ENOEXEC)
                snprintf(R->message, sizeof(R->message), "index %s has no %s/%s manifest", R->target.digest,
                         IMAGE_PLATFORM_OS, IMAGE_PLATFORM_ARCH);
        return r;
}

static void on_target_read(int r, const char *message, const uint8_t *data, size_t len, void *userdata)
{
        Resolve *R = userdata;
        if (r < 0) {
                snprintf(R->message, sizeof(R->message), "reading %s: %s", R->target.digest, message);
                resolve_fail(R, r, R->message);
                return;
        }
        switch (oci_kind_from_media_type(R->target.media_type)) {
        case OCI_KIND_INDEX:
                r = resolve_index(R, data, len);
                break;
        case OCI_KIND_MANIFEST:
                r = descriptor_copy(&R->manifest_desc, &R->target);
                if (r >= 0) { /* no second read: this is the manifest */
                        on_manifest_read(0, "", data, len, R);
                        return;
                }
                break;
        default:
                snprintf(R->message, sizeof(R->message), "image target has unsupported media type %s",
                         R->target.media_type);
                r = -EINVAL;
        }
        if (r >= 0)
                r = ctrd_content_read(R->conn, R->ns, R->manifest_desc.digest, IMAGE_JSON_MAX_DEF,
                                      on_manifest_read, R);
        if (r < 0)
                resolve_fail(R, r, R->message[0] ? R->message : "cannot read the manifest");
}

static void on_image(int r, const char *message, const CtrdImage *image, void *userdata)
{
        Resolve *R = userdata;
        if (r < 0) {
                snprintf(R->message, sizeof(R->message), "image %s: %s", R->name, message);
                resolve_fail(R, r, R->message);
                return;
        }
        OciDescriptor t = {.media_type = (char *)strempty(image->target.media_type),
                           .size = image->target.size};
        if (!oci_digest_is_valid(image->target.digest)) {
                resolve_fail(R, -EINVAL, "the image record's target digest is not sha256");
                return;
        }
        memcpy(t.digest, image->target.digest, SHA256_HEX_MAX);
        r = descriptor_copy(&R->target, &t);
        if (r >= 0)
                r = ctrd_content_read(R->conn, R->ns, R->target.digest, IMAGE_JSON_MAX_DEF, on_target_read,
                                      R);
        if (r < 0)
                resolve_fail(R, r, "cannot read the image's target");
}

static int resolve_new(GrpcConn *conn, const char *ns, const char *name, void *userdata, Resolve **ret)
{
        if (!conn || !name || !*name)
                return -EINVAL;
        Resolve *R = calloc(1, sizeof(*R));
        if (!R)
                return -ENOMEM;
        *R = (Resolve){.conn = conn, .userdata = userdata};
        R->ns = ns ? strdup(ns) : NULL;
        R->name = strdup(name);
        if ((ns && !R->ns) || !R->name) {
                resolve_free(R);
                return -ENOMEM;
        }
        *ret = R;
        return 0;
}

int ctrd_image_config_get(GrpcConn *conn, const char *ns, const char *name, ctrd_image_config_cb cb,
                          void *userdata)
{
        Resolve *R;
        int r = cb ? resolve_new(conn, ns, name, userdata, &R) : -EINVAL;
        if (r < 0)
                return r;
        R->config_cb = cb;
        if ((r = ctrd_image_get(conn, R->ns, R->name, on_image, R)) < 0)
                resolve_free(R);
        return r;
}

static void on_unpack_lease(int r, const char *message, const char *id, void *userdata)
{
        Resolve *R = userdata;
        if (r < 0) {
                snprintf(R->message, sizeof(R->message), "creating a lease: %s", message);
                resolve_fail(R, r, R->message);
                return;
        }
        R->lease = strdup(id);
        R->owns_lease = R->lease != NULL;
        if (!R->lease || (r = ctrd_image_get(R->conn, R->ns, R->name, on_image, R)) < 0)
                on_unpacked(R->lease ? r : -ENOMEM, "cannot read the image record", NULL, R);
}

int ctrd_image_unpack_name(GrpcConn *conn, const char *ns, const char *name, const char *snapshotter,
                           const char *lease, ctrd_unpack_cb cb, void *userdata)
{
        Resolve *R;
        int r = cb ? resolve_new(conn, ns, name, userdata, &R) : -EINVAL;
        if (r < 0)
                return r;
        R->is_unpack = true;
        R->unpack_cb = cb;
        R->snapshotter = snapshotter ? strdup(snapshotter) : NULL;
        R->lease = lease ? strdup(lease) : NULL;
        if ((snapshotter && !R->snapshotter) || (lease && !R->lease))
                r = -ENOMEM;
        else if (lease)
                r = ctrd_image_get(conn, R->ns, R->name, on_image, R);
        else
                r = ctrd_lease_create(conn, R->ns, 0, on_unpack_lease, R);
        if (r < 0)
                resolve_free(R);
        return r;
}
