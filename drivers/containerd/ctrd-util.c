/* Helpers shared by the typed containerd operations. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "drivers/containerd/ctrd-internal.h"

int ctrd_pb_labels_new(const ProtobufCMessageDescriptor *entry_desc, const CtrdLabel *labels, size_t n,
                       CtrdPbLabel ***ret)
{
        assert(entry_desc->sizeof_message == sizeof(CtrdPbLabel));
        *ret = NULL;
        if (n == 0)
                return 0;
        CtrdPbLabel **entries = calloc(n, sizeof(*entries));
        if (!entries)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                entries[i] = malloc(sizeof(CtrdPbLabel));
                if (!entries[i]) {
                        ctrd_pb_labels_free(entries, i);
                        return -ENOMEM;
                }
                protobuf_c_message_init(entry_desc, entries[i]);
                /* protobuf-c wants char *; these are only read by pack(). */
                entries[i]->key = (char *)labels[i].key;
                entries[i]->value = (char *)labels[i].value;
        }
        *ret = entries;
        return 0;
}

void ctrd_pb_labels_free(CtrdPbLabel **entries, size_t n)
{
        if (!entries)
                return;
        for (size_t i = 0; i < n; i++)
                free(entries[i]);
        free(entries);
}

int ctrd_labels_view(CtrdPbLabel *const *entries, size_t n, CtrdLabel **ret)
{
        *ret = NULL;
        if (n == 0)
                return 0;
        CtrdLabel *labels = calloc(n, sizeof(*labels));
        if (!labels)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                labels[i] = (CtrdLabel){entries[i]->key, entries[i]->value};
        *ret = labels;
        return 0;
}

int64_t ctrd_timestamp_ns(const Google__Protobuf__Timestamp *ts)
{
        /* containerd sends Go's zero time (year 1) for "unset": that and anything before the epoch is 0 */
        if (!ts || ts->seconds < 0 || (ts->seconds == 0 && ts->nanos <= 0))
                return 0;
        if (ts->seconds > (INT64_MAX - 999999999) / 1000000000)
                return INT64_MAX;
        return ts->seconds * INT64_C(1000000000) + ts->nanos;
}

int ctrd_flags_result(int r, unsigned flags)
{
        if (r >= 0)
                return 1;
        if ((r == -EEXIST && (flags & CTRD_EXIST_OK)) || (r == -ENOENT && (flags & CTRD_MISSING_OK)))
                return 0;
        return r;
}

typedef struct DoneCall {
        unsigned flags;
        ctrd_done_cb cb;
        void *userdata;
} DoneCall;

static void on_done_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        DoneCall *d = userdata;
        r = ctrd_flags_result(r, d->flags);
        d->cb(r, r >= 0 ? "" : message, d->userdata);
        free(d);
}

int ctrd_unary_done_opts(GrpcConn *conn, const char *path, const ProtobufCMessage *request,
                         const ProtobufCMessageDescriptor *reply_desc, const GrpcCallOptions *opts,
                         unsigned flags, ctrd_done_cb cb, void *userdata)
{
        DoneCall *d = malloc(sizeof(*d));
        if (!d)
                return -ENOMEM;
        *d = (DoneCall){flags, cb, userdata};
        int r = grpc_unary(conn, path, request, reply_desc, opts, on_done_reply, d);
        if (r < 0)
                free(d);
        return r;
}

int ctrd_unary_done(GrpcConn *conn, const char *ns, const char *path, const ProtobufCMessage *request,
                    const ProtobufCMessageDescriptor *reply_desc, unsigned flags, ctrd_done_cb cb,
                    void *userdata)
{
        const GrpcCallOptions opts = {.ns = ns};
        return ctrd_unary_done_opts(conn, path, request, reply_desc, &opts, flags, cb, userdata);
}
