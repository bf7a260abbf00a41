/* The snapshot calls a container needs: Prepare its rootfs from the image's chain id, read its Mounts,
 * Remove it. (Image unpacking has its own snapshot code.) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd-tasks-internal.h"

#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define SNAP_PATH(method) CTRD_PATH("snapshots", "Snapshots", method)

static const char *snapshotter_or_default(const char *snapshotter)
{
        return snapshotter && *snapshotter ? snapshotter : CTRD_SNAPSHOTTER_DEFAULT;
}

typedef struct MountsCall {
        GrpcConn *conn;
        char *ns; /* NULL: the connection's default */
        char *snapshotter;
        char *key;
        unsigned flags;
        ctrd_mounts_cb cb;
        void *userdata;
} MountsCall;

static MountsCall *mounts_call_free(MountsCall *m)
{
        if (!m)
                return NULL;
        free(m->ns);
        free(m->snapshotter);
        free(m->key);
        free(m);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(MountsCall *, mounts_call_free);

static int mounts_call_new(GrpcConn *conn, const char *ns, const char *snapshotter, const char *key,
                           unsigned flags, ctrd_mounts_cb cb, void *userdata, MountsCall **ret)
{
        _cleanup_(mounts_call_freep) MountsCall *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        *m = (MountsCall){.conn = conn, .flags = flags, .cb = cb, .userdata = userdata};
        m->snapshotter = strdup(snapshotter_or_default(snapshotter));
        m->key = strdup(key);
        if ((ns && !(m->ns = strdup(ns))) || !m->snapshotter || !m->key)
                return -ENOMEM;
        *ret = TAKE_PTR(m);
        return 0;
}

/* Hands the mounts to the caller with result r (>= 0), or the error; frees m. */
static void mounts_finish(MountsCall *m, int r, const char *message, Containerd__Types__Mount *const *mounts,
                          size_t n)
{
        _cleanup_free_ CtrdMount *view = NULL;
        if (r >= 0 && ctrd_mounts_view(mounts, n, &view) < 0) {
                r = -ENOMEM;
                message = "out of memory";
        }
        m->cb(r, r >= 0 ? "" : message, view, r >= 0 ? n : 0, m->userdata);
        mounts_call_free(m);
}

static void on_mounts_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        MountsCall *m = userdata;
        const Containerd__Services__Snapshots__V1__MountsResponse *resp = (const void *)reply;
        /* 0 both for a plain Mounts and after a Prepare that found the key: nothing was created. */
        mounts_finish(m, r < 0 ? r : 0, message, r >= 0 ? resp->mounts : NULL, r >= 0 ? resp->n_mounts : 0);
}

static int mounts_start(MountsCall *m)
{
        Containerd__Services__Snapshots__V1__MountsRequest req =
                CONTAINERD__SERVICES__SNAPSHOTS__V1__MOUNTS_REQUEST__INIT;
        req.snapshotter = m->snapshotter;
        req.key = m->key;
        const GrpcCallOptions opts = {.ns = m->ns};
        return grpc_unary(m->conn, SNAP_PATH("Mounts"), &req.base,
                          &containerd__services__snapshots__v1__mounts_response__descriptor, &opts,
                          on_mounts_reply, m);
}

int ctrd_snapshot_mounts(GrpcConn *conn, const char *ns, const char *snapshotter, const char *key,
                         ctrd_mounts_cb cb, void *userdata)
{
        if (!conn || !key || !*key || !cb)
                return -EINVAL;
        _cleanup_(mounts_call_freep) MountsCall *m = NULL;
        int r = mounts_call_new(conn, ns, snapshotter, key, 0, cb, userdata, &m);
        if (r < 0)
                return r;
        r = mounts_start(m);
        if (r < 0)
                return r;
        TAKE_PTR(m); /* owned by the call now */
        return 0;
}

static void on_prepare_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        MountsCall *m = userdata;
        const Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *resp = (const void *)reply;
        if (r >= 0)
                mounts_finish(m, 1, message, resp->mounts, resp->n_mounts);
        else if (r != -EEXIST || !(m->flags & CTRD_EXIST_OK))
                mounts_finish(m, r, message, NULL, 0);
        else if ((r = mounts_start(m)) < 0)
                mounts_finish(m, r, "cannot read the mounts of the existing snapshot", NULL, 0);
}

int ctrd_snapshot_prepare(GrpcConn *conn, const char *ns, const CtrdSnapshotPrepare *p, unsigned flags,
                          ctrd_mounts_cb cb, void *userdata)
{
        if (!conn || !p || !p->key || !*p->key || !p->parent || (p->n_labels > 0 && !p->labels) || !cb)
                return -EINVAL;
        _cleanup_(mounts_call_freep) MountsCall *m = NULL;
        int r = mounts_call_new(conn, ns, p->snapshotter, p->key, flags, cb, userdata, &m);
        if (r < 0)
                return r;
        Containerd__Services__Snapshots__V1__PrepareSnapshotRequest req =
                CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
        req.snapshotter = m->snapshotter;
        req.key = m->key;
        req.parent = (char *)p->parent;
        req.n_labels = p->n_labels;
        r = ctrd_pb_labels_new(
                &containerd__services__snapshots__v1__prepare_snapshot_request__labels_entry__descriptor,
                p->labels, p->n_labels, (CtrdPbLabel ***)&req.labels);
        if (r < 0)
                return r;
        const GrpcCallOptions opts = {.ns = ns, .lease = p->lease};
        r = grpc_unary(conn, SNAP_PATH("Prepare"), &req.base,
                       &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor, &opts,
                       on_prepare_reply, m);
        ctrd_pb_labels_free((CtrdPbLabel **)req.labels, req.n_labels);
        if (r < 0)
                return r;
        TAKE_PTR(m);
        return 0;
}

int ctrd_snapshot_remove(GrpcConn *conn, const char *ns, const char *snapshotter, const char *key,
                         unsigned flags, ctrd_done_cb cb, void *userdata)
{
        if (!conn || !key || !*key || !cb)
                return -EINVAL;
        Containerd__Services__Snapshots__V1__RemoveSnapshotRequest req =
                CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;
        req.snapshotter = (char *)snapshotter_or_default(snapshotter);
        req.key = (char *)key;
        return ctrd_unary_done(conn, ns, SNAP_PATH("Remove"), &req.base,
                               &google__protobuf__empty__descriptor, flags, cb, userdata);
}
