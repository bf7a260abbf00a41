/* Unpacking an image's layers into committed snapshots named by chain id (containerd-api.md §3 b6), one
 * layer after the other:
 *
 *   Stat(chain) ─found─────────────────────────────────────────────────────────┐
 *        └─not found→ Prepare(key, parent) → Diff.Apply → applied == diff_id? → Commit(chain) → label
 *
 * then the config's containerd.io/gc.ref.snapshot.<snapshotter> label. The active snapshot of a layer that
 * fails is removed; a Commit that finds the chain id taken (a concurrent unpack) removes ours and goes on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd-internal.h"

#include "github.com/containerd/containerd/api/services/diff/v1/diff.pb-c.h"

#define APPLY_TIMEOUT_DEF_MS (10 * 60 * 1000)

typedef struct Unpack {
        GrpcConn *conn;
        char *ns, *snapshotter, *lease, *config_digest;
        size_t n;
        CtrdDescriptor *layers; /* owned strings */
        char (*diff_ids)[SHA256_HEX_MAX];
        char (*chain)[SHA256_HEX_MAX];
        ctrd_progress_cb on_progress;
        int64_t apply_timeout_ms;
        ctrd_unpack_cb cb;
        void *userdata;

        size_t i;      /* the layer being unpacked */
        char key[160]; /* its active snapshot, "" when there is none to clean up */
        bool is_changed;
        int result; /* the failure being cleaned up after */
        char message[512];
} Unpack;

static void unpack_free(Unpack *u)
{
        for (size_t i = 0; u->layers && i < u->n; i++) {
                free((char *)u->layers[i].media_type);
                free((char *)u->layers[i].digest);
        }
        free(u->layers);
        free(u->diff_ids);
        free(u->chain);
        free(u->ns);
        free(u->snapshotter);
        free(u->lease);
        free(u->config_digest);
        free(u);
}

static void unpack_finish(Unpack *u, int r, const char *message)
{
        u->cb(r, message, r >= 0 && u->n > 0 ? u->chain[u->n - 1] : NULL, u->userdata);
        unpack_free(u);
}

static void on_removed(int r, const char *message, void *userdata)
{
        Unpack *u = userdata;
        unpack_finish(u, u->result, u->message);
}

/* Fails the unpack ("layer <i> (<chain id>): <what>[: <detail>]"), after removing the current layer's
 * active snapshot if there is one. */
static void unpack_fail(Unpack *u, int r, const char *what, const char *detail)
{
        u->result = r;
        snprintf(u->message, sizeof(u->message), "layer %zu (%s): %s%s%s", u->i, u->chain[u->i], what,
                 detail ? ": " : "", strempty(detail));
        if (!u->key[0] ||
            ctrd_snapshot_remove(u->conn, u->ns, u->snapshotter, u->key, CTRD_MISSING_OK, on_removed, u) < 0)
                unpack_finish(u, u->result, u->message);
}

static void layer_start(Unpack *u);

static void on_config_labelled(int r, const char *message, void *userdata)
{
        Unpack *u = userdata;
        unpack_finish(u, r < 0 ? r : u->is_changed, r < 0 ? message : "");
}

static void unpack_label_config(Unpack *u)
{
        if (!u->config_digest || u->n == 0) {
                unpack_finish(u, u->is_changed, "");
                return;
        }
        char key[128];
        snprintf(key, sizeof(key), "containerd.io/gc.ref.snapshot.%s", u->snapshotter);
        const CtrdLabel label = {key, u->chain[u->n - 1]};
        int r = ctrd_content_update_labels(u->conn, u->ns, u->config_digest, &label, 1, on_config_labelled,
                                           u);
        if (r < 0)
                unpack_finish(u, r, "cannot label the image config");
}

static void on_layer_labelled(int r, const char *message, void *userdata)
{
        Unpack *u = userdata;
        if (r < 0) {
                unpack_fail(u, r, "labelling the layer blob", message);
                return;
        }
        u->i++;
        if (u->on_progress)
                u->on_progress(u->i, u->n, u->userdata);
        layer_start(u);
}

