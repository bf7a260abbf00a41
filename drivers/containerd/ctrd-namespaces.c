/* Namespaces: ensure (create or update labels), list, delete. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd-internal.h"

#include "github.com/containerd/containerd/api/services/namespaces/v1/namespace.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define NS_PATH(method) CTRD_PATH("namespaces", "Namespaces", method)

/* A namespace message pointing at the given name and labels. */
static int ns_message(Containerd__Services__Namespaces__V1__Namespace *ns, const char *name,
                      const CtrdLabel *labels, size_t n_labels)
{
        containerd__services__namespaces__v1__namespace__init(ns);
        ns->name = (char *)name;
        ns->n_labels = n_labels;
        return ctrd_pb_labels_new(&containerd__services__namespaces__v1__namespace__labels_entry__descriptor,
                                  labels, n_labels, (CtrdPbLabel ***)&ns->labels);
}

/* ---- ensure ---- */

typedef struct EnsureCall {
        GrpcConn *conn;
        char *name;
        CtrdLabel *labels; /* owned copies */
        size_t n_labels;
        ctrd_done_cb cb;
        void *userdata;
} EnsureCall;

static EnsureCall *ensure_free(EnsureCall *e)
{
        if (!e)
                return NULL;
        for (size_t i = 0; i < e->n_labels; i++) {
                free((char *)e->labels[i].key);
                free((char *)e->labels[i].value);
        }
        free(e->labels);
        free(e->name);
        free(e);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(EnsureCall *, ensure_free);

static void ensure_finish(EnsureCall *e, int r, const char *message)
{
        e->cb(r, message, e->userdata);
        ensure_free(e);
}

static void on_update_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        ensure_finish(userdata, r < 0 ? r : 0, message);
}

/* Namespaces.Update with one mask path per label: exactly these keys are set, the others are kept (no
 * mask would replace the whole label set, containerd-api.md §3a). */
static int ensure_update(EnsureCall *e)
{
        Containerd__Services__Namespaces__V1__Namespace ns;
        int r = ns_message(&ns, e->name, e->labels, e->n_labels);
        if (r < 0)
                return r;
        _cleanup_free_ char **paths = calloc(e->n_labels, sizeof(char *));
        size_t n_paths = 0;
        if (!paths)
                r = -ENOMEM;
        for (; r >= 0 && n_paths < e->n_labels; n_paths++)
                if (asprintf(&paths[n_paths], "labels.%s", e->labels[n_paths].key) < 0) {
                        paths[n_paths] = NULL;
                        r = -ENOMEM;
                }
        if (r >= 0) {
                Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
                mask.n_paths = e->n_labels;
                mask.paths = paths;
                Containerd__Services__Namespaces__V1__UpdateNamespaceRequest req =
                        CONTAINERD__SERVICES__NAMESPACES__V1__UPDATE_NAMESPACE_REQUEST__INIT;
                req.namespace_ = &ns;
                req.update_mask = &mask;
                const GrpcCallOptions opts = {.ns = e->name};
                r = grpc_unary(e->conn, NS_PATH("Update"), &req.base,
                               &containerd__services__namespaces__v1__update_namespace_response__descriptor,
                               &opts, on_update_reply, e);
        }
        for (size_t i = 0; paths && i < n_paths; i++)
                free(paths[i]);
        ctrd_pb_labels_free((CtrdPbLabel **)ns.labels, ns.n_labels);
        return r;
}

static void on_create_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        EnsureCall *e = userdata;
        if (r >= 0)
                ensure_finish(e, 1, message);
        else if (r != -EEXIST)
                ensure_finish(e, r, message);
        else if (e->n_labels == 0)
                ensure_finish(e, 0, "");
        else if ((r = ensure_update(e)) < 0)
                ensure_finish(e, r, "cannot update the namespace's labels");
}

