/* The Content.Write protocol of ctrd_content_write() (containerd-api.md §3 b2) against a fake containerd
 * (tests/fakes/fake-h2-server.h) that checks every request message and answers as containerd does: a new
 * blob in chunks of at most 1 MiB from a file, STAT offset == total (the blob is in another namespace:
 * straight to COMMIT), ALREADY_EXISTS (then Content.Update of the labels), a resumed ingest, and a
 * server error (then Content.Abort of the ref). Every test ends with uv_loop_close() == 0. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "drivers/containerd/ctrd.h"
#include "tests/fakes/fake-h2-server.h"

#include "github.com/containerd/containerd/api/services/content/v1/content.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

/* Helpers of the fake server this test does not need (it is header-only). */
static void *const fake_unused[] _unused_ = {(void *)fake_h2_goaway};

#define WRITE_PATH  "/containerd.services.content.v1.Content/Write"
#define UPDATE_PATH "/containerd.services.content.v1.Content/Update"
#define ABORT_PATH  "/containerd.services.content.v1.Content/Abort"

typedef enum Mode {
        M_NEW,    /* STAT answers offset 0 */
        M_SHARED, /* STAT answers offset == total */
        M_EXISTS, /* STAT fails with ALREADY_EXISTS */
        M_RESUME, /* STAT answers offset RESUME_AT */
        M_FAIL,   /* STAT fails with INTERNAL */
} Mode;

#define BLOB_SIZE ((size_t)(2u << 20) + 12345)
#define RESUME_AT ((int64_t)(1u << 20))

typedef struct T {
        uv_loop_t loop;
        char dir[64], sock[128], file[128];
        FakeH2Server srv;
        GrpcConn *conn;
        Mode mode;
        char digest[SHA256_HEX_MAX];
        int fd;
        /* what the server saw */
        int n_stat, n_write, n_commit, n_update, n_abort;
        int64_t first_write_offset;
        int64_t server_offset;
        char lease[128], update_mask[128], commit_label[128];
        bool bad;             /* a request the server did not expect */
        uv_idle_t reset_idle; /* resets reset_stream once its trailers are out */
        FakeH2Client *reset_client;
        int32_t reset_stream;
        /* the result */
        int n_done, r;
        char message[256];
} T;

static void reply_write(FakeH2Stream *s, Containerd__Services__Content__V1__WriteAction action,
                        int64_t offset, const char *digest)
{
        Containerd__Services__Content__V1__WriteContentResponse resp =
                CONTAINERD__SERVICES__CONTENT__V1__WRITE_CONTENT_RESPONSE__INIT;
        resp.action = action;
        resp.offset = offset;
        resp.total = (int64_t)BLOB_SIZE;
        resp.digest = (char *)digest;
        fake_h2_send_message(s, &resp.base);
}

static void on_reset_idle(uv_idle_t *idle)
{
        T *t = idle->data;
        uv_idle_stop(idle);
        FakeH2Stream *s = nghttp2_session_get_stream_user_data(t->reset_client->session, t->reset_stream);
        if (s) {
                fake_h2_reset(s, NGHTTP2_NO_ERROR);
                fake_h2_client_flush(t->reset_client);
        }
}

static void on_write_request(T *t, FakeH2Stream *s,
                             const Containerd__Services__Content__V1__WriteContentRequest *q)
{
        switch (q->action) {
        case CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__STAT:
                t->n_stat++;
                snprintf(t->lease, sizeof(t->lease), "%s", s->lease);
                if (strcmp(q->ref, "layer-x") != 0 || strcmp(q->expected, t->digest) != 0 ||
                    q->total != (int64_t)BLOB_SIZE)
                        t->bad = true;
                if (t->mode == M_EXISTS || t->mode == M_FAIL) {
                        /* As grpc-go ends a stream the client has not half-closed: trailers, then (once
                         * they are out) RST_STREAM NO_ERROR. */
                        if (t->mode == M_EXISTS)
                                fake_h2_trailers_only(s, 6, "content sha256:x: already exists");
                        else
                                fake_h2_trailers_only(s, 13, "disk full");
                        t->reset_client = s->client;
                        t->reset_stream = s->id;
                        uv_idle_start(&t->reset_idle, on_reset_idle);
                        return;
                }
                t->server_offset = t->mode == M_SHARED   ? (int64_t)BLOB_SIZE
                                   : t->mode == M_RESUME ? RESUME_AT
                                                         : 0;
                reply_write(s, q->action, t->server_offset, NULL);
                return;
        case CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__WRITE:
                if (t->n_write++ == 0)
                        t->first_write_offset = q->offset;
                if (q->offset != t->server_offset || q->data.len == 0 || q->data.len > (1u << 20))
                        t->bad = true;
                t->server_offset += (int64_t)q->data.len;
                reply_write(s, q->action, t->server_offset, NULL);
                return;
        case CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__COMMIT:
                t->n_commit++;
                if (q->total != (int64_t)BLOB_SIZE || t->server_offset != (int64_t)BLOB_SIZE ||
                    strcmp(q->expected, t->digest) != 0 || q->n_labels != 1)
                        t->bad = true;
                else
                        snprintf(t->commit_label, sizeof(t->commit_label), "%s=%s", q->labels[0]->key,
                                 q->labels[0]->value);
                reply_write(s, q->action, t->server_offset, t->digest);
                return;
        default:
                t->bad = true;
        }
}