/* The layer blob's containerd.io/uncompressed label: its diff_id. */
static void layer_label(Unpack *u)
{
        u->key[0] = '\0';
        const CtrdLabel label = {"containerd.io/uncompressed", u->diff_ids[u->i]};
        int r = ctrd_content_update_labels(u->conn, u->ns, u->layers[u->i].digest, &label, 1,
                                           on_layer_labelled, u);
        if (r < 0)
                unpack_fail(u, r, "cannot label the layer blob", NULL);
}

static void on_own_key_removed(int r, const char *message, void *userdata)
{
        Unpack *u = userdata;
        if (r < 0)
                unpack_fail(u, r, "removing the extraction snapshot", message);
        else
                layer_label(u);
}

static void on_committed(int r, const char *message, void *userdata)
{
        Unpack *u = userdata;
        if (r < 0) {
                unpack_fail(u, r, "Snapshots.Commit", message);
                return;
        }
        if (r > 0) { /* the active snapshot became the committed one */
                u->is_changed = true;
                layer_label(u);
                return;
        }
        /* Someone committed this chain id meanwhile: ours is surplus. */
        if ((r = ctrd_snapshot_remove(u->conn, u->ns, u->snapshotter, u->key, CTRD_MISSING_OK,
                                      on_own_key_removed, u)) < 0)
                unpack_fail(u, r, "cannot remove the extraction snapshot", NULL);
}

static void on_applied(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        Unpack *u = userdata;
        const Containerd__Services__Diff__V1__ApplyResponse *resp = (const void *)reply;
        if (r < 0) {
                unpack_fail(u, r, "Diff.Apply", message);
                return;
        }
        const char *applied = resp->applied ? resp->applied->digest : "";
        if (!streq_ptr(applied, u->diff_ids[u->i])) {
                char detail[256];
                snprintf(detail, sizeof(detail), "applied digest %s, expected diff_id %s", strempty(applied),
                         u->diff_ids[u->i]);
                unpack_fail(u, -EBADMSG, detail, NULL);
                return;
        }
        r = ctrd_snapshot_commit(u->conn, u->ns, u->snapshotter, u->chain[u->i], u->key, u->lease,
                                 CTRD_EXIST_OK, on_committed, u);
        if (r < 0)
                unpack_fail(u, r, "cannot commit the snapshot", NULL);
}

/* Diff.Apply of the layer onto the prepared mounts. Everything is packed before this returns. */
static int layer_apply(Unpack *u, const CtrdMount *mounts, size_t n)
{
        _cleanup_free_ Containerd__Types__Mount *ms = calloc(n + 1, sizeof(*ms));
        _cleanup_free_ Containerd__Types__Mount **mps = calloc(n + 1, sizeof(*mps));
        if (!ms || !mps)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                containerd__types__mount__init(&ms[i]);
                ms[i].type = (char *)mounts[i].type;
                ms[i].source = (char *)mounts[i].source;
                ms[i].target = (char *)strempty(mounts[i].target);
                ms[i].n_options = mounts[i].n_options;
                ms[i].options = (char **)mounts[i].options;
                mps[i] = &ms[i];
        }
        Containerd__Types__Descriptor desc = CONTAINERD__TYPES__DESCRIPTOR__INIT;
        desc.media_type = (char *)u->layers[u->i].media_type;
        desc.digest = (char *)u->layers[u->i].digest;
        desc.size = u->layers[u->i].size;
        Containerd__Services__Diff__V1__ApplyRequest req =
                CONTAINERD__SERVICES__DIFF__V1__APPLY_REQUEST__INIT;
        req.diff = &desc;
        req.n_mounts = n;
        req.mounts = mps;
        const GrpcCallOptions opts = {.ns = u->ns, .lease = u->lease, .timeout_ms = u->apply_timeout_ms};
        return grpc_unary(u->conn, CTRD_PATH("diff", "Diff", "Apply"), &req.base,
                          &containerd__services__diff__v1__apply_response__descriptor, &opts, on_applied, u);
}

static void on_prepared(int r, const char *message, const CtrdMount *mounts, size_t n, void *userdata)
{
        Unpack *u = userdata;
        if (r < 0) {
                u->key[0] = '\0'; /* nothing was created */
                unpack_fail(u, r, "Snapshots.Prepare", message);
                return;
        }
        if ((r = layer_apply(u, mounts, n)) < 0)
                unpack_fail(u, r, "cannot start Diff.Apply", NULL);
}

