/* gRPC over HTTP/2 with prior knowledge (h2c) on a unix socket, driven by a libuv loop: the transport to
 * containerd.
 *
 * A GrpcConn is one HTTP/2 connection carrying any number of concurrent calls (one stream each): unary,
 * server-streaming and bidirectional. It connects by itself, and when the server goes away (EOF, reset,
 * GOAWAY, socket missing) it fails every call in flight with -ENOTCONN and reconnects with capped
 * exponential back-off; a state callback tells the owner, who re-subscribes and re-syncs on READY.
 *
 * Nothing here blocks and nothing logs. Errors are negative errno values; the grpc-status of a call is
 * mapped once, by grpc_status_to_errno(), and the server's grpc-message is kept as the status text. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>
#include <uv.h>

typedef struct GrpcConn GrpcConn;
typedef struct GrpcCall GrpcCall;

/* ---- status codes and header helpers (pure) ---- */

enum {
        GRPC_STATUS_OK = 0,
        GRPC_STATUS_CANCELLED = 1,
        GRPC_STATUS_UNKNOWN = 2,
        GRPC_STATUS_INVALID_ARGUMENT = 3,
        GRPC_STATUS_DEADLINE_EXCEEDED = 4,
        GRPC_STATUS_NOT_FOUND = 5,
        GRPC_STATUS_ALREADY_EXISTS = 6,
        GRPC_STATUS_PERMISSION_DENIED = 7,
        GRPC_STATUS_RESOURCE_EXHAUSTED = 8,
        GRPC_STATUS_FAILED_PRECONDITION = 9,
        GRPC_STATUS_ABORTED = 10,
        GRPC_STATUS_OUT_OF_RANGE = 11,
        GRPC_STATUS_UNIMPLEMENTED = 12,
        GRPC_STATUS_INTERNAL = 13,
        GRPC_STATUS_UNAVAILABLE = 14,
        GRPC_STATUS_DATA_LOSS = 15,
        GRPC_STATUS_UNAUTHENTICATED = 16,
};

/* The one place a grpc-status becomes an errno: 0 for OK, else a negative errno (-ENOENT for NOT_FOUND,
 * -EEXIST for ALREADY_EXISTS, -EBUSY for FAILED_PRECONDITION, -ENOTCONN for UNAVAILABLE, ...; -EIO for
 * UNKNOWN and anything unrecognised). */
int grpc_status_to_errno(int status);
/* "NOT_FOUND" etc., or "UNKNOWN" for codes out of range. */
const char *grpc_status_to_string(int status);
/* The grpc-status implied by an HTTP status when a response carries none (the gRPC HTTP/2 spec's table). */
int grpc_status_from_http(int http_status);

/* "1500m", "100000S": the grpc-timeout header value for a deadline of timeout_ms (> 0), rounded up when it
 * needs a coarser unit than milliseconds to fit the 8 digits the header allows. */
#define GRPC_TIMEOUT_MAX 16
char *grpc_timeout_format(int64_t timeout_ms, char buf[static GRPC_TIMEOUT_MAX]);

/* The deadline we announce to the server (grpc-timeout) for a local deadline of timeout_ms: a little
 * later, so that ours expires first and the result is always -ETIMEDOUT. */
int64_t grpc_server_timeout(int64_t timeout_ms);

/* Decodes a percent-encoded grpc-message. Malformed escapes are kept literally. Returns a new
 * NUL-terminated string, or NULL when out of memory. */
char *grpc_percent_decode(const char *s, size_t len);

/* ---- connections ---- */

typedef enum GrpcConnState {
        GRPC_CONN_CONNECTING,        /* an attempt is under way; calls started now wait for it */
        GRPC_CONN_READY,             /* the server has sent its HTTP/2 SETTINGS */
        GRPC_CONN_TRANSIENT_FAILURE, /* waiting to retry; calls fail at once with -ENOTCONN */
        GRPC_CONN_SHUTDOWN,          /* grpc_conn_close() was called */
        _GRPC_CONN_STATE_MAX,
} GrpcConnState;

const char *grpc_conn_state_to_string(GrpcConnState state);

/* Called on every state change. reason is 0, or for TRANSIENT_FAILURE the error that ended the
 * attempt or the connection (-ENOENT, -ECONNREFUSED, -ECONNRESET, -ETIMEDOUT, -EPROTO, ...). It may start
 * calls and may close the connection. */
typedef void (*grpc_conn_state_cb)(GrpcConn *conn, GrpcConnState state, int reason, void *userdata);

