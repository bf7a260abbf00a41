/* Content: Info, Update of labels, Read of a whole blob, Abort of an ingest, ListStatuses. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/macro.h"
#include "drivers/containerd/ctrd-internal.h"

#include "github.com/containerd/containerd/api/services/content/v1/content.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define CONTENT_PATH(method) CTRD_PATH("content", "Content", method)

/* The state of a call whose callback takes only (r, message). */
/* ---- info ---- */

typedef struct InfoCall {
        ctrd_content_info_cb cb;
        void *userdata;
} InfoCall;

static void on_info_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        InfoCall *c = userdata;
        const Containerd__Services__Content__V1__InfoResponse *resp = (const void *)reply;
        const Containerd__Services__Content__V1__Info *in = r >= 0 ? resp->info : NULL;
        _cleanup_free_ CtrdLabel *labels = NULL;
        if (r >= 0 && !in) {
                r = -EPROTO;
                message = "Content.Info answered without info";
        }
        if (r >= 0 && ctrd_labels_view((CtrdPbLabel *const *)in->labels, in->n_labels, &labels) < 0) {
                r = -ENOMEM;
                message = "out of memory";
        }
        if (r < 0)
                c->cb(r, message, NULL, c->userdata);
        else {
                CtrdContentInfo info = {in->digest,
                                        in->size,
                                        ctrd_timestamp_ns(in->created_at),
                                        ctrd_timestamp_ns(in->updated_at),
                                        labels,
                                        in->n_labels};
                c->cb(0, message, &info, c->userdata);
        }
        free(c);
}

