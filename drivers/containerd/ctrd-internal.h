/* Helpers shared by the typed containerd operations (ctrd-*.c), and the event decoder the unit tests
 * exercise directly. */
#pragma once

#include "drivers/containerd/ctrd.h"

#include "github.com/containerd/containerd/api/services/events/v1/events.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"

/* RPC paths. */
#define CTRD_PATH(svc, service, method) "/containerd.services." svc ".v1." service "/" method

/* Every protobuf-c map<string,string> entry type has this layout (containerd-api.md §1.3). */
typedef struct CtrdPbLabel {
        ProtobufCMessage base;
        char *key;
        char *value;
} CtrdPbLabel;

/* Builds the entries of a labels map of type entry_desc that point at the given strings (which must
 * outlive the array). Returns 0 or -ENOMEM; free with ctrd_pb_labels_free(). */
int ctrd_pb_labels_new(const ProtobufCMessageDescriptor *entry_desc, const CtrdLabel *labels, size_t n,
                       CtrdPbLabel ***ret);
void ctrd_pb_labels_free(CtrdPbLabel **entries, size_t n);
/* A CtrdLabel view of unpacked map entries. Returns 0 or -ENOMEM; *ret is NULL when n is 0. */
int ctrd_labels_view(CtrdPbLabel *const *entries, size_t n, CtrdLabel **ret);

/* Nanoseconds since the epoch, 0 for NULL. */
int64_t ctrd_timestamp_ns(const Google__Protobuf__Timestamp *ts);

/* The result of a finished call under CtrdFlags: 1 on success, 0 for -EEXIST with CTRD_EXIST_OK and
 * -ENOENT with CTRD_MISSING_OK, else r. */
int ctrd_flags_result(int r, unsigned flags);

/* A unary call whose reply (of type reply_desc) matters only as success or failure: cb gets
 * ctrd_flags_result() of it (and "" as message on success). Same return values as grpc_unary(). The _opts
 * form takes the call options (a deadline, a lease) instead of only the namespace. */
int ctrd_unary_done(GrpcConn *conn, const char *ns, const char *path, const ProtobufCMessage *request,
                    const ProtobufCMessageDescriptor *reply_desc, unsigned flags, ctrd_done_cb cb,
                    void *userdata);
int ctrd_unary_done_opts(GrpcConn *conn, const char *path, const ProtobufCMessage *request,
                         const ProtobufCMessageDescriptor *reply_desc, const GrpcCallOptions *opts,
                         unsigned flags, ctrd_done_cb cb, void *userdata);

/* Owned storage behind a decoded CtrdEvent. */
typedef struct CtrdEventBuf {
        Containerd__Services__Events__V1__Envelope *envelope;
        ProtobufCMessage *payload;
} CtrdEventBuf;

/* Decodes one Events.Subscribe message (an Envelope with an Any payload). Events of types we do not know
 * come back as CTRD_EVENT_OTHER. Returns 0, -EBADMSG when the envelope or a known payload does not
 * unpack. ret's strings live in buf until ctrd_event_buf_done(). */
int ctrd_event_decode(const uint8_t *data, size_t len, CtrdEventBuf *buf, CtrdEvent *ret);
void ctrd_event_buf_done(CtrdEventBuf *buf);
