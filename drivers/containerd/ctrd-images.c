/* Image records: get, ensure (create, or point at a new target), delete (containerd-api.md §3 b5). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd-internal.h"

#include "github.com/containerd/containerd/api/services/images/v1/images.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define IMAGES_PATH(method) CTRD_PATH("images", "Images", method)

static void descriptor_message(Containerd__Types__Descriptor *d, const CtrdDescriptor *in)
{
        containerd__types__descriptor__init(d);
        d->media_type = (char *)in->media_type;
        d->digest = (char *)in->digest;
        d->size = in->size;
}

/* ---- get ---- */

typedef struct GetCall {
        ctrd_image_cb cb;
        void *userdata;
} GetCall;

static void on_get_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        GetCall *c = userdata;
        const Containerd__Services__Images__V1__GetImageResponse *resp = (const void *)reply;
        const Containerd__Services__Images__V1__Image *in = r >= 0 ? resp->image : NULL;
        _cleanup_free_ CtrdLabel *labels = NULL;
        if (r >= 0 && (!in || !in->target)) {
                r = -EPROTO;
                message = "Images.Get answered without an image";
        }
        if (r >= 0 && ctrd_labels_view((CtrdPbLabel *const *)in->labels, in->n_labels, &labels) < 0) {
                r = -ENOMEM;
                message = "out of memory";
        }
        if (r < 0)
                c->cb(r, message, NULL, c->userdata);
        else {
                CtrdImage image = {in->name,
                                   {in->target->media_type, in->target->digest, in->target->size},
                                   labels,
                                   in->n_labels,
                                   ctrd_timestamp_ns(in->created_at),
                                   ctrd_timestamp_ns(in->updated_at)};
                c->cb(0, message, &image, c->userdata);
        }
        free(c);
}

int ctrd_image_get(GrpcConn *conn, const char *ns, const char *name, ctrd_image_cb cb, void *userdata)
{
        if (!conn || !name || !*name || !cb)
                return -EINVAL;
        GetCall *c = malloc(sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (GetCall){cb, userdata};
        Containerd__Services__Images__V1__GetImageRequest req =
                CONTAINERD__SERVICES__IMAGES__V1__GET_IMAGE_REQUEST__INIT;
        req.name = (char *)name;
        const GrpcCallOptions opts = {.ns = ns};
        int r = grpc_unary(conn, IMAGES_PATH("Get"), &req.base,
                           &containerd__services__images__v1__get_image_response__descriptor, &opts,
                           on_get_reply, c);
        if (r < 0)
                free(c);
        return r;
}

/* ---- list ---- */

typedef struct ListCall {
        ctrd_image_list_cb cb;
        void *userdata;
} ListCall;

static void on_list_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        ListCall *c = userdata;
        const Containerd__Services__Images__V1__ListImagesResponse *resp = (const void *)reply;
        size_t n = r >= 0 ? resp->n_images : 0;
        _cleanup_free_ const char **names = n ? calloc(n, sizeof(*names)) : NULL;
        if (n && !names) {
                r = -ENOMEM;
                message = "out of memory";
                n = 0;
        }
        for (size_t i = 0; i < n; i++)
                names[i] = resp->images[i]->name ? resp->images[i]->name : "";
        c->cb(r < 0 ? r : 0, message, names, n, c->userdata);
        free(c);
}

int ctrd_image_list(GrpcConn *conn, const char *ns, ctrd_image_list_cb cb, void *userdata)
{
        if (!conn || !cb)
                return -EINVAL;
        ListCall *c = malloc(sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (ListCall){cb, userdata};
        Containerd__Services__Images__V1__ListImagesRequest req =
                CONTAINERD__SERVICES__IMAGES__V1__LIST_IMAGES_REQUEST__INIT;
        const GrpcCallOptions opts = {.ns = ns};
        int r = grpc_unary(conn, IMAGES_PATH("List"), &req.base,
                           &containerd__services__images__v1__list_images_response__descriptor, &opts,
                           on_list_reply, c);
        if (r < 0)
                free(c);
        return r;
}

/* ---- ensure ---- */

typedef struct EnsureCall {
        GrpcConn *conn;
        char *ns, *name, *media_type, *digest;
        int64_t size;
        ctrd_done_cb cb;
        void *userdata;
} EnsureCall;

static void ensure_finish(EnsureCall *e, int r, const char *message)
{
        e->cb(r, message, e->userdata);
        free(e->ns);
        free(e->name);
        free(e->media_type);
        free(e->digest);
        free(e);
}

static void on_update_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        ensure_finish(userdata, r < 0 ? r : 1, message);
}

