/* The pure parts of the containerd transport: gRPC message framing, grpc-message percent-decoding,
 * grpc-status to errno, grpc-timeout formatting, and the decoding of event envelopes. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#include "drivers/containerd/ctrd-internal.h"
#include "drivers/containerd/grpc-frame.h"
#include "drivers/containerd/grpc.h"

#include "github.com/containerd/containerd/api/events/namespace.pb-c.h"
#include "github.com/containerd/containerd/api/events/task.pb-c.h"
#include "google/protobuf/any.pb-c.h"

/* ---- framing ---- */

/* Appends a framed message whose payload is len bytes of value fill. */
static size_t frame(uint8_t *out, size_t len, uint8_t fill)
{
        grpc_frame_prefix(out, (uint32_t)len);
        memset(out + GRPC_FRAME_PREFIX_SIZE, fill, len);
        return GRPC_FRAME_PREFIX_SIZE + len;
}

static void expect_message(GrpcDecoder *d, size_t len, uint8_t fill)
{
        const uint8_t *data;
        size_t n;
        assert_int_equal(grpc_decoder_next(d, &data, &n), 1);
        assert_int_equal(n, len);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(data[i], fill);
}

static void expect_nothing(GrpcDecoder *d)
{
        const uint8_t *data;
        size_t n;
        assert_int_equal(grpc_decoder_next(d, &data, &n), 0);
}

static void test_frame_prefix(void **state)
{
        uint8_t p[GRPC_FRAME_PREFIX_SIZE];
        grpc_frame_prefix(p, 0x01020304);
        assert_memory_equal(p, ((uint8_t[]){0, 1, 2, 3, 4}), sizeof(p));
        grpc_frame_prefix(p, 0);
        assert_memory_equal(p, ((uint8_t[]){0, 0, 0, 0, 0}), sizeof(p));
}

static void test_frame_whole_and_empty(void **state)
{
        GrpcDecoder d;
        grpc_decoder_init(&d, 0);
        uint8_t buf[64];
        size_t n = frame(buf, 10, 0xab);
        n += frame(buf + n, 0, 0); /* google.protobuf.Empty is the 5 bytes 00 00 00 00 00 */
        assert_int_equal(grpc_decoder_feed(&d, buf, n), 0);
        expect_message(&d, 10, 0xab);
        expect_message(&d, 0, 0);
        expect_nothing(&d);
        assert_false(grpc_decoder_has_partial(&d));
        grpc_decoder_done(&d);
}

static void test_frame_split_byte_by_byte(void **state)
{
        /* One message spread over many DATA frames, cut inside the prefix too. */
        GrpcDecoder d;
        grpc_decoder_init(&d, 0);
        uint8_t buf[300];
        size_t n = frame(buf, 295, 0x5a);
        for (size_t i = 0; i < n - 1; i++) {
                assert_int_equal(grpc_decoder_feed(&d, buf + i, 1), 0);
                expect_nothing(&d);
                assert_true(grpc_decoder_has_partial(&d));
        }
        assert_int_equal(grpc_decoder_feed(&d, buf + n - 1, 1), 0);
        expect_message(&d, 295, 0x5a);
        expect_nothing(&d);
        assert_false(grpc_decoder_has_partial(&d));
        grpc_decoder_done(&d);
}

static void test_frame_coalesced_and_straddling(void **state)
{
        /* Three messages in two "frames": the cut falls inside the second message's payload. */
        GrpcDecoder d;
        grpc_decoder_init(&d, 0);
        uint8_t buf[8192];
        size_t n = frame(buf, 3, 1);
        n += frame(buf + n, 5000, 2);
        n += frame(buf + n, 7, 3);
        size_t cut = 3 + GRPC_FRAME_PREFIX_SIZE + 100;
        assert_int_equal(grpc_decoder_feed(&d, buf, cut), 0);
        expect_message(&d, 3, 1);
        expect_nothing(&d);
        assert_true(grpc_decoder_has_partial(&d));
        assert_int_equal(grpc_decoder_feed(&d, buf + cut, n - cut), 0);
        expect_message(&d, 5000, 2);
        expect_message(&d, 7, 3);
        expect_nothing(&d);
        grpc_decoder_done(&d);
}