/* The unary calls that may follow: Update (labels of an existing blob) and Abort. */
static void on_unary_request(T *t, FakeH2Stream *s, const uint8_t *msg, size_t len)
{
        if (strcmp(s->path, UPDATE_PATH) == 0) {
                t->n_update++;
                Containerd__Services__Content__V1__UpdateRequest *q =
                        containerd__services__content__v1__update_request__unpack(NULL, len, msg);
                if (q && q->update_mask && q->update_mask->n_paths == 1)
                        snprintf(t->update_mask, sizeof(t->update_mask), "%s", q->update_mask->paths[0]);
                Containerd__Services__Content__V1__UpdateResponse resp =
                        CONTAINERD__SERVICES__CONTENT__V1__UPDATE_RESPONSE__INIT;
                fake_h2_send_message(s, &resp.base);
                containerd__services__content__v1__update_request__free_unpacked(q, NULL);
        } else if (strcmp(s->path, ABORT_PATH) == 0) {
                t->n_abort++;
                Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
                fake_h2_send_message(s, &empty.base);
        } else
                t->bad = true;
        fake_h2_finish(s, 0, NULL);
}

static void handle(FakeH2Stream *s, bool is_end, void *userdata)
{
        T *t = userdata;
        for (;;) {
                size_t avail = s->request.len - s->handler_off;
                if (avail < GRPC_FRAME_PREFIX_SIZE)
                        break;
                const uint8_t *p = (const uint8_t *)s->request.data + s->handler_off;
                size_t len = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
                if (avail < GRPC_FRAME_PREFIX_SIZE + len)
                        break;
                s->handler_off += GRPC_FRAME_PREFIX_SIZE + len;
                if (strcmp(s->path, WRITE_PATH) != 0) {
                        on_unary_request(t, s, p + GRPC_FRAME_PREFIX_SIZE, len);
                        continue;
                }
                Containerd__Services__Content__V1__WriteContentRequest *q =
                        containerd__services__content__v1__write_content_request__unpack(
                                NULL, len, p + GRPC_FRAME_PREFIX_SIZE);
                assert_non_null(q);
                on_write_request(t, s, q);
                containerd__services__content__v1__write_content_request__free_unpacked(q, NULL);
        }
        if (is_end && strcmp(s->path, WRITE_PATH) == 0 && !s->is_finishing && s->has_headers)
                fake_h2_finish(s, 0, NULL); /* the client half-closed after COMMIT */
}

/* ---- fixture ---- */

static int setup(void **state)
{
        T *t = calloc(1, sizeof(*t));
        snprintf(t->dir, sizeof(t->dir), "/tmp/kuke-test-cw-XXXXXX");
        assert_non_null(mkdtemp(t->dir));
        snprintf(t->sock, sizeof(t->sock), "%s/ctrd.sock", t->dir);
        snprintf(t->file, sizeof(t->file), "%s/blob", t->dir);
        char *data = malloc(BLOB_SIZE);
        for (size_t i = 0; i < BLOB_SIZE; i++)
                data[i] = (char)(i * 7 + i / 4096);
        assert_int_equal(sha256_digest_string(data, BLOB_SIZE, t->digest), 0);
        t->fd = open(t->file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_int_equal(write(t->fd, data, BLOB_SIZE), (ssize_t)BLOB_SIZE);
        free(data);
        assert_int_equal(uv_loop_init(&t->loop), 0);
        assert_int_equal(fake_h2_start(&t->srv, &t->loop, t->sock, handle, t), 0);
        uv_idle_init(&t->loop, &t->reset_idle);
        t->reset_idle.data = t;
        const GrpcConnOptions opts = {.address = t->sock, .default_timeout_ms = 5000};
        assert_int_equal(grpc_conn_new(&t->loop, &opts, &t->conn), 0);
        *state = t;
        return 0;
}

static int teardown(void **state)
{
        T *t = *state;
        grpc_conn_close(t->conn);
        fake_h2_close(&t->srv);
        uv_close((uv_handle_t *)&t->reset_idle, NULL);
        uv_run(&t->loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&t->loop), 0);
        close(t->fd);
        unlink(t->file);
        rmdir(t->dir);
        free(t);
        return 0;
}