static int ensure_new(GrpcConn *conn, const char *name, const CtrdLabel *labels, size_t n_labels,
                      ctrd_done_cb cb, void *userdata, EnsureCall **ret)
{
        _cleanup_(ensure_freep) EnsureCall *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        *e = (EnsureCall){.conn = conn, .name = strdup(name), .cb = cb, .userdata = userdata};
        if (!e->name)
                return -ENOMEM;
        if (n_labels > 0) {
                e->labels = calloc(n_labels, sizeof(CtrdLabel));
                if (!e->labels)
                        return -ENOMEM;
        }
        for (; e->n_labels < n_labels; e->n_labels++) {
                CtrdLabel *l = &e->labels[e->n_labels];
                l->key = strdup(labels[e->n_labels].key);
                l->value = strdup(labels[e->n_labels].value);
                if (!l->key || !l->value) {
                        e->n_labels++; /* so that ensure_free() frees this one too */
                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(e);
        return 0;
}

int ctrd_namespace_ensure(GrpcConn *conn, const char *name, const CtrdLabel *labels, size_t n_labels,
                          ctrd_done_cb cb, void *userdata)
{
        if (!conn || !name || !*name || (n_labels > 0 && !labels) || !cb)
                return -EINVAL;
        _cleanup_(ensure_freep) EnsureCall *e = NULL;
        int r = ensure_new(conn, name, labels, n_labels, cb, userdata, &e);
        if (r < 0)
                return r;
        Containerd__Services__Namespaces__V1__Namespace ns;
        r = ns_message(&ns, e->name, e->labels, e->n_labels);
        if (r < 0)
                return r;
        Containerd__Services__Namespaces__V1__CreateNamespaceRequest req =
                CONTAINERD__SERVICES__NAMESPACES__V1__CREATE_NAMESPACE_REQUEST__INIT;
        req.namespace_ = &ns;
        /* The namespace's own name as the header, or Create answers UNKNOWN (containerd-api.md §2.2). */
        const GrpcCallOptions opts = {.ns = e->name};
        r = grpc_unary(conn, NS_PATH("Create"), &req.base,
                       &containerd__services__namespaces__v1__create_namespace_response__descriptor, &opts,
                       on_create_reply, e);
        ctrd_pb_labels_free((CtrdPbLabel **)ns.labels, ns.n_labels);
        if (r < 0)
                return r;
        TAKE_PTR(e); /* owned by the call now */
        return 0;
}

/* ---- list ---- */

typedef struct ListCall {
        ctrd_namespace_list_cb cb;
        void *userdata;
} ListCall;

static int list_view(const Containerd__Services__Namespaces__V1__ListNamespacesResponse *resp,
                     CtrdNamespace **ret)
{
        CtrdNamespace *items = calloc(resp->n_namespaces ? resp->n_namespaces : 1, sizeof(*items));
        if (!items)
                return -ENOMEM;
        for (size_t i = 0; i < resp->n_namespaces; i++) {
                const Containerd__Services__Namespaces__V1__Namespace *ns = resp->namespaces[i];
                CtrdLabel *labels;
                if (ctrd_labels_view((CtrdPbLabel *const *)ns->labels, ns->n_labels, &labels) < 0) {
                        for (size_t j = 0; j < i; j++)
                                free((CtrdLabel *)items[j].labels);
                        free(items);
                        return -ENOMEM;
                }
                items[i] = (CtrdNamespace){ns->name, labels, ns->n_labels};
        }
        *ret = items;
        return 0;
}

static void on_list_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        ListCall *l = userdata;
        const Containerd__Services__Namespaces__V1__ListNamespacesResponse *resp = (const void *)reply;
        CtrdNamespace *items = NULL;
        if (r >= 0 && (r = list_view(resp, &items)) < 0)
                message = "out of memory";
        l->cb(r, message, items, r >= 0 ? resp->n_namespaces : 0, l->userdata);
        for (size_t i = 0; items && i < resp->n_namespaces; i++)
                free((CtrdLabel *)items[i].labels);
        free(items);
        free(l);
}

int ctrd_namespace_list(GrpcConn *conn, ctrd_namespace_list_cb cb, void *userdata)
{
        if (!conn || !cb)
                return -EINVAL;
        ListCall *l = malloc(sizeof(*l));
        if (!l)
                return -ENOMEM;
        *l = (ListCall){cb, userdata};
        Containerd__Services__Namespaces__V1__ListNamespacesRequest req =
                CONTAINERD__SERVICES__NAMESPACES__V1__LIST_NAMESPACES_REQUEST__INIT;
        int r = grpc_unary(conn, NS_PATH("List"), &req.base,
                           &containerd__services__namespaces__v1__list_namespaces_response__descriptor, NULL,
                           on_list_reply, l);
        if (r < 0)
                free(l);
        return r;
}

/* ---- delete ---- */

typedef struct DeleteCall {
        ctrd_done_cb cb;
        void *userdata;
} DeleteCall;

static void on_delete_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        DeleteCall *d = userdata;
        /* The namespace header is always sent, so FAILED_PRECONDITION can only mean "not empty". */
        d->cb(r == -EBUSY ? -ENOTEMPTY : r, message, d->userdata);
        free(d);
}

int ctrd_namespace_delete(GrpcConn *conn, const char *name, ctrd_done_cb cb, void *userdata)
{
        if (!conn || !name || !*name || !cb)
                return -EINVAL;
        DeleteCall *d = malloc(sizeof(*d));
        if (!d)
                return -ENOMEM;
        *d = (DeleteCall){cb, userdata};
        Containerd__Services__Namespaces__V1__DeleteNamespaceRequest req =
                CONTAINERD__SERVICES__NAMESPACES__V1__DELETE_NAMESPACE_REQUEST__INIT;
        req.name = (char *)name;
        const GrpcCallOptions opts = {.ns = name};
        int r = grpc_unary(conn, NS_PATH("Delete"), &req.base, &google__protobuf__empty__descriptor, &opts,
                           on_delete_reply, d);
        if (r < 0)
                free(d);
        return r;
}
