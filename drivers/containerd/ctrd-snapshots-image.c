/* Snapshots of images: Stat and Commit (Prepare, Mounts and Remove are in ctrd-snapshots-container.c). */
#include <errno.h>
#include <stdlib.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd-internal.h"

#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define SNAPSHOTS_PATH(method) CTRD_PATH("snapshots", "Snapshots", method)

static const char *snapshotter_or_default(const char *s)
{
        return s ? s : CTRD_SNAPSHOTTER_DEFAULT;
}

/* ---- stat ---- */

typedef struct StatCall {
        ctrd_snapshot_info_cb cb;
        void *userdata;
} StatCall;

static void on_stat_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        StatCall *c = userdata;
        const Containerd__Services__Snapshots__V1__StatSnapshotResponse *resp = (const void *)reply;
        const Containerd__Services__Snapshots__V1__Info *in = r >= 0 ? resp->info : NULL;
        _cleanup_free_ CtrdLabel *labels = NULL;
        if (r >= 0 && !in) {
                r = -EPROTO;
                message = "Snapshots.Stat answered without info";
        }
        if (r >= 0 && ctrd_labels_view((CtrdPbLabel *const *)in->labels, in->n_labels, &labels) < 0) {
                r = -ENOMEM;
                message = "out of memory";
        }
        if (r < 0)
                c->cb(r, message, NULL, c->userdata);
        else {
                CtrdSnapshotInfo info = {in->name, strempty(in->parent),
                                         in->kind <= CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__COMMITTED
                                                 ? (CtrdSnapshotKind)in->kind
                                                 : CTRD_SNAPSHOT_UNKNOWN,
                                         labels, in->n_labels};
                c->cb(0, message, &info, c->userdata);
        }
        free(c);
}

int ctrd_snapshot_stat(GrpcConn *conn, const char *ns, const char *snapshotter, const char *key,
                       ctrd_snapshot_info_cb cb, void *userdata)
{
        if (!conn || !key || !*key || !cb)
                return -EINVAL;
        StatCall *c = malloc(sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (StatCall){cb, userdata};
        Containerd__Services__Snapshots__V1__StatSnapshotRequest req =
                CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
        req.snapshotter = (char *)snapshotter_or_default(snapshotter);
        req.key = (char *)key;
        const GrpcCallOptions opts = {.ns = ns};
        int r = grpc_unary(conn, SNAPSHOTS_PATH("Stat"), &req.base,
                           &containerd__services__snapshots__v1__stat_snapshot_response__descriptor, &opts,
                           on_stat_reply, c);
        if (r < 0)
                free(c);
        return r;
}

/* ---- commit ---- */

typedef struct CommitCall {
        unsigned flags;
        ctrd_done_cb cb;
        void *userdata;
} CommitCall;

static void on_commit_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        CommitCall *c = userdata;
        if (r == -EEXIST && (c->flags & CTRD_EXIST_OK))
                c->cb(0, "", c->userdata);
        else
                c->cb(r < 0 ? r : 1, message, c->userdata);
        free(c);
}

int ctrd_snapshot_commit(GrpcConn *conn, const char *ns, const char *snapshotter, const char *name,
                         const char *key, const char *lease, unsigned flags, ctrd_done_cb cb, void *userdata)
{
        if (!conn || !name || !*name || !key || !*key || !cb)
                return -EINVAL;
        CommitCall *c = malloc(sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (CommitCall){flags, cb, userdata};
        Containerd__Services__Snapshots__V1__CommitSnapshotRequest req =
                CONTAINERD__SERVICES__SNAPSHOTS__V1__COMMIT_SNAPSHOT_REQUEST__INIT;
        req.snapshotter = (char *)snapshotter_or_default(snapshotter);
        req.name = (char *)name;
        req.key = (char *)key;
        const GrpcCallOptions opts = {.ns = ns, .lease = lease};
        int r = grpc_unary(conn, SNAPSHOTS_PATH("Commit"), &req.base, &google__protobuf__empty__descriptor,
                           &opts, on_commit_reply, c);
        if (r < 0)
                free(c);
        return r;
}
