/* Version.Version. */
#include <errno.h>
#include <stdlib.h>

#include "drivers/containerd/ctrd-internal.h"

#include "github.com/containerd/containerd/api/services/version/v1/version.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

typedef struct VersionCall {
        ctrd_version_cb cb;
        void *userdata;
} VersionCall;

static void on_version_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        VersionCall *v = userdata;
        const Containerd__Services__Version__V1__VersionResponse *resp = (const void *)reply;
        CtrdVersion version = {0};
        if (resp)
                version = (CtrdVersion){resp->version, resp->revision};
        v->cb(r, message, r >= 0 ? &version : NULL, v->userdata);
        free(v);
}

int ctrd_version(GrpcConn *conn, ctrd_version_cb cb, void *userdata)
{
        Google__Protobuf__Empty req = GOOGLE__PROTOBUF__EMPTY__INIT;
        VersionCall *v = malloc(sizeof(*v));
        if (!v)
                return -ENOMEM;
        *v = (VersionCall){cb, userdata};
        int r = grpc_unary(conn, CTRD_PATH("version", "Version", "Version"), &req.base,
                           &containerd__services__version__v1__version_response__descriptor, NULL,
                           on_version_reply, v);
        if (r < 0)
                free(v);
        return r;
}