static void test_frame_oversize_rejected(void **state)
{
        GrpcDecoder d;
        grpc_decoder_init(&d, 16);
        uint8_t buf[64];
        size_t n = frame(buf, 16, 7);
        assert_int_equal(grpc_decoder_feed(&d, buf, n), 0); /* exactly the limit is fine */
        expect_message(&d, 16, 7);
        /* Rejected as soon as the prefix is in, before the payload is buffered. */
        grpc_frame_prefix(buf, 17);
        assert_int_equal(grpc_decoder_feed(&d, buf, GRPC_FRAME_PREFIX_SIZE), -EMSGSIZE);
        grpc_decoder_done(&d);

        /* A too-large message behind a good one in the same frame is caught by next(). */
        grpc_decoder_init(&d, 16);
        n = frame(buf, 4, 1);
        grpc_frame_prefix(buf + n, 1u << 30);
        n += GRPC_FRAME_PREFIX_SIZE;
        assert_int_equal(grpc_decoder_feed(&d, buf, n), 0);
        expect_message(&d, 4, 1);
        const uint8_t *data;
        size_t len;
        assert_int_equal(grpc_decoder_next(&d, &data, &len), -EMSGSIZE);
        grpc_decoder_done(&d);

        /* The default limit is containerd's 16 MiB. */
        grpc_decoder_init(&d, 0);
        grpc_frame_prefix(buf, GRPC_DEFAULT_MAX_MESSAGE + 1);
        assert_int_equal(grpc_decoder_feed(&d, buf, GRPC_FRAME_PREFIX_SIZE), -EMSGSIZE);
        grpc_decoder_done(&d);
}

static void test_frame_compressed_rejected(void **state)
{
        GrpcDecoder d;
        grpc_decoder_init(&d, 0);
        const uint8_t buf[] = {1, 0, 0, 0, 1, 0x42};
        assert_int_equal(grpc_decoder_feed(&d, buf, sizeof(buf)), -EPROTO);
        grpc_decoder_done(&d);
}

/* ---- grpc-message, grpc-status, grpc-timeout ---- */

static void expect_decoded(const char *in, const char *want)
{
        char *s = grpc_percent_decode(in, strlen(in));
        assert_non_null(s);
        assert_string_equal(s, want);
        free(s);
}

static void test_percent_decode(void **state)
{
        expect_decoded("", "");
        expect_decoded("namespace \"x\": not found", "namespace \"x\": not found");
        expect_decoded("100%25 done", "100% done");
        expect_decoded("a%20b%0Ac", "a b\nc");
        expect_decoded("%e2%9c%93", "\xe2\x9c\x93"); /* UTF-8, either case of hex digits */
        expect_decoded("%E2%9C%93", "\xe2\x9c\x93");
        /* Malformed escapes stay as they are. */
        expect_decoded("50%", "50%");
        expect_decoded("50%2", "50%2");
        expect_decoded("%zz%", "%zz%");
        expect_decoded("%%41", "%A");
        /* Only len bytes are read. */
        char *s = grpc_percent_decode("ab%41cd", 5);
        assert_string_equal(s, "abA");
        free(s);
}

