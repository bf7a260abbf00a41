/* Containers: create (runc v2 runtime with our options, the spec as an Any), get, list, delete. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd-tasks-internal.h"

#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define CONTAINERS_PATH(method) CTRD_PATH("containers", "Containers", method)

/* ---- create ---- */

/* What a Containers.Create request points at, owned. */
typedef struct CreateParts {
        CtrdLabel *labels;
        size_t n_labels;
        CtrdPbLabel **pb_labels;
        char *spec_json; /* with the group annotation; NULL: the caller's text is used as is */
        uint8_t *options;
        size_t options_len;
} CreateParts;

static void create_parts_done(CreateParts *p)
{
        ctrd_pb_labels_free(p->pb_labels, p->n_labels);
        free(p->labels);
        free(p->spec_json);
        free(p->options);
}

static int create_parts_build(const CtrdContainerCreate *c, CreateParts *p)
{
        *p = (CreateParts){0};
        int r = ctrd_container_labels(c->labels, c->n_labels, c->group, c->stop_signal, &p->labels,
                                      &p->n_labels);
        if (r < 0)
                return r;
        r = ctrd_pb_labels_new(&containerd__services__containers__v1__container__labels_entry__descriptor,
                               p->labels, p->n_labels, &p->pb_labels);
        if (r >= 0 && c->group)
                /* The shim reads the group from the spec's annotations, not from the labels. */
                r = ctrd_spec_set_group(c->spec_json, c->group, &p->spec_json);
        if (r >= 0)
                r = ctrd_runc_options_pack(&c->runc, &p->options, &p->options_len);
        if (r < 0)
                create_parts_done(p);
        return r;
}

int ctrd_container_create(GrpcConn *conn, const char *ns, const CtrdContainerCreate *c, unsigned flags,
                          ctrd_done_cb cb, void *userdata)
{
        if (!conn || !c || !c->id || !*c->id || !c->spec_json || (c->n_labels > 0 && !c->labels) || !cb)
                return -EINVAL;
        CreateParts p;
        int r = create_parts_build(c, &p);
        if (r < 0)
                return r;
        const char *spec = p.spec_json ? p.spec_json : c->spec_json;

        Google__Protobuf__Any options = GOOGLE__PROTOBUF__ANY__INIT;
        options.type_url = CTRD_RUNC_OPTIONS_TYPE_URL;
        options.value = (ProtobufCBinaryData){p.options_len, p.options};
        Containerd__Services__Containers__V1__Container__Runtime runtime =
                CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT;
        runtime.name = CTRD_RUNTIME_RUNC_V2;
        runtime.options = &options;
        Google__Protobuf__Any spec_any = GOOGLE__PROTOBUF__ANY__INIT;
        spec_any.type_url = CTRD_SPEC_TYPE_URL;
        spec_any.value = (ProtobufCBinaryData){strlen(spec), (uint8_t *)spec};

        Containerd__Services__Containers__V1__Container container =
                CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
        container.id = (char *)c->id;
        container.image = (char *)strempty(c->image);
        container.n_labels = p.n_labels;
        container.labels = (Containerd__Services__Containers__V1__Container__LabelsEntry **)p.pb_labels;
        container.runtime = &runtime;
        container.spec = &spec_any;
        container.snapshotter = (char *)(c->snapshotter ? c->snapshotter : CTRD_SNAPSHOTTER_DEFAULT);
        container.snapshot_key = (char *)(c->snapshot_key ? c->snapshot_key : c->id);
        Containerd__Services__Containers__V1__CreateContainerRequest req =
                CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
        req.container = &container;
        r = ctrd_unary_done(conn, ns, CONTAINERS_PATH("Create"), &req.base,
                            &containerd__services__containers__v1__create_container_response__descriptor,
                            flags, cb, userdata);
        create_parts_done(&p);
        return r;
}

/* ---- get and list ---- */

/* A view of c; its labels array is allocated (free it), everything else stays in c. */
static int container_view(const Containerd__Services__Containers__V1__Container *c, CtrdContainer *ret)
{
        CtrdLabel *labels;
        if (ctrd_labels_view((CtrdPbLabel *const *)c->labels, c->n_labels, &labels) < 0)
                return -ENOMEM;
        *ret = (CtrdContainer){
                .id = c->id,
                .image = c->image,
                .labels = labels,
                .n_labels = c->n_labels,
                .spec_digest = ctrd_label_get(labels, c->n_labels, CTRD_LABEL_SPEC_DIGEST),
                .group = ctrd_label_get(labels, c->n_labels, CTRD_LABEL_RUNC_GROUP),
                .stop_signal = ctrd_label_get(labels, c->n_labels, CTRD_LABEL_STOP_SIGNAL),
                .runtime = c->runtime ? c->runtime->name : "",
                .snapshotter = c->snapshotter,
                .snapshot_key = c->snapshot_key,
                .created_at_ns = ctrd_timestamp_ns(c->created_at),
                .updated_at_ns = ctrd_timestamp_ns(c->updated_at),
        };
        return 0;
}

typedef struct GetCall {
        ctrd_container_cb cb;
        void *userdata;
} GetCall;

static void on_get_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        GetCall *g = userdata;
        const Containerd__Services__Containers__V1__GetContainerResponse *resp = (const void *)reply;
        CtrdContainer view = {0};
        if (r >= 0 && !resp->container) {
                r = -EPROTO;
                message = "the reply has no container";
        }
        if (r >= 0 && container_view(resp->container, &view) < 0) {
                r = -ENOMEM;
                message = "out of memory";
        }
        g->cb(r < 0 ? r : 0, r >= 0 ? "" : message, r >= 0 ? &view : NULL, g->userdata);
        free((CtrdLabel *)view.labels);
        free(g);
}