int ctrd_content_info(GrpcConn *conn, const char *ns, const char *digest, ctrd_content_info_cb cb,
                      void *userdata)
{
        if (!conn || !digest || !cb)
                return -EINVAL;
        InfoCall *c = malloc(sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (InfoCall){cb, userdata};
        Containerd__Services__Content__V1__InfoRequest req =
                CONTAINERD__SERVICES__CONTENT__V1__INFO_REQUEST__INIT;
        req.digest = (char *)digest;
        const GrpcCallOptions opts = {.ns = ns};
        int r = grpc_unary(conn, CONTENT_PATH("Info"), &req.base,
                           &containerd__services__content__v1__info_response__descriptor, &opts,
                           on_info_reply, c);
        if (r < 0)
                free(c);
        return r;
}

/* ---- update labels ---- */

/* The labels with a value (those without are only named in the mask: removed). */
static int update_request_labels(const CtrdLabel *labels, size_t n, CtrdLabel **ret, size_t *ret_n)
{
        *ret = calloc(n + 1, sizeof(CtrdLabel));
        *ret_n = 0;
        if (!*ret)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (labels[i].value && *labels[i].value)
                        (*ret)[(*ret_n)++] = labels[i];
        return 0;
}

int ctrd_content_update_labels(GrpcConn *conn, const char *ns, const char *digest, const CtrdLabel *labels,
                               size_t n_labels, ctrd_done_cb cb, void *userdata)
{
        if (!conn || !digest || !cb || n_labels == 0 || !labels)
                return -EINVAL;
        _cleanup_free_ CtrdLabel *set = NULL;
        _cleanup_free_ char **paths = calloc(n_labels, sizeof(char *));
        size_t n_set, n_paths = 0;
        int r = paths ? update_request_labels(labels, n_labels, &set, &n_set) : -ENOMEM;
        for (; r >= 0 && n_paths < n_labels; n_paths++)
                if (asprintf(&paths[n_paths], "labels.%s", labels[n_paths].key) < 0) {
                        paths[n_paths] = NULL;
                        r = -ENOMEM;
                }
        Containerd__Services__Content__V1__Info info = CONTAINERD__SERVICES__CONTENT__V1__INFO__INIT;
        info.digest = (char *)digest;
        if (r >= 0) {
                info.n_labels = n_set;
                r = ctrd_pb_labels_new(&containerd__services__content__v1__info__labels_entry__descriptor,
                                       set, n_set, (CtrdPbLabel ***)&info.labels);
        }
        if (r >= 0) {
                Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
                mask.n_paths = n_labels;
                mask.paths = paths;
                Containerd__Services__Content__V1__UpdateRequest req =
                        CONTAINERD__SERVICES__CONTENT__V1__UPDATE_REQUEST__INIT;
                req.info = &info;
                req.update_mask = &mask;
                r = ctrd_unary_done(conn, ns, CONTENT_PATH("Update"), &req.base,
                                    &containerd__services__content__v1__update_response__descriptor, 0, cb,
                                    userdata);
        }
        for (size_t i = 0; paths && i < n_paths; i++)
                free(paths[i]);
        ctrd_pb_labels_free((CtrdPbLabel **)info.labels, info.n_labels);
        return r;
}

/* ---- read ---- */

typedef struct ReadCall {
        Buf data;
        size_t max;
        ctrd_content_data_cb cb;
        void *userdata;
} ReadCall;

static int on_read_message(GrpcCall *call, const uint8_t *data, size_t len, void *userdata)
{
        ReadCall *c = userdata;
        Containerd__Services__Content__V1__ReadContentResponse *resp =
                containerd__services__content__v1__read_content_response__unpack(NULL, len, data);
        if (!resp)
                return -EBADMSG;
        int r = 0;
        if (resp->offset != (int64_t)c->data.len)
                r = -EPROTO;
        else if (c->data.len + resp->data.len > c->max)
                r = -EFBIG;
        else
                r = buf_append(&c->data, resp->data.data, resp->data.len);
        containerd__services__content__v1__read_content_response__free_unpacked(resp, NULL);
        return r;
}

static void on_read_done(GrpcCall *call, int r, const char *message, void *userdata)
{
        ReadCall *c = userdata;
        if (r == -EFBIG)
                message = "the blob is larger than allowed";
        c->cb(r, message, r >= 0 ? (const uint8_t *)strempty(c->data.data) : NULL, r >= 0 ? c->data.len : 0,
              c->userdata);
        buf_done(&c->data);
        free(c);
}

int ctrd_content_read(GrpcConn *conn, const char *ns, const char *digest, size_t max,
                      ctrd_content_data_cb cb, void *userdata)
{
        if (!conn || !digest || !cb)
                return -EINVAL;
        ReadCall *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (ReadCall){.data = BUF_INIT, .max = max, .cb = cb, .userdata = userdata};
        Containerd__Services__Content__V1__ReadContentRequest req =
                CONTAINERD__SERVICES__CONTENT__V1__READ_CONTENT_REQUEST__INIT;
        req.digest = (char *)digest;
        const GrpcCallOptions opts = {.ns = ns};
        int r = grpc_call_start(conn, CONTENT_PATH("Read"), &req.base, &opts, on_read_message, on_read_done,
                                c, NULL);
        if (r < 0)
                free(c);
        return r;
}

/* ---- abort ---- */

int ctrd_content_abort(GrpcConn *conn, const char *ns, const char *ref, unsigned flags, ctrd_done_cb cb,
                       void *userdata)
{
        if (!conn || !ref || !*ref || !cb)
                return -EINVAL;
        Containerd__Services__Content__V1__AbortRequest req =
                CONTAINERD__SERVICES__CONTENT__V1__ABORT_REQUEST__INIT;
        req.ref = (char *)ref;
        return ctrd_unary_done(conn, ns, CONTENT_PATH("Abort"), &req.base,
                               &google__protobuf__empty__descriptor, flags, cb, userdata);
}

/* ---- list statuses ---- */

typedef struct StatusesCall {
        ctrd_content_statuses_cb cb;
        void *userdata;
} StatusesCall;

static void on_statuses_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        StatusesCall *c = userdata;
        const Containerd__Services__Content__V1__ListStatusesResponse *resp = (const void *)reply;
        size_t n = r >= 0 ? resp->n_statuses : 0;
        _cleanup_free_ CtrdContentStatus *st = calloc(n + 1, sizeof(*st));
        if (!st) {
                r = -ENOMEM;
                message = "out of memory";
                n = 0;
        }
        for (size_t i = 0; i < n; i++) {
                const Containerd__Services__Content__V1__Status *s = resp->statuses[i];
                st[i] = (CtrdContentStatus){s->ref, s->offset, s->total, s->expected};
        }
        c->cb(r, message, st, n, c->userdata);
        free(c);
}

int ctrd_content_list_statuses(GrpcConn *conn, const char *ns, const char *filter,
                               ctrd_content_statuses_cb cb, void *userdata)
{
        if (!conn || !cb)
                return -EINVAL;
        StatusesCall *c = malloc(sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (StatusesCall){cb, userdata};
        char *filters[] = {(char *)filter};
        Containerd__Services__Content__V1__ListStatusesRequest req =
                CONTAINERD__SERVICES__CONTENT__V1__LIST_STATUSES_REQUEST__INIT;
        req.n_filters = filter ? 1 : 0;
        req.filters = filters;
        const GrpcCallOptions opts = {.ns = ns};
        int r = grpc_unary(conn, CONTENT_PATH("ListStatuses"), &req.base,
                           &containerd__services__content__v1__list_statuses_response__descriptor, &opts,
                           on_statuses_reply, c);
        if (r < 0)
                free(c);
        return r;
}
