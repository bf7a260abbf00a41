/* Resolving a reference to checked image documents (see registry-resolve.h). One fetch at a time; each
 * document is collected in memory (at most IMAGE_JSON_MAX_DEF bytes), hashed and compared with what
 * pointed at it. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/macro.h"
#include "drivers/containerd/registry-proto.h"
#include "drivers/containerd/registry-resolve.h"

typedef enum ResolveStep {
        STEP_HEAD,     /* HEAD manifests/<tag> */
        STEP_BY_TAG,   /* GET manifests/<tag>: the digest is the body's */
        STEP_TARGET,   /* GET manifests/<digest> */
        STEP_MANIFEST, /* GET manifests/<index entry digest> */
        STEP_CONFIG,   /* GET blobs/<config digest> */
} ResolveStep;

struct RegistryResolve {
        RegistryClient *client;
        char *repository, *object;
        registry_resolve_cb cb;
        void *userdata;
        RegistryFetch *fetch;
        ResolveStep step;
        char want_digest[SHA256_HEX_MAX]; /* "" when unknown (STEP_BY_TAG) */
        int64_t want_size;                /* -1 when unknown */
        char *url;                        /* of the fetch, for messages */
        char *content_type;
        Buf body;
        RegistryImage image;
};

static void doc_done(RegistryDoc *d)
{
        free(d->media_type);
        free(d->data);
        *d = (RegistryDoc){0};
}

void registry_image_done(RegistryImage *image)
{
        doc_done(&image->target);
        doc_done(&image->manifest);
        doc_done(&image->config);
        oci_index_done(&image->index);
        oci_manifest_done(&image->parsed_manifest);
        oci_config_done(&image->parsed_config);
        *image = (RegistryImage){0};
}

static void resolve_free(RegistryResolve *res)
{
        registry_fetch_cancel(res->fetch);
        registry_image_done(&res->image);
        buf_done(&res->body);
        free(res->content_type);
        free(res->url);
        free(res->repository);
        free(res->object);
        free(res);
}

static void resolve_end(RegistryResolve *res, int r, const char *message)
{
        res->fetch = NULL;
        res->cb(r, message, r >= 0 ? &res->image : NULL, res->userdata);
        resolve_free(res);
}