static void test_status_to_errno(void **state)
{
        assert_int_equal(grpc_status_to_errno(GRPC_STATUS_OK), 0);
        assert_int_equal(grpc_status_to_errno(GRPC_STATUS_CANCELLED), -ECANCELED);
        assert_int_equal(grpc_status_to_errno(GRPC_STATUS_UNKNOWN), -EIO);
        assert_int_equal(grpc_status_to_errno(GRPC_STATUS_INVALID_ARGUMENT), -EINVAL);
        assert_int_equal(grpc_status_to_errno(GRPC_STATUS_DEADLINE_EXCEEDED), -ETIMEDOUT);
        assert_int_equal(grpc_status_to_errno(GRPC_STATUS_NOT_FOUND), -ENOENT);
        assert_int_equal(grpc_status_to_errno(GRPC_STATUS_ALREADY_EXISTS), -EEXIST);
        assert_int_equal(grpc_status_to_errno(GRPC_STATUS_PERMISSION_DENIED), -EACCES);
        assert_int_equal(grpc_status_to_errno(GRPC_STATUS_RESOURCE_EXHAUSTED), -EMSGSIZE);
        assert_int_equal(grpc_status_to_errno(GRPC_STATUS_FAILED_PRECONDITION), -EBUSY);
        assert_int_equal(grpc_status_to_errno(GRPC_STATUS_ABORTED), -EIO);
        assert_int_equal(grpc_status_to_errno(GRPC_STATUS_OUT_OF_RANGE), -ERANGE);
        assert_int_equal(grpc_status_to_errno(GRPC_STATUS_UNIMPLEMENTED), -EOPNOTSUPP);
        assert_int_equal(grpc_status_to_errno(GRPC_STATUS_INTERNAL), -EIO);
        assert_int_equal(grpc_status_to_errno(GRPC_STATUS_UNAVAILABLE), -ENOTCONN);
        assert_int_equal(grpc_status_to_errno(GRPC_STATUS_DATA_LOSS), -EIO);
        assert_int_equal(grpc_status_to_errno(GRPC_STATUS_UNAUTHENTICATED), -EACCES);
        assert_int_equal(grpc_status_to_errno(17), -EIO);
        assert_int_equal(grpc_status_to_errno(-1), -EIO);

        assert_string_equal(grpc_status_to_string(GRPC_STATUS_NOT_FOUND), "NOT_FOUND");
        assert_string_equal(grpc_status_to_string(GRPC_STATUS_UNAUTHENTICATED), "UNAUTHENTICATED");
        assert_string_equal(grpc_status_to_string(99), "UNKNOWN");

        assert_int_equal(grpc_status_from_http(404), GRPC_STATUS_UNIMPLEMENTED);
        assert_int_equal(grpc_status_from_http(503), GRPC_STATUS_UNAVAILABLE);
        assert_int_equal(grpc_status_from_http(400), GRPC_STATUS_INTERNAL);
        assert_int_equal(grpc_status_from_http(500), GRPC_STATUS_UNKNOWN);
}

static void expect_timeout(int64_t ms, const char *want)
{
        char buf[GRPC_TIMEOUT_MAX];
        assert_string_equal(grpc_timeout_format(ms, buf), want);
}

static void test_timeout_format(void **state)
{
        expect_timeout(1, "1m");
        expect_timeout(1500, "1500m");
        expect_timeout(0, "1m"); /* never "0": that would be an expired deadline */
        expect_timeout(99999999, "99999999m");
        /* Past 8 digits the unit gets coarser and the value rounds up. */
        expect_timeout(100000000, "100000S");
        expect_timeout(100000001, "100001S");
        expect_timeout(INT64_C(99999999) * 1000 + 1, "1666667M");
        expect_timeout(INT64_C(99999999) * 60 * 1000 + 1, "1666667H");
        expect_timeout(INT64_MAX, "99999999H"); /* capped */

        /* The server hears of a later deadline than ours. */
        assert_int_equal(grpc_server_timeout(300), 580);
        assert_int_equal(grpc_server_timeout(10000), 11250);
        assert_true(grpc_server_timeout(INT64_MAX) == INT64_MAX);
}

/* ---- events ---- */

static uint8_t *pack_envelope(const char *topic, const char *type_url, const ProtobufCMessage *payload,
                              size_t *ret_len)
{
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
        ts.seconds = 1700000000;
        ts.nanos = 5;
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        uint8_t *value = NULL;
        if (payload) {
                value = malloc(protobuf_c_message_get_packed_size(payload) + 1);
                any.value.len = protobuf_c_message_pack(payload, value);
                any.value.data = value;
        } else {
                any.value.data = (uint8_t *)"\xff\xff\xff";
                any.value.len = 3; /* not a valid message */
        }
        any.type_url = (char *)type_url;
        Containerd__Services__Events__V1__Envelope env = CONTAINERD__SERVICES__EVENTS__V1__ENVELOPE__INIT;
        env.timestamp = &ts;
        env.namespace_ = "kukeon-test";
        env.topic = (char *)topic;
        env.event = &any;
        uint8_t *out = malloc(protobuf_c_message_get_packed_size(&env.base));
        *ret_len = protobuf_c_message_pack(&env.base, out);
        free(value);
        return out;
}

