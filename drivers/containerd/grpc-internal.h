/* Internals of the gRPC transport shared by grpc-conn.c (connection, reconnects, I/O, dispatch),
 * grpc-session.c (nghttp2 callbacks) and grpc-call.c (calls, deadlines).
 *
 * Re-entrancy rule: user callbacks run only from grpc_conn_dispatch(), never from inside an nghttp2
 * callback. nghttp2 callbacks only record what arrived (bytes into the call's decoder, the final status)
 * and queue the call; after nghttp2_session_mem_recv() returns, the connection flushes and dispatches. So
 * a user callback may start, cancel or send on calls, or close the connection, at any time. */
#pragma once

#include <nghttp2/nghttp2.h>

#include "drivers/containerd/grpc-frame.h"
#include "drivers/containerd/grpc.h"

/* One connection attempt: the socket and the HTTP/2 session on it. A new link is made for every attempt
 * so a closing socket (whose close callback is still pending) never shares memory with the next one. */
typedef struct GrpcLink {
        GrpcConn *conn; /* NULL once abandoned: the pipe is closing and the link frees itself */
        uv_pipe_t pipe;
        uv_connect_t connect_req;
        nghttp2_session *session;
        bool is_connected; /* the socket connected and reading started */
        bool has_settings; /* the server's SETTINGS arrived: the connection is READY */
        bool has_goaway;
        size_t write_queued; /* bytes handed to uv_write() and not yet written */
        uint8_t read_buf[64 * 1024];
} GrpcLink;

struct GrpcCall {
        GrpcConn *conn;
        unsigned n_ref;        /* conn->calls holds one, the dispatch queue one, dispatch itself one */
        int32_t stream_id;     /* 0 once the stream is closed or detached */
        GrpcCall *prev, *next; /* conn->calls: started, not done, not cancelled */
        GrpcCall *queue_next;  /* conn->queue: has something to deliver */
        bool is_queued;
        bool is_listed;

        /* request side: framed messages not yet taken by nghttp2 */
        uint8_t *send_buf;
        size_t send_len, send_off, send_cap;
        bool is_send_closed;
        bool is_deferred; /* the data provider returned NGHTTP2_ERR_DEFERRED: resume when data comes */

        /* response side */
        GrpcDecoder decoder;
        int http_status; /* 0 until seen */
        int grpc_status; /* -1 until seen (in the response headers or the trailers) */
        char *grpc_message;

        uint64_t deadline; /* uv_now() time in ms; 0: none */
        int64_t timeout_ms;

        bool is_finished;   /* the result is known; on_done is queued */
        bool is_discarding; /* ended locally: deliver no more messages */
        bool is_cancelled;  /* grpc_call_cancel(): no callbacks at all */
        bool is_done;       /* on_done ran */
        int result;
        char *result_message;

        grpc_call_message_cb on_message;
        grpc_call_done_cb on_done;
        void *userdata;
};

struct GrpcConn {
        uv_loop_t *loop;
        unsigned n_ref; /* the owner until grpc_conn_close(), each open timer, each dispatch in progress */
        GrpcConnState state;
        char *address;
        char *default_namespace;
        int64_t default_timeout_ms;
        uint64_t backoff_initial_ms, backoff_max_ms, backoff_ms;
        uint64_t handshake_timeout_ms;
        size_t max_message_size;
        grpc_conn_state_cb on_state;
        void *userdata;

        nghttp2_session_callbacks *callbacks;
        GrpcLink *link; /* the current attempt, NULL while waiting to retry */

        uv_timer_t retry_timer;    /* back-off before reconnecting, or the handshake timeout */
        uv_timer_t deadline_timer; /* the earliest call deadline */
        uv_timer_t kick_timer;     /* deferred work found where no user callback may run: dispatch, or
                                    * tear down the link when kick_error is set */
        uint64_t deadline_armed;   /* when deadline_timer fires; 0: stopped */
        int kick_error;            /* the link failed where it could not be torn down at once */

        GrpcCall *calls;
        size_t n_calls;
        GrpcCall *queue_head, *queue_tail;
        bool is_dispatching;
};

/* grpc-conn.c */
void grpc_conn_ref(GrpcConn *conn);
void grpc_conn_unref(GrpcConn *conn);
/* Runs the queued deliveries and done callbacks (no-op when already running further up the stack). */
void grpc_conn_dispatch(GrpcConn *conn);
/* Hands pending HTTP/2 output to the socket. Safe anywhere except inside nghttp2 callbacks. */
void grpc_link_flush(GrpcLink *link);
/* Tears the current link down from a place where user callbacks may not run: done on the next loop
 * iteration. */
void grpc_conn_fail_later(GrpcConn *conn, int r);
/* Dispatches on the next loop iteration: for calls finished where no user callback may run. */
void grpc_conn_kick(GrpcConn *conn);

/* grpc-session.c */
int grpc_session_callbacks_new(nghttp2_session_callbacks **ret);
ssize_t grpc_session_data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                               uint32_t *data_flags, nghttp2_data_source *source, void *user_data);
/* The errno for a negative nghttp2 error code. */
int grpc_nghttp2_to_errno(int e);

/* grpc-call.c */
void grpc_call_ref(GrpcCall *call);
void grpc_call_unref(GrpcCall *call);
/* Records the result (the first one wins) and queues on_done. Runs no user code. */
void grpc_call_finish(GrpcCall *call, int r, const char *message);
/* Ends the call locally with r (overriding a success): resets its stream and drops undelivered messages.
 * Runs no user code. */
void grpc_call_abort(GrpcCall *call, int r, const char *message);
/* Ends a call whose stream is gone with the connection, unless its result is already in: then that result
 * stands, with its messages. Runs no user code. */
void grpc_call_fail(GrpcCall *call, int r, const char *message);
/* Queues the call for delivery. */
void grpc_call_queue(GrpcCall *call);
/* Delivers buffered messages and, when finished, on_done. */
void grpc_call_deliver(GrpcCall *call);
/* Re-arms the connection's deadline timer for its earliest deadline. */
void grpc_conn_arm_deadline(GrpcConn *conn);
void grpc_conn_on_deadline(uv_timer_t *timer);
