/* Leases: create (unique id, gc.expire), delete, list (containerd-api.md §3 b4). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/macro.h"
#include "common/timeutil.h"
#include "drivers/containerd/ctrd-internal.h"

#include "github.com/containerd/containerd/api/services/leases/v1/leases.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define LEASES_PATH(method) CTRD_PATH("leases", "Leases", method)

char *ctrd_lease_id_new(char buf[static CTRD_LEASE_ID_MAX])
{
        struct timespec ts;
        unsigned char rnd[3] = {0};
        clock_gettime(CLOCK_REALTIME, &ts);
        /* Ids must be unique: two leases made in the same nanosecond still differ by 24 random bits
         * (containerd-api.md §3 b4: a reused id made the blobs of an import vanish). */
        if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
                static unsigned counter;
                unsigned v = ++counter ^ (unsigned)ts.tv_nsec;
                memcpy(rnd, &v, sizeof(rnd));
        }
        snprintf(buf, CTRD_LEASE_ID_MAX, "kukeon-%lld%09ld-%02x%02x%02x", (long long)ts.tv_sec, ts.tv_nsec,
                 rnd[0], rnd[1], rnd[2]);
        return buf;
}

/* ---- create ---- */

typedef struct CreateCall {
        char id[CTRD_LEASE_ID_MAX];
        ctrd_lease_cb cb;
        void *userdata;
} CreateCall;

static void on_create_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        CreateCall *c = userdata;
        c->cb(r < 0 ? r : 1, message, r < 0 ? NULL : c->id, c->userdata);
        free(c);
}

int ctrd_lease_create(GrpcConn *conn, const char *ns, int64_t expire_s, ctrd_lease_cb cb, void *userdata)
{
        if (!conn || !cb || expire_s < 0)
                return -EINVAL;
        CreateCall *c = malloc(sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (CreateCall){.cb = cb, .userdata = userdata};
        ctrd_lease_id_new(c->id);
        char expire[RFC3339_MAX];
        time_format_rfc3339(time_now() + (expire_s ? expire_s : CTRD_LEASE_EXPIRE_DEFAULT_S), expire);
        const CtrdLabel label = {"containerd.io/gc.expire", expire};
        Containerd__Services__Leases__V1__CreateRequest req =
                CONTAINERD__SERVICES__LEASES__V1__CREATE_REQUEST__INIT;
        req.id = c->id;
        req.n_labels = 1;
        int r = ctrd_pb_labels_new(
                &containerd__services__leases__v1__create_request__labels_entry__descriptor, &label, 1,
                (CtrdPbLabel ***)&req.labels);
        if (r >= 0) {
                const GrpcCallOptions opts = {.ns = ns};
                r = grpc_unary(conn, LEASES_PATH("Create"), &req.base,
                               &containerd__services__leases__v1__create_response__descriptor, &opts,
                               on_create_reply, c);
        }
        ctrd_pb_labels_free((CtrdPbLabel **)req.labels, req.n_labels);
        if (r < 0)
                free(c);
        return r;
}

/* ---- delete ---- */

int ctrd_lease_delete(GrpcConn *conn, const char *ns, const char *id, bool sync, unsigned flags,
                      ctrd_done_cb cb, void *userdata)
{
        if (!conn || !id || !*id || !cb)
                return -EINVAL;
        Containerd__Services__Leases__V1__DeleteRequest req =
                CONTAINERD__SERVICES__LEASES__V1__DELETE_REQUEST__INIT;
        req.id = (char *)id;
        req.sync = sync;
        /* A synchronous garbage collection may take a while on a big store. */
        const GrpcCallOptions opts = {.ns = ns, .timeout_ms = sync ? 120000 : 0};
        return ctrd_unary_done_opts(conn, LEASES_PATH("Delete"), &req.base,
                                    &google__protobuf__empty__descriptor, &opts, flags, cb, userdata);
}

/* ---- list ---- */

typedef struct ListCall {
        ctrd_lease_list_cb cb;
        void *userdata;
} ListCall;

static void on_list_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        ListCall *l = userdata;
        const Containerd__Services__Leases__V1__ListResponse *resp = (const void *)reply;
        _cleanup_free_ const char **ids = NULL;
        size_t n = r >= 0 ? resp->n_leases : 0;
        if (n > 0 && !(ids = calloc(n, sizeof(*ids)))) {
                r = -ENOMEM;
                message = "out of memory";
                n = 0;
        }
        for (size_t i = 0; i < n; i++)
                ids[i] = resp->leases[i]->id;
        l->cb(r, message, ids, n, l->userdata);
        free(l);
}

int ctrd_lease_list(GrpcConn *conn, const char *ns, ctrd_lease_list_cb cb, void *userdata)
{
        if (!conn || !cb)
                return -EINVAL;
        ListCall *l = malloc(sizeof(*l));
        if (!l)
                return -ENOMEM;
        *l = (ListCall){cb, userdata};
        Containerd__Services__Leases__V1__ListRequest req =
                CONTAINERD__SERVICES__LEASES__V1__LIST_REQUEST__INIT;
        const GrpcCallOptions opts = {.ns = ns};
        int r = grpc_unary(conn, LEASES_PATH("List"), &req.base,
                           &containerd__services__leases__v1__list_response__descriptor, &opts,
                           on_list_reply, l);
        if (r < 0)
                free(l);
        return r;
}