int ctrd_container_get(GrpcConn *conn, const char *ns, const char *id, ctrd_container_cb cb, void *userdata)
{
        if (!conn || !id || !*id || !cb)
                return -EINVAL;
        GetCall *g = malloc(sizeof(*g));
        if (!g)
                return -ENOMEM;
        *g = (GetCall){cb, userdata};
        Containerd__Services__Containers__V1__GetContainerRequest req =
                CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;
        req.id = (char *)id;
        const GrpcCallOptions opts = {.ns = ns};
        int r = grpc_unary(conn, CONTAINERS_PATH("Get"), &req.base,
                           &containerd__services__containers__v1__get_container_response__descriptor, &opts,
                           on_get_reply, g);
        if (r < 0)
                free(g);
        return r;
}

typedef struct ListCall {
        ctrd_container_list_cb cb;
        void *userdata;
} ListCall;

static void views_free(CtrdContainer *views, size_t n)
{
        for (size_t i = 0; views && i < n; i++)
                free((CtrdLabel *)views[i].labels);
        free(views);
}

static int list_views(const Containerd__Services__Containers__V1__ListContainersResponse *resp,
                      CtrdContainer **ret)
{
        CtrdContainer *views = calloc(resp->n_containers ? resp->n_containers : 1, sizeof(*views));
        if (!views)
                return -ENOMEM;
        for (size_t i = 0; i < resp->n_containers; i++)
                if (container_view(resp->containers[i], &views[i]) < 0) {
                        views_free(views, i);
                        return -ENOMEM;
                }
        *ret = views;
        return 0;
}

static void on_list_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        ListCall *l = userdata;
        const Containerd__Services__Containers__V1__ListContainersResponse *resp = (const void *)reply;
        CtrdContainer *views = NULL;
        if (r >= 0 && list_views(resp, &views) < 0) {
                r = -ENOMEM;
                message = "out of memory";
        }
        size_t n = r >= 0 ? resp->n_containers : 0;
        l->cb(r < 0 ? r : 0, r >= 0 ? "" : message, views, n, l->userdata);
        views_free(views, n);
        free(l);
}

int ctrd_container_list(GrpcConn *conn, const char *ns, const char *const *filters, size_t n_filters,
                        ctrd_container_list_cb cb, void *userdata)
{
        if (!conn || (n_filters > 0 && !filters) || !cb)
                return -EINVAL;
        ListCall *l = malloc(sizeof(*l));
        if (!l)
                return -ENOMEM;
        *l = (ListCall){cb, userdata};
        Containerd__Services__Containers__V1__ListContainersRequest req =
                CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_REQUEST__INIT;
        req.n_filters = n_filters;
        req.filters = (char **)filters;
        const GrpcCallOptions opts = {.ns = ns};
        int r = grpc_unary(conn, CONTAINERS_PATH("List"), &req.base,
                           &containerd__services__containers__v1__list_containers_response__descriptor,
                           &opts, on_list_reply, l);
        if (r < 0)
                free(l);
        return r;
}

/* ---- delete ---- */

int ctrd_container_delete(GrpcConn *conn, const char *ns, const char *id, unsigned flags, ctrd_done_cb cb,
                          void *userdata)
{
        if (!conn || !id || !*id || !cb)
                return -EINVAL;
        Containerd__Services__Containers__V1__DeleteContainerRequest req =
                CONTAINERD__SERVICES__CONTAINERS__V1__DELETE_CONTAINER_REQUEST__INIT;
        req.id = (char *)id;
        return ctrd_unary_done(conn, ns, CONTAINERS_PATH("Delete"), &req.base,
                               &google__protobuf__empty__descriptor, flags, cb, userdata);
}

/* ---- update one label ---- */

int ctrd_container_set_label(GrpcConn *conn, const char *ns, const char *id, const char *key,
                             const char *value, ctrd_done_cb cb, void *userdata)
{
        if (!conn || !id || !*id || !key || !value || !cb)
                return -EINVAL;
        const CtrdLabel label = {key, value};
        CtrdPbLabel **pb = NULL;
        int r = ctrd_pb_labels_new(
                &containerd__services__containers__v1__container__labels_entry__descriptor, &label, 1, &pb);
        _cleanup_free_ char *path = NULL;
        if (r >= 0 && asprintf(&path, "labels.%s", key) < 0) {
                path = NULL;
                r = -ENOMEM;
        }
        if (r >= 0) {
                Containerd__Services__Containers__V1__Container container =
                        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
                container.id = (char *)id;
                container.n_labels = 1;
                container.labels = (Containerd__Services__Containers__V1__Container__LabelsEntry **)pb;
                char *paths[] = {path};
                Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
                mask.n_paths = 1;
                mask.paths = paths;
                Containerd__Services__Containers__V1__UpdateContainerRequest req =
                        CONTAINERD__SERVICES__CONTAINERS__V1__UPDATE_CONTAINER_REQUEST__INIT;
                req.container = &container;
                req.update_mask = &mask;
                r = ctrd_unary_done(
                        conn, ns, CONTAINERS_PATH("Update"), &req.base,
                        &containerd__services__containers__v1__update_container_response__descriptor, 0, cb,
                        userdata);
        }
        ctrd_pb_labels_free(pb, pb ? 1 : 0);
        return r;
}