static void layer_prepare(Unpack *u)
{
        char id[CTRD_LEASE_ID_MAX];
        /* Unique, as the Go client's "extract-<nanos>-<random> <chain id>". */
        snprintf(u->key, sizeof(u->key), "extract-%s %s", ctrd_lease_id_new(id) + strlen("kukeon-"),
                 u->chain[u->i]);
        const CtrdSnapshotPrepare p = {.snapshotter = u->snapshotter,
                                       .key = u->key,
                                       .parent = u->i > 0 ? u->chain[u->i - 1] : "",
                                       .lease = u->lease};
        int r = ctrd_snapshot_prepare(u->conn, u->ns, &p, 0, on_prepared, u);
        if (r < 0) {
                u->key[0] = '\0';
                unpack_fail(u, r, "cannot start Snapshots.Prepare", NULL);
        }
}

static void on_stat(int r, const char *message, const CtrdSnapshotInfo *info, void *userdata)
{
        Unpack *u = userdata;
        if (r >= 0)
                layer_label(u); /* unpacked already; the label again, in case a crash came before it */
        else if (r == -ENOENT)
                layer_prepare(u);
        else
                unpack_fail(u, r, "Snapshots.Stat", message);
}

static void layer_start(Unpack *u)
{
        if (u->i == u->n) {
                unpack_label_config(u);
                return;
        }
        int r = ctrd_snapshot_stat(u->conn, u->ns, u->snapshotter, u->chain[u->i], on_stat, u);
        if (r < 0)
                unpack_fail(u, r, "cannot start Snapshots.Stat", NULL);
}

static int unpack_copy(Unpack *u, const char *ns, const CtrdUnpack *in)
{
        u->n = in->n_layers;
        u->ns = ns ? strdup(ns) : NULL;
        u->snapshotter = strdup(in->snapshotter ? in->snapshotter : CTRD_SNAPSHOTTER_DEFAULT);
        u->lease = in->lease ? strdup(in->lease) : NULL;
        u->config_digest = in->config_digest ? strdup(in->config_digest) : NULL;
        u->layers = calloc(u->n + 1, sizeof(*u->layers));
        u->diff_ids = calloc(u->n + 1, SHA256_HEX_MAX);
        u->chain = calloc(u->n + 1, SHA256_HEX_MAX);
        if ((ns && !u->ns) || !u->snapshotter || (in->lease && !u->lease) ||
            (in->config_digest && !u->config_digest) || !u->layers || !u->diff_ids || !u->chain)
                return -ENOMEM;
        for (size_t i = 0; i < u->n; i++) {
                const CtrdDescriptor *l = &in->layers[i];
                if (!l->digest || !l->media_type || strlen(in->diff_ids[i]) != SHA256_HEX_MAX - 1)
                        return -EINVAL;
                u->layers[i] = (CtrdDescriptor){strdup(l->media_type), strdup(l->digest), l->size};
                if (!u->layers[i].media_type || !u->layers[i].digest)
                        return -ENOMEM;
                memcpy(u->diff_ids[i], in->diff_ids[i], SHA256_HEX_MAX);
        }
        return ctrd_chain_ids(in->diff_ids, u->n, u->chain);
}

int ctrd_image_unpack(GrpcConn *conn, const char *ns, const CtrdUnpack *in, ctrd_unpack_cb cb,
                      void *userdata)
{
        if (!conn || !in || !cb || (in->n_layers > 0 && (!in->layers || !in->diff_ids)))
                return -EINVAL;
        Unpack *u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        *u = (Unpack){.conn = conn,
                      .on_progress = in->on_progress,
                      .cb = cb,
                      .userdata = userdata,
                      .apply_timeout_ms =
                              in->apply_timeout_ms > 0 ? in->apply_timeout_ms : APPLY_TIMEOUT_DEF_MS};
        int r = unpack_copy(u, ns, in);
        if (u->n == 0)
                r = -EINVAL; /* nothing a container could run on */
        if (r >= 0) /* the first step here, so that a failure to start is returned, not called back */
                r = ctrd_snapshot_stat(conn, u->ns, u->snapshotter, u->chain[0], on_stat, u);
        if (r < 0)
                unpack_free(u);
        return r;
}