static void test_event_decode_task_exit(void **state)
{
        Google__Protobuf__Timestamp at = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
        at.seconds = 2;
        at.nanos = 3;
        Containerd__Events__TaskExit ex = CONTAINERD__EVENTS__TASK_EXIT__INIT;
        ex.container_id = "default_default_web_root";
        ex.id = "default_default_web_root"; /* the init process: id == container id */
        ex.pid = 4242;
        ex.exit_status = 137;
        ex.exited_at = &at;
        size_t len;
        uint8_t *data = pack_envelope("/tasks/exit", "containerd.events.TaskExit", &ex.base, &len);
        CtrdEventBuf buf;
        CtrdEvent ev;
        assert_int_equal(ctrd_event_decode(data, len, &buf, &ev), 0);
        assert_int_equal(ev.type, CTRD_EVENT_TASK_EXIT);
        assert_string_equal(ev.topic, "/tasks/exit");
        assert_string_equal(ev.ns, "kukeon-test");
        assert_true(ev.timestamp_ns == INT64_C(1700000000000000005));
        assert_string_equal(ev.container_id, "default_default_web_root");
        assert_string_equal(ev.exec_id, "");
        assert_int_equal(ev.pid, 4242);
        assert_int_equal(ev.exit_status, 137);
        assert_true(ev.exited_at_ns == INT64_C(2000000003));
        assert_string_equal(ctrd_event_type_to_string(ev.type), "task-exit");
        ctrd_event_buf_done(&buf);
        free(data);

        /* An exec process keeps its id. */
        ex.id = "exec1";
        data = pack_envelope("/tasks/exit", "containerd.events.TaskExit", &ex.base, &len);
        assert_int_equal(ctrd_event_decode(data, len, &buf, &ev), 0);
        assert_string_equal(ev.exec_id, "exec1");
        ctrd_event_buf_done(&buf);
        free(data);
}

static void test_event_decode_others(void **state)
{
        Containerd__Events__NamespaceCreate nc = CONTAINERD__EVENTS__NAMESPACE_CREATE__INIT;
        nc.name = "kukeon-x";
        size_t len;
        uint8_t *data =
                pack_envelope("/namespaces/create", "containerd.events.NamespaceCreate", &nc.base, &len);
        CtrdEventBuf buf;
        CtrdEvent ev;
        assert_int_equal(ctrd_event_decode(data, len, &buf, &ev), 0);
        assert_int_equal(ev.type, CTRD_EVENT_NAMESPACE_CREATE);
        assert_string_equal(ev.name, "kukeon-x");
        assert_string_equal(ev.container_id, "");
        ctrd_event_buf_done(&buf);
        free(data);

        /* A prefixed type URL is accepted too. */
        Containerd__Events__TaskOOM oom = CONTAINERD__EVENTS__TASK_OOM__INIT;
        oom.container_id = "c7";
        data = pack_envelope("/tasks/oom", "types.containerd.io/containerd.events.TaskOOM", &oom.base, &len);
        assert_int_equal(ctrd_event_decode(data, len, &buf, &ev), 0);
        assert_int_equal(ev.type, CTRD_EVENT_TASK_OOM);
        assert_string_equal(ev.container_id, "c7");
        ctrd_event_buf_done(&buf);
        free(data);

        /* Unknown types pass through undecoded. */
        data = pack_envelope("/snapshot/prepare", "containerd.events.SnapshotPrepare", &nc.base, &len);
        assert_int_equal(ctrd_event_decode(data, len, &buf, &ev), 0);
        assert_int_equal(ev.type, CTRD_EVENT_OTHER);
        assert_string_equal(ev.topic, "/snapshot/prepare");
        ctrd_event_buf_done(&buf);
        free(data);

        /* A known type whose payload does not unpack, and garbage instead of an envelope. */
        data = pack_envelope("/tasks/exit", "containerd.events.TaskExit", NULL, &len);
        assert_int_equal(ctrd_event_decode(data, len, &buf, &ev), -EBADMSG);
        free(data);
        assert_int_equal(ctrd_event_decode((const uint8_t *)"\xff\xff", 2, &buf, &ev), -EBADMSG);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_frame_prefix),
                cmocka_unit_test(test_frame_whole_and_empty),
                cmocka_unit_test(test_frame_split_byte_by_byte),
                cmocka_unit_test(test_frame_coalesced_and_straddling),
                cmocka_unit_test(test_frame_oversize_rejected),
                cmocka_unit_test(test_frame_compressed_rejected),
                cmocka_unit_test(test_percent_decode),
                cmocka_unit_test(test_status_to_errno),
                cmocka_unit_test(test_timeout_format),
                cmocka_unit_test(test_event_decode_task_exit),
                cmocka_unit_test(test_event_decode_others),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
