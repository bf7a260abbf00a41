/* Helpers shared by the container, task and snapshot operations (ctrd-containers.c, ctrd-tasks*.c,
 * ctrd-snapshots-container.c, ctrd-runtime.c), and visible to their unit tests. */
#pragma once

#include "drivers/containerd/ctrd-internal.h"

#include "github.com/containerd/containerd/api/types/mount.pb-c.h"

/* The result of a finished call under CtrdFlags: 1 on success, 0 for -EEXIST with CTRD_EXIST_OK and
 * -ENOENT with CTRD_MISSING_OK, else r. */
int ctrd_flags_result(int r, unsigned flags);

/* A unary call whose reply (of type reply_desc) matters only as success or failure: cb gets
 * ctrd_flags_result() of it. Same return values as grpc_unary(). */
int ctrd_unary_done(GrpcConn *conn, const char *ns, const char *path, const ProtobufCMessage *request,
                    const ProtobufCMessageDescriptor *reply_desc, unsigned flags, ctrd_done_cb cb,
                    void *userdata);

/* CtrdMount views of unpacked mounts; the strings stay in mounts. Returns 0 (*ret NULL when n is 0) or
 * -ENOMEM; free the array only. */
int ctrd_mounts_view(Containerd__Types__Mount *const *mounts, size_t n, CtrdMount **ret);

/* Mount messages pointing at the strings of mounts (which must outlive them), for a request. Returns 0
 * (*ret NULL when n is 0) or -ENOMEM; free with ctrd_pb_mounts_free(). */
int ctrd_pb_mounts_new(const CtrdMount *mounts, size_t n, Containerd__Types__Mount ***ret);
void ctrd_pb_mounts_free(Containerd__Types__Mount **mounts, size_t n);

/* strdup() of s, of "" for NULL. */
char *ctrd_strdup_empty(const char *s);
