/* Pulling an image (see pull.h):
 *
 *   registry_resolve() → Leases.Create → each layer, the config, the manifest, the index:
 *   registry_blob_write() (children first, GC labels) → ctrd_image_unpack() → ctrd_image_ensure() →
 *   Leases.Delete
 *
 * Stopping from outside (cancel, the deadline) ends the step under way when it has a handle (the resolve,
 * a blob write); a containerd call without one finishes and the next step sees is_stopped. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/pull.h"
#include "drivers/containerd/registry-blob.h"
#include "drivers/containerd/registry-proto.h"
#include "drivers/containerd/registry-resolve.h"

#define PULL_TIMEOUT_MS_DEF (30 * 60 * 1000)

struct CtrdPull {
        GrpcConn *conn;
        uv_loop_t *loop;
        char *ns, *snapshotter, *source_host;
        RegistryRef ref;
        RegistryClient *client;
        ctrd_progress_cb on_progress;
        int64_t timeout_ms;
        ctrd_pull_cb cb;
        void *userdata;
        uv_timer_t timer; /* the deadline */

        RegistryResolve *resolve;
        RegistryImage image;
        char lease[CTRD_LEASE_ID_MAX];
        bool has_lease;
        size_t step; /* the blob being written: layers, then config, manifest, index */
        RegistryBlobWrite *blob;
        RegistryLabels labels; /* of that blob */
        uint64_t blob_size;
        uint64_t done, total; /* bytes */
        char chain_id[SHA256_HEX_MAX];
        bool is_changed;
        bool is_ending; /* the lease is being deleted, or cb is due */
        int stop_error; /* -ECANCELED or -ETIMEDOUT once stopped from outside */
        int result;
        char message[1024];
};

static void pull_free(CtrdPull *p)
{
        registry_resolve_cancel(p->resolve);
        registry_client_free(p->client);
        registry_image_done(&p->image);
        registry_labels_done(&p->labels);
        registry_ref_done(&p->ref);
        free(p->ns);
        free(p->snapshotter);
        free(p->source_host);
        free(p);
}

static void on_timer_closed(uv_handle_t *handle)
{
        pull_free(handle->data);
}

static void pull_report(CtrdPull *p)
{
        const RegistryImage *img = &p->image;
        const CtrdPulledImage out = {
                .name = p->ref.name,
                .target = {img->target.media_type, img->target.digest, (int64_t)img->target.size},
                .manifest = {img->manifest.media_type, img->manifest.digest, (int64_t)img->manifest.size},
                .chain_id = p->chain_id,
        };
        uv_timer_stop(&p->timer);
        p->cb(p->result, p->result < 0 ? p->message : "", p->result >= 0 ? &out : NULL, p->userdata);
        /* The client's handles close on their own; the timer's close frees the pull. */
        registry_client_free(p->client);
        p->client = NULL;
        uv_close((uv_handle_t *)&p->timer, on_timer_closed);
}

static void on_lease_deleted(int r, const char *message, void *userdata)
{
        CtrdPull *p = userdata;
        if (p->result >= 0 && r < 0) {
                p->result = r;
                snprintf(p->message, sizeof(p->message), "pulling %s: deleting the pull's lease: %s",
                         p->ref.name, message);
        }
        pull_report(p);
}

/* Ends the pull with p->result: the lease goes (with sync on failure, so that containerd collects what it
 * held at once), then cb. */
static void pull_end(CtrdPull *p)
{
        p->is_ending = true;
        if (!p->has_lease || ctrd_lease_delete(p->conn, p->ns, p->lease, p->result < 0, CTRD_MISSING_OK,
                                               on_lease_deleted, p) < 0)
                pull_report(p);
}

static _printf_(3, 4) void pull_fail(CtrdPull *p, int r, const char *fmt, ...)
{
        int n = snprintf(p->message, sizeof(p->message), "pulling %s: ", p->ref.name);
        va_list ap;
        va_start(ap, fmt);
        if (n > 0 && (size_t)n < sizeof(p->message))
                vsnprintf(p->message + n, sizeof(p->message) - (size_t)n, fmt, ap);
        va_end(ap);
        p->result = r;
        pull_end(p);
}

/* Whether the pull was stopped from outside: then it fails now. */
static bool pull_check_stopped(CtrdPull *p)
{
        if (p->stop_error >= 0)
                return false;
        if (p->stop_error == -ETIMEDOUT)
                pull_fail(p, -ETIMEDOUT, "timed out after %lld ms", (long long)p->timeout_ms);
        else
                pull_fail(p, p->stop_error, "cancelled");
        return true;
}

static void progress(CtrdPull *p, uint64_t done)
{
        if (p->on_progress)
                p->on_progress(done, p->total, p->userdata);
}

/* ---- the image record, unpack ---- */

static void on_image_ensured(int r, const char *message, void *userdata)
{
        CtrdPull *p = userdata;
        if (r < 0) {
                pull_fail(p, r, "creating the image record: %s", message);
                return;
        }
        p->is_changed |= r > 0;
        p->result = p->is_changed;
        pull_end(p);
}