static void on_existing(int r, const char *message, const CtrdImage *image, void *userdata)
{
        EnsureCall *e = userdata;
        if (r < 0) {
                ensure_finish(e, r, message);
                return;
        }
        if (streq(image->target.digest, e->digest) && streq_ptr(image->target.media_type, e->media_type) &&
            image->target.size == e->size) {
                ensure_finish(e, 0, "");
                return;
        }
        Containerd__Types__Descriptor target;
        descriptor_message(&target, &(CtrdDescriptor){e->media_type, e->digest, e->size});
        Containerd__Services__Images__V1__Image img = CONTAINERD__SERVICES__IMAGES__V1__IMAGE__INIT;
        img.name = e->name;
        img.target = &target;
        char *paths[] = {"target"};
        Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
        mask.n_paths = 1;
        mask.paths = paths;
        Containerd__Services__Images__V1__UpdateImageRequest req =
                CONTAINERD__SERVICES__IMAGES__V1__UPDATE_IMAGE_REQUEST__INIT;
        req.image = &img;
        req.update_mask = &mask;
        const GrpcCallOptions opts = {.ns = e->ns};
        r = grpc_unary(e->conn, IMAGES_PATH("Update"), &req.base,
                       &containerd__services__images__v1__update_image_response__descriptor, &opts,
                       on_update_reply, e);
        if (r < 0)
                ensure_finish(e, r, "cannot update the image record");
}

static void on_create_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        EnsureCall *e = userdata;
        if (r != -EEXIST) {
                ensure_finish(e, r < 0 ? r : 1, message);
                return;
        }
        if ((r = ctrd_image_get(e->conn, e->ns, e->name, on_existing, e)) < 0)
                ensure_finish(e, r, "cannot read the image record");
}

int ctrd_image_ensure(GrpcConn *conn, const char *ns, const char *name, const CtrdDescriptor *target,
                      const CtrdLabel *labels, size_t n_labels, ctrd_done_cb cb, void *userdata)
{
        if (!conn || !name || !*name || !target || !target->digest || !target->media_type || !cb ||
            (n_labels > 0 && !labels))
                return -EINVAL;
        EnsureCall *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        *e = (EnsureCall){.conn = conn, .size = target->size, .cb = cb, .userdata = userdata};
        e->ns = ns ? strdup(ns) : NULL;
        e->name = strdup(name);
        e->media_type = strdup(target->media_type);
        e->digest = strdup(target->digest);
        Containerd__Types__Descriptor desc;
        descriptor_message(&desc, target);
        Containerd__Services__Images__V1__Image img = CONTAINERD__SERVICES__IMAGES__V1__IMAGE__INIT;
        img.name = (char *)name;
        img.target = &desc;
        img.n_labels = n_labels;
        int r = (ns && !e->ns) || !e->name || !e->media_type || !e->digest ? -ENOMEM : 0;
        if (r >= 0)
                r = ctrd_pb_labels_new(&containerd__services__images__v1__image__labels_entry__descriptor,
                                       labels, n_labels, (CtrdPbLabel ***)&img.labels);
        if (r >= 0) {
                Containerd__Services__Images__V1__CreateImageRequest req =
                        CONTAINERD__SERVICES__IMAGES__V1__CREATE_IMAGE_REQUEST__INIT;
                req.image = &img;
                const GrpcCallOptions opts = {.ns = ns};
                r = grpc_unary(conn, IMAGES_PATH("Create"), &req.base,
                               &containerd__services__images__v1__create_image_response__descriptor, &opts,
                               on_create_reply, e);
        }
        ctrd_pb_labels_free((CtrdPbLabel **)img.labels, img.n_labels);
        if (r < 0) {
                free(e->ns);
                free(e->name);
                free(e->media_type);
                free(e->digest);
                free(e);
        }
        return r;
}

/* ---- delete ---- */

typedef struct DeleteCall {
        unsigned flags;
        ctrd_done_cb cb;
        void *userdata;
} DeleteCall;

static void on_delete_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        DeleteCall *d = userdata;
        if (r == -ENOENT && (d->flags & CTRD_MISSING_OK))
                d->cb(0, "", d->userdata);
        else
                d->cb(r < 0 ? r : 1, message, d->userdata);
        free(d);
}

int ctrd_image_delete(GrpcConn *conn, const char *ns, const char *name, bool sync, unsigned flags,
                      ctrd_done_cb cb, void *userdata)
{
        if (!conn || !name || !*name || !cb)
                return -EINVAL;
        DeleteCall *d = malloc(sizeof(*d));
        if (!d)
                return -ENOMEM;
        *d = (DeleteCall){flags, cb, userdata};
        Containerd__Services__Images__V1__DeleteImageRequest req =
                CONTAINERD__SERVICES__IMAGES__V1__DELETE_IMAGE_REQUEST__INIT;
        req.name = (char *)name;
        req.sync = sync;
        const GrpcCallOptions opts = {.ns = ns, .timeout_ms = sync ? 120000 : 0};
        int r = grpc_unary(conn, IMAGES_PATH("Delete"), &req.base, &google__protobuf__empty__descriptor,
                           &opts, on_delete_reply, d);
        if (r < 0)
                free(d);
        return r;
}
