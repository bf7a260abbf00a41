/* Unary calls with a typed reply, on top of grpc_call_start(). */
#include <errno.h>
#include <stdlib.h>

#include "drivers/containerd/grpc.h"

typedef struct UnaryCall {
        const ProtobufCMessageDescriptor *reply_desc;
        ProtobufCMessage *reply;
        grpc_unary_cb cb;
        void *userdata;
} UnaryCall;

static int on_unary_message(GrpcCall *call, const uint8_t *data, size_t len, void *userdata)
{
        UnaryCall *u = userdata;
        if (u->reply)
                return -EPROTO; /* a unary method answers once */
        u->reply = protobuf_c_message_unpack(u->reply_desc, NULL, len, data);
        return u->reply ? 0 : -EBADMSG;
}

static void on_unary_done(GrpcCall *call, int r, const char *message, void *userdata)
{
        UnaryCall *u = userdata;
        if (r >= 0 && !u->reply) {
                r = -EPROTO;
                message = "the server sent no reply message";
        }
        u->cb(r, message, r >= 0 ? u->reply : NULL, u->userdata);
        if (u->reply)
                protobuf_c_message_free_unpacked(u->reply, NULL);
        free(u);
}

int grpc_unary(GrpcConn *conn, const char *path, const ProtobufCMessage *request,
               const ProtobufCMessageDescriptor *reply_desc, const GrpcCallOptions *opts, grpc_unary_cb cb,
               void *userdata)
{
        if (!request || !reply_desc || !cb || (opts && opts->is_client_streaming))
                return -EINVAL;
        UnaryCall *u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        *u = (UnaryCall){.reply_desc = reply_desc, .cb = cb, .userdata = userdata};
        int r = grpc_call_start(conn, path, request, opts, on_unary_message, on_unary_done, u, NULL);
        if (r < 0)
                free(u);
        return r;
}