static void on_unpacked(int r, const char *message, const char *chain_id, void *userdata)
{
        CtrdPull *p = userdata;
        if (r < 0) {
                pull_fail(p, r, "unpacking manifest %s: %s", p->image.manifest.digest, message);
                return;
        }
        if (pull_check_stopped(p))
                return;
        p->is_changed |= r > 0;
        snprintf(p->chain_id, sizeof(p->chain_id), "%s", chain_id);
        const RegistryDoc *t = &p->image.target;
        const CtrdDescriptor target = {t->media_type, t->digest, (int64_t)t->size};
        r = ctrd_image_ensure(p->conn, p->ns, p->ref.name, &target, NULL, 0, on_image_ensured, p);
        if (r < 0)
                pull_fail(p, r, "cannot create the image record: %s", strerror(-r));
}

static void unpack_start(CtrdPull *p)
{
        const OciManifest *m = &p->image.parsed_manifest;
        const OciImageConfig *c = &p->image.parsed_config;
        _cleanup_free_ CtrdDescriptor *layers = calloc(m->n_layers + 1, sizeof(*layers));
        _cleanup_free_ const char **ids = calloc(m->n_layers + 1, sizeof(*ids));
        if (!layers || !ids) {
                pull_fail(p, -ENOMEM, "out of memory");
                return;
        }
        for (size_t i = 0; i < m->n_layers; i++) {
                layers[i] =
                        (CtrdDescriptor){m->layers[i].media_type, m->layers[i].digest, m->layers[i].size};
                ids[i] = c->diff_ids[i];
        }
        const CtrdUnpack u = {.snapshotter = p->snapshotter,
                              .lease = p->lease,
                              .layers = layers,
                              .diff_ids = ids,
                              .n_layers = m->n_layers,
                              .config_digest = m->config.digest};
        int r = ctrd_image_unpack(p->conn, p->ns, &u, on_unpacked, p);
        if (r < 0)
                pull_fail(p, r, "cannot start the unpack: %s", strerror(-r));
}

/* ---- blobs ---- */

static void blobs_next(CtrdPull *p);

static void on_blob_progress(uint64_t done, uint64_t total, void *userdata)
{
        CtrdPull *p = userdata;
        progress(p, p->done + done);
}

static void on_blob_written(int r, const char *message, void *userdata)
{
        CtrdPull *p = userdata;
        p->blob = NULL;
        registry_labels_done(&p->labels);
        if (r == -ECANCELED && p->stop_error < 0) {
                pull_check_stopped(p);
                return;
        }
        if (r < 0) {
                pull_fail(p, r, "%s", message);
                return;
        }
        p->is_changed |= r > 0;
        p->done += p->blob_size;
        progress(p, p->done);
        p->step++;
        blobs_next(p);
}

/* The blob of step: its descriptor, kind, bytes (NULL: from the registry) and GC labels. */
static int blob_describe(CtrdPull *p, CtrdDescriptor *ret, const char **ret_kind, const void **ret_data)
{
        RegistryImage *img = &p->image;
        const OciManifest *m = &img->parsed_manifest;
        const RegistryDoc *doc = NULL;
        const OciIndex *index = NULL;
        const OciManifest *manifest = NULL;
        *ret_data = NULL;
        if (p->step < m->n_layers) {
                const OciDescriptor *l = &m->layers[p->step];
                *ret = (CtrdDescriptor){l->media_type, l->digest, l->size};
                *ret_kind = "layer";
        } else if (p->step == m->n_layers) {
                doc = &img->config;
                *ret_kind = "config";
        } else if (p->step == m->n_layers + 1) {
                doc = &img->manifest;
                manifest = m;
                *ret_kind = "manifest";
        } else {
                doc = &img->target;
                index = &img->index;
                *ret_kind = "index";
        }
        if (doc) {
                *ret = (CtrdDescriptor){doc->media_type, doc->digest, (int64_t)doc->size};
                *ret_data = doc->data;
        }
        return registry_labels_blob(p->source_host, p->ref.repository, index, manifest, &p->labels);
}

static void blobs_next(CtrdPull *p)
{
        if (pull_check_stopped(p))
                return;
        size_t n_blobs = p->image.parsed_manifest.n_layers + (p->image.has_index ? 3 : 2);
        if (p->step == n_blobs) {
                unpack_start(p);
                return;
        }
        CtrdDescriptor d;
        const char *kind;
        const void *data;
        int r = blob_describe(p, &d, &kind, &data);
        if (r < 0) {
                pull_fail(p, r, "out of memory");
                return;
        }
        const RegistryBlobWriteOptions o = {.conn = p->conn,
                                            .loop = p->loop,
                                            .client = p->client,
                                            .ns = p->ns,
                                            .lease = p->lease,
                                            .repository = p->ref.repository,
                                            .kind = kind,
                                            .desc = d,
                                            .labels = p->labels.items,
                                            .n_labels = p->labels.n,
                                            .data = data,
                                            .on_progress = on_blob_progress};
        p->blob_size = (uint64_t)d.size;
        r = registry_blob_write(&o, on_blob_written, p, &p->blob);
        if (r < 0)
                pull_fail(p, r, "cannot start writing %s %s: %s", kind, d.digest, strerror(-r));
}