typedef struct GrpcConnOptions {
        const char *address;           /* path of the unix socket (required) */
        const char *default_namespace; /* containerd-namespace of calls that name none; NULL: "default" */
        int64_t default_timeout_ms;    /* deadline of calls that set none; 0: none */
        uint64_t backoff_initial_ms;   /* first delay before reconnecting; 0: 100 ms */
        uint64_t backoff_max_ms;       /* cap of the doubling delay; 0: 5 s */
        uint64_t handshake_timeout_ms; /* an attempt whose server sends no SETTINGS fails after; 0: 10 s */
        size_t max_message_size;       /* largest message sent or accepted; 0: 16 MiB (containerd's) */
        grpc_conn_state_cb on_state;
        void *userdata;
} GrpcConnOptions;

/* Creates a connection and starts connecting (state CONNECTING; no callback for that first state).
 * Returns 0 or -ENOMEM / -EINVAL. The connection is owned by the caller until grpc_conn_close().
 * The process must ignore SIGPIPE (main() does it): libuv writes with write(2), and containerd going
 * away under a write would otherwise kill us instead of surfacing as EPIPE. */
int grpc_conn_new(uv_loop_t *loop, const GrpcConnOptions *opts, GrpcConn **ret);

/* Closes the connection: every call not yet done gets its done callback with -ECANCELED (before this
 * returns), no state callback runs any more, and the memory and libuv handles are released once the loop
 * has run the close callbacks. Call it exactly once; conn is invalid afterwards. */
void grpc_conn_close(GrpcConn *conn);

GrpcConnState grpc_conn_get_state(const GrpcConn *conn);
/* Calls started and not yet done. */
size_t grpc_conn_n_calls(const GrpcConn *conn);

/* ---- calls ---- */

#define GRPC_NO_TIMEOUT INT64_C(-1)

typedef struct GrpcCallOptions {
        const char *ns;     /* containerd-namespace header; NULL: the connection's default */
        const char *lease;  /* containerd-lease header; NULL: none */
        int64_t timeout_ms; /* 0: the connection's default; GRPC_NO_TIMEOUT: none; see grpc_server_timeout()
                             */
        /* Keep the request side open after the first message, for grpc_call_send() (bidirectional
         * streaming). Otherwise the request is half-closed right after it. */
        bool is_client_streaming;
} GrpcCallOptions;

/* One response message, in order; data is valid during the callback only. Return 0 to go on, or a
 * negative errno to abort the call: its stream is reset and on_done gets that error. */
typedef int (*grpc_call_message_cb)(GrpcCall *call, const uint8_t *data, size_t len, void *userdata);

/* Runs exactly once per started call (unless the call was cancelled): r is 0 (grpc-status OK) or a
 * negative errno; message is the server's grpc-message (decoded) or our own explanation, "" on success,
 * never NULL. -ENOTCONN: the connection was lost; -ETIMEDOUT: the deadline passed; -ECANCELED: the
 * connection was closed. The call is freed when the callback returns. */
typedef void (*grpc_call_done_cb)(GrpcCall *call, int r, const char *message, void *userdata);

/* Starts a call of path ("/containerd.services.version.v1.Version/Version") sending request (NULL only
 * for client-streaming calls that send later). Returns 0 (and the call in *ret if ret is not NULL; it is
 * valid until on_done runs or grpc_call_cancel()), or -ENOTCONN while the connection waits to retry, or
 * -EMSGSIZE / -ENOMEM / -EINVAL; on error no callback runs. */
int grpc_call_start(GrpcConn *conn, const char *path, const ProtobufCMessage *request,
                    const GrpcCallOptions *opts, grpc_call_message_cb on_message, grpc_call_done_cb on_done,
                    void *userdata, GrpcCall **ret);

/* Queues one more request message on a client-streaming call. Returns 0, -EPIPE after
 * grpc_call_close_send() or once the call has ended, -EMSGSIZE or -ENOMEM. */
int grpc_call_send(GrpcCall *call, const ProtobufCMessage *msg);

/* Half-closes the request side (END_STREAM after the queued messages). Returns 0 or -EPIPE. */
int grpc_call_close_send(GrpcCall *call);

/* Abandons a call: the stream is reset (RST_STREAM CANCEL) and no callback of this call runs any more,
 * not even on_done. call is invalid afterwards. Accepts NULL. */
void grpc_call_cancel(GrpcCall *call);

/* ---- unary calls with typed replies ---- */

/* reply is the unpacked response (NULL when r < 0), freed after the callback returns. */
typedef void (*grpc_unary_cb)(int r, const char *message, const ProtobufCMessage *reply, void *userdata);

/* A unary call: exactly one reply of type reply_desc is expected (-EPROTO otherwise; -EBADMSG when it does
 * not unpack). Same return values as grpc_call_start(); cb runs exactly once if it returns 0. */
int grpc_unary(GrpcConn *conn, const char *path, const ProtobufCMessage *request,
               const ProtobufCMessageDescriptor *reply_desc, const GrpcCallOptions *opts, grpc_unary_cb cb,
               void *userdata);