static _printf_(3, 4) void resolve_fail(RegistryResolve *res, int r, const char *fmt, ...)
{
        char message[REGISTRY_FETCH_MESSAGE_MAX + 256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        resolve_end(res, r, message);
}

/* ---- fetching one document ---- */

static void on_doc_done(int r, const char *message, const RegistryHttpResponse *resp, void *userdata);

static int on_doc_response(const RegistryHttpResponse *resp, void *userdata)
{
        RegistryResolve *res = userdata;
        free(res->content_type);
        res->content_type = resp->content_type ? strdup(resp->content_type) : NULL;
        if (resp->content_type && !res->content_type)
                return -ENOMEM;
        if (resp->content_length > (int64_t)IMAGE_JSON_MAX_DEF)
                return -EFBIG;
        if (res->want_size >= 0 && resp->content_length >= 0 && resp->content_length != res->want_size)
                return -EBADMSG;
        return 0;
}

static int on_doc_data(const void *data, size_t len, void *userdata)
{
        RegistryResolve *res = userdata;
        if (res->body.len + len > IMAGE_JSON_MAX_DEF)
                return -EFBIG;
        return buf_append(&res->body, data, len);
}

/* GET (or HEAD) of path, expecting digest and size when known. */
static int doc_fetch(RegistryResolve *res, ResolveStep step, const char *path, const char *digest,
                     int64_t size)
{
        res->step = step;
        snprintf(res->want_digest, sizeof(res->want_digest), "%s", strempty(digest));
        res->want_size = size;
        buf_done(&res->body);
        free(res->url);
        res->url = registry_client_url(res->client, res->repository, path);
        if (!res->url)
                return -ENOMEM;
        const RegistryFetchOptions o = {.is_head = step == STEP_HEAD,
                                        .repository = res->repository,
                                        .path = path,
                                        .accept = step == STEP_CONFIG ? NULL : REGISTRY_ACCEPT_MANIFESTS,
                                        .on_response = on_doc_response,
                                        .on_data = on_doc_data,
                                        .on_done = on_doc_done,
                                        .userdata = res};
        return registry_fetch_start(res->client, &o, &res->fetch);
}

static void doc_fetch_or_fail(RegistryResolve *res, ResolveStep step, const char *prefix, const char *digest,
                              int64_t size)
{
        char path[32 + SHA256_HEX_MAX];
        snprintf(path, sizeof(path), "%s%s", prefix, digest);
        int r = doc_fetch(res, step, path, digest, size);
        if (r < 0)
                resolve_fail(res, r, "cannot fetch %s: %s", path, strerror(-r));
}

/* The collected body as a checked document (media type still unset). */
static int doc_take(RegistryResolve *res, RegistryDoc *d, const char *what)
{
        char got[SHA256_HEX_MAX];
        int r = sha256_digest_string(res->body.data ? res->body.data : "", res->body.len, got);
        if (r < 0) {
                resolve_fail(res, r, "GET %s: cannot hash the %s", res->url, what);
                return r;
        }
        if (res->want_digest[0] && !streq(got, res->want_digest)) {
                resolve_fail(res, -EBADMSG, "GET %s: digest mismatch: the %s hashes to %s", res->url, what,
                             got);
                return -EBADMSG;
        }
        if (res->want_size >= 0 && (uint64_t)res->want_size != res->body.len) {
                resolve_fail(res, -EBADMSG, "GET %s: size mismatch: the %s has %zu bytes, expected %" PRId64,
                             res->url, what, res->body.len, res->want_size);
                return -EBADMSG;
        }
        *d = (RegistryDoc){.size = res->body.len};
        memcpy(d->digest, got, SHA256_HEX_MAX);
        d->data = buf_steal(&res->body);
        return d->data ? 0 : -ENOMEM;
}

/* ---- the steps ---- */

static int doc_media_type(RegistryResolve *res, RegistryDoc *d)
{
        char msg[REGISTRY_MESSAGE_MAX];
        int r = registry_manifest_media_type(res->content_type, d->data, d->size, &d->media_type, msg);
        if (r < 0)
                resolve_fail(res, r, "GET %s: %s", res->url, r == -ENOMEM ? "out of memory" : msg);
        return r;
}

static void manifest_use(RegistryResolve *res)
{
        RegistryImage *img = &res->image;
        char msg[IMAGE_MESSAGE_MAX];
        if (oci_manifest_parse(img->manifest.data, img->manifest.size, res->url, &img->parsed_manifest,
                               msg) < 0) {
                resolve_fail(res, -EBADMSG, "%s", msg);
                return;
        }
        const OciManifest *m = &img->parsed_manifest;
        for (size_t i = 0; i < m->n_layers; i++)
                if (!registry_layer_is_supported(m->layers[i].media_type)) {
                        resolve_fail(res, -ENOTSUP, "%s: layers[%zu]: media type \"%s\" is not supported",
                                     res->url, i, m->layers[i].media_type);
                        return;
                }
        doc_fetch_or_fail(res, STEP_CONFIG, "blobs/", m->config.digest, m->config.size);
}

static void head_done(RegistryResolve *res, const RegistryHttpResponse *resp)
{
        char path[300];
        if (resp && oci_digest_is_valid(resp->docker_digest)) {
                doc_fetch_or_fail(res, STEP_TARGET, "manifests/", resp->docker_digest,
                                  resp->content_length >= 0 ? resp->content_length : -1);
                return;
        }
        /* No digest in the answer: GET the manifest by tag and hash it. */
        snprintf(path, sizeof(path), "manifests/%s", res->object);
        int r = doc_fetch(res, STEP_BY_TAG, path, NULL, -1);
        if (r < 0)
                resolve_fail(res, r, "cannot fetch %s: %s", path, strerror(-r));
}

static void target_done(RegistryResolve *res)
{
        RegistryImage *img = &res->image;
        if (doc_take(res, &img->target, "manifest") < 0 || doc_media_type(res, &img->target) < 0)
                return;
        if (oci_kind_from_media_type(img->target.media_type) == OCI_KIND_MANIFEST) {
                img->manifest = img->target;
                img->manifest.media_type = strdup(img->target.media_type);
                img->manifest.data = malloc(img->target.size + 1);
                if (img->manifest.data)
                        memcpy(img->manifest.data, img->target.data, img->target.size + 1);
                if (!img->manifest.media_type || !img->manifest.data) {
                        resolve_fail(res, -ENOMEM, "out of memory");
                        return;
                }
                manifest_use(res);
                return;
        }
        char msg[IMAGE_MESSAGE_MAX];
        if (oci_index_parse(img->target.data, img->target.size, res->url, &img->index, msg) < 0) {
                resolve_fail(res, -EBADMSG, "%s", msg);
                return;
        }
        img->has_index = true;
        int r = registry_index_select(&img->index, &img->selected, msg);
        if (r < 0) {
                resolve_fail(res, r, "%s: %s", res->url, msg);
                return;
        }
        const OciDescriptor *d = &img->index.manifests[img->selected];
        doc_fetch_or_fail(res, STEP_MANIFEST, "manifests/", d->digest, d->size);
}

static void manifest_done(RegistryResolve *res)
{
        RegistryImage *img = &res->image;
        if (doc_take(res, &img->manifest, "manifest") < 0 || doc_media_type(res, &img->manifest) < 0)
                return;
        if (oci_kind_from_media_type(img->manifest.media_type) != OCI_KIND_MANIFEST) {
                resolve_fail(res, -EBADMSG, "GET %s: the index entry is a %s, not a manifest", res->url,
                             img->manifest.media_type);
                return;
        }
        manifest_use(res);
}

static void config_done(RegistryResolve *res)
{
        RegistryImage *img = &res->image;
        if (doc_take(res, &img->config, "config") < 0)
                return;
        const OciDescriptor *cd = &img->parsed_manifest.config;
        char msg[IMAGE_MESSAGE_MAX];
        if (!(img->config.media_type = strdup(cd->media_type))) {
                resolve_fail(res, -ENOMEM, "out of memory");
                return;
        }
        if (oci_config_parse(img->config.data, img->config.size, res->url, &img->parsed_config, msg) < 0) {
                resolve_fail(res, -EBADMSG, "%s", msg);
                return;
        }
        const OciImageConfig *c = &img->parsed_config;
        if (c->n_diff_ids != img->parsed_manifest.n_layers) {
                resolve_fail(res, -EBADMSG, "%s: %zu diff_ids for %zu layers", res->url, c->n_diff_ids,
                             img->parsed_manifest.n_layers);
                return;
        }
        if ((c->os || c->architecture) && !oci_platform_is_host(c->os, c->architecture, c->variant)) {
                resolve_fail(res, -ENOEXEC, "%s: the image is for %s/%s, not %s/%s", res->url,
                             strempty(c->os), strempty(c->architecture), IMAGE_PLATFORM_OS,
                             IMAGE_PLATFORM_ARCH);
                return;
        }
        resolve_end(res, 0, "");
}

static void fetch_failed(RegistryResolve *res, int r, const char *message)
{
        if (!message[0]) /* one of our callbacks refused the response */
                resolve_fail(res, r, "GET %s: %s", res->url,
                             r == -EFBIG     ? "larger than the documents we accept"
                             : r == -EBADMSG ? "Content-Length is not the size expected"
                                             : strerror(-r));
        else if (r == -ENOENT && res->step != STEP_CONFIG)
                resolve_fail(res, r, "manifest %s not found: %s", res->object, message);
        else if (r == -ENOENT)
                resolve_fail(res, r, "config blob not found: %s", message);
        else
                resolve_fail(res, r, "%s", message);
}

static void on_doc_done(int r, const char *message, const RegistryHttpResponse *resp, void *userdata)
{
        RegistryResolve *res = userdata;
        res->fetch = NULL;
        /* HEAD refused or failing (but not a 404 or a refused login): GET it, whose error body says more. */
        if (r < 0 && res->step == STEP_HEAD && resp && resp->status >= 400 && resp->status != 404 &&
            r != -EACCES && r != -EPERM) {
                head_done(res, NULL);
                return;
        }
        if (r < 0) {
                fetch_failed(res, r, message);
                return;
        }
        switch (res->step) {
        case STEP_HEAD:
                head_done(res, resp);
                break;
        case STEP_BY_TAG:
        case STEP_TARGET:
                target_done(res);
                break;
        case STEP_MANIFEST:
                manifest_done(res);
                break;
        case STEP_CONFIG:
                config_done(res);
                break;
        }
}

int registry_resolve(RegistryClient *client, const RegistryRef *ref, registry_resolve_cb cb, void *userdata,
                     RegistryResolve **ret)
{
        if (!client || !ref || !ref->repository || !registry_ref_object(ref) || !cb)
                return -EINVAL;
        RegistryResolve *res = calloc(1, sizeof(*res));
        if (!res)
                return -ENOMEM;
        *res = (RegistryResolve){.client = client, .cb = cb, .userdata = userdata};
        res->repository = strdup(ref->repository);
        res->object = strdup(registry_ref_object(ref));
        int r = res->repository && res->object ? 0 : -ENOMEM;
        char path[300];
        snprintf(path, sizeof(path), "manifests/%s", registry_ref_object(ref));
        if (r >= 0)
                r = ref->digest ? doc_fetch(res, STEP_TARGET, path, ref->digest, -1)
                                : doc_fetch(res, STEP_HEAD, path, NULL, -1);
        if (r < 0) {
                resolve_free(res);
                return r;
        }
        if (ret)
                *ret = res;
        return 0;
}

void registry_resolve_cancel(RegistryResolve *res)
{
        if (res)
                resolve_free(res);
}