static void on_done(int r, const char *message, void *userdata)
{
        T *t = userdata;
        t->n_done++;
        t->r = r;
        snprintf(t->message, sizeof(t->message), "%s", message);
}

static void on_watchdog(uv_timer_t *timer)
{
        *(bool *)timer->data = true;
}

static void write_blob(T *t, Mode mode)
{
        t->mode = mode;
        const CtrdLabel label = {"containerd.io/gc.ref.content.config", "sha256:c"};
        const CtrdContentWrite w = {.ns = "ns",
                                    .lease = "lease-1",
                                    .ref = "layer-x",
                                    .digest = t->digest,
                                    .size = (int64_t)BLOB_SIZE,
                                    .labels = &label,
                                    .n_labels = 1,
                                    .fd = t->fd};
        assert_int_equal(ctrd_content_write(t->conn, &t->loop, &w, on_done, t, NULL), 0);
        bool expired = false;
        uv_timer_t watchdog;
        uv_timer_init(&t->loop, &watchdog);
        watchdog.data = &expired;
        uv_timer_start(&watchdog, on_watchdog, 10000, 0);
        while (t->n_done == 0 && !expired)
                uv_run(&t->loop, UV_RUN_ONCE);
        uv_close((uv_handle_t *)&watchdog, NULL);
        for (int i = 0; i < 20; i++) /* a second callback, or a pending Abort, would show now */
                uv_run(&t->loop, UV_RUN_NOWAIT);
        if (t->n_done != 1 || t->bad)
                fail_msg("n_done %d bad %d r %d \"%s\" update %d abort %d write %d", t->n_done, t->bad, t->r,
                         t->message, t->n_update, t->n_abort, t->n_write);
        assert_int_equal(t->n_stat, 1);
        assert_string_equal(t->lease, "lease-1");
}

static void test_new_blob_in_chunks(void **state)
{
        T *t = *state;
        write_blob(t, M_NEW);
        assert_int_equal(t->r, 1);
        assert_int_equal(t->n_write, 3); /* 1 MiB, 1 MiB, the rest */
        assert_int_equal(t->first_write_offset, 0);
        assert_int_equal(t->n_commit, 1);
        assert_string_equal(t->commit_label, "containerd.io/gc.ref.content.config=sha256:c");
        assert_int_equal(t->n_abort, 0);
}

static void test_shared_blob_commits_at_once(void **state)
{
        T *t = *state;
        write_blob(t, M_SHARED);
        assert_int_equal(t->r, 1);
        assert_int_equal(t->n_write, 0);
        assert_int_equal(t->n_commit, 1);
}

static void test_existing_blob_updates_labels(void **state)
{
        T *t = *state;
        write_blob(t, M_EXISTS);
        assert_int_equal(t->r, 0);
        assert_int_equal(t->n_write + t->n_commit, 0);
        assert_int_equal(t->n_update, 1);
        assert_string_equal(t->update_mask, "labels.containerd.io/gc.ref.content.config");
        assert_int_equal(t->n_abort, 0);
}

static void test_resume(void **state)
{
        T *t = *state;
        write_blob(t, M_RESUME);
        assert_int_equal(t->r, 1);
        assert_int_equal(t->first_write_offset, RESUME_AT);
        assert_int_equal(t->n_write, 2);
}

static void test_failure_aborts_the_ref(void **state)
{
        T *t = *state;
        write_blob(t, M_FAIL);
        assert_int_equal(t->r, -EIO); /* INTERNAL */
        assert_string_equal(t->message, "disk full");
        assert_int_equal(t->n_commit, 0);
        assert_int_equal(t->n_abort, 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_new_blob_in_chunks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_shared_blob_commits_at_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_existing_blob_updates_labels, setup, teardown),
                cmocka_unit_test_setup_teardown(test_resume, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failure_aborts_the_ref, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