/* ---- the lease, the resolve ---- */

static void on_lease(int r, const char *message, const char *id, void *userdata)
{
        CtrdPull *p = userdata;
        if (r < 0) {
                pull_fail(p, r, "creating the pull's lease: %s", message);
                return;
        }
        snprintf(p->lease, sizeof(p->lease), "%s", id);
        p->has_lease = true;
        p->step = 0;
        blobs_next(p);
}

static void on_resolved(int r, const char *message, RegistryImage *image, void *userdata)
{
        CtrdPull *p = userdata;
        p->resolve = NULL;
        if (r < 0) {
                pull_fail(p, r, "%s", message);
                return;
        }
        p->image = *image;
        *image = (RegistryImage){0};
        const OciManifest *m = &p->image.parsed_manifest;
        for (size_t i = 0; i < m->n_layers; i++)
                p->total += (uint64_t)m->layers[i].size;
        p->total += p->image.config.size + p->image.manifest.size +
                    (p->image.has_index ? p->image.target.size : 0);
        progress(p, 0);
        r = ctrd_lease_create(p->conn, p->ns, 0, on_lease, p);
        if (r < 0)
                pull_fail(p, r, "cannot create the pull's lease: %s", strerror(-r));
}

/* ---- the operation ---- */

static void pull_stop(CtrdPull *p, int error)
{
        if (p->is_ending || p->stop_error < 0)
                return;
        p->stop_error = error;
        if (p->resolve) {
                registry_resolve_cancel(p->resolve);
                p->resolve = NULL;
                pull_check_stopped(p);
        } else if (p->blob)
                registry_blob_write_cancel(p->blob); /* on_blob_written() ends the pull */
        /* else a containerd call is under way: the step after it sees stop_error */
}

static void on_deadline(uv_timer_t *timer)
{
        pull_stop(timer->data, -ETIMEDOUT);
}

void ctrd_image_pull_cancel(CtrdPull *p)
{
        if (p)
                pull_stop(p, -ECANCELED);
}

const PullCredentials *pull_credentials_select(const PullCredentials *list, size_t n, const char *ref)
{
        RegistryRef r;
        if (!list || registry_ref_parse(ref, &r) < 0)
                return NULL;
        const PullCredentials *found = NULL;
        for (size_t i = 0; i < n && !found; i++)
                if (registry_server_matches(list[i].server, &r))
                        found = &list[i];
        registry_ref_done(&r);
        return found;
}

static int pull_client_new(CtrdPull *p, const PullCredentials *creds, const PullOptions *o)
{
        bool use = creds && creds->username &&
                   (!creds->server || !*creds->server || registry_server_matches(creds->server, &p->ref));
        const RegistryClientOptions co = {.host = p->ref.host,
                                          .plain_http = o && o->plain_http,
                                          .username = use ? creds->username : NULL,
                                          .password = use ? creds->password : NULL,
                                          .request_timeout_ms = o ? o->request_timeout_ms : 0};
        return registry_client_new(p->loop, &co, &p->client);
}

static int pull_new(GrpcConn *conn, uv_loop_t *loop, const char *ns, const char *ref, const PullOptions *o,
                    CtrdPull **ret)
{
        CtrdPull *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        *p = (CtrdPull){.conn = conn,
                        .loop = loop,
                        .on_progress = o ? o->on_progress : NULL,
                        .timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : PULL_TIMEOUT_MS_DEF};
        int r = registry_ref_parse(ref, &p->ref);
        if (r >= 0 && ((ns && !(p->ns = strdup(ns))) ||
                       (o && o->snapshotter && !(p->snapshotter = strdup(o->snapshotter))) ||
                       !(p->source_host = registry_ref_source_host(&p->ref))))
                r = -ENOMEM;
        if (r < 0) {
                pull_free(p);
                return r;
        }
        *ret = p;
        return 0;
}

int ctrd_image_pull(GrpcConn *conn, uv_loop_t *loop, const char *ns, const char *ref,
                    const PullCredentials *creds, const PullOptions *opts, ctrd_pull_cb cb, void *userdata,
                    CtrdPull **ret)
{
        if (!conn || !loop || !ref || !cb)
                return -EINVAL;
        CtrdPull *p;
        int r = pull_new(conn, loop, ns, ref, opts, &p);
        if (r < 0)
                return r;
        p->cb = cb;
        p->userdata = userdata;
        r = pull_client_new(p, creds, opts);
        if (r >= 0)
                r = registry_resolve(p->client, &p->ref, on_resolved, p, &p->resolve);
        if (r < 0) {
                pull_free(p);
                return r;
        }
        uv_timer_init(loop, &p->timer);
        p->timer.data = p;
        uv_timer_start(&p->timer, on_deadline, (uint64_t)p->timeout_ms, 0);
        if (ret)
                *ret = p;
        return 0;
}
