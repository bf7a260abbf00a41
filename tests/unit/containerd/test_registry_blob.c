/* The checking buffer between a blob's download and its Content.Write: a streamed blob is hashed as it
 * arrives, handed on in pieces, and its last byte only goes once size and sha256 are right — so a
 * corrupted or truncated blob can never complete. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#include "drivers/containerd/registry-blob.h"

#define BLOB_SIZE 300000

static uint8_t *make_blob(char digest[static SHA256_HEX_MAX])
{
        uint8_t *b = malloc(BLOB_SIZE);
        assert_non_null(b);
        for (size_t i = 0; i < BLOB_SIZE; i++)
                b[i] = (uint8_t)(i * 7 + i / 251);
        assert_int_equal(sha256_digest_string(b, BLOB_SIZE, digest), 0);
        return b;
}

/* Streams blob through a buffer in chunks of `in` bytes, taking at most `out` bytes whenever possible;
 * returns what finish said and how many bytes were taken (into taken). */
static int stream(const uint8_t *blob, size_t len, const char *digest, size_t in, size_t out, uint8_t *taken,
                  size_t *ret_n, char *msg)
{
        RegistryBlobBuffer b;
        assert_int_equal(registry_blob_buffer_init(&b, digest, BLOB_SIZE), 0);
        size_t n = 0;
        int r = 0;
        for (size_t off = 0; off < len && r >= 0; off += in) {
                size_t chunk = len - off < in ? len - off : in;
                r = registry_blob_buffer_push(&b, blob + off, chunk, msg);
                const void *p;
                size_t k;
                while (r >= 0 && (k = registry_blob_buffer_peek(&b, out, &p)) > 0) {
                        memcpy(taken + n, p, k);
                        n += k;
                        registry_blob_buffer_consume(&b, k);
                }
                /* Never the whole blob before finish. */
                assert_true(n < BLOB_SIZE);
        }
        if (r >= 0)
                r = registry_blob_buffer_finish(&b, msg);
        const void *p;
        size_t k;
        while ((k = registry_blob_buffer_peek(&b, out, &p)) > 0) {
                memcpy(taken + n, p, k);
                n += k;
                registry_blob_buffer_consume(&b, k);
        }
        *ret_n = n;
        registry_blob_buffer_done(&b);
        return r;
}

static void test_good_stream(void **state)
{
        char digest[SHA256_HEX_MAX], msg[REGISTRY_BLOB_MESSAGE_MAX];
        uint8_t *blob = make_blob(digest);
        uint8_t *taken = malloc(BLOB_SIZE + 1);
        static const size_t ins[] = {1, 1000, 16384, 65536 + 3, BLOB_SIZE};
        static const size_t outs[] = {1, 4096, 1 << 20};
        for (size_t i = 0; i < sizeof(ins) / sizeof(ins[0]); i++)
                for (size_t j = 0; j < sizeof(outs) / sizeof(outs[0]); j++) {
                        if (ins[i] == 1 && outs[j] != 1 << 20)
                                continue; /* slow and says nothing new */
                        size_t n = 0;
                        memset(taken, 0, BLOB_SIZE);
                        assert_int_equal(stream(blob, BLOB_SIZE, digest, ins[i], outs[j], taken, &n, msg),
                                         0);
                        assert_int_equal(n, BLOB_SIZE);
                        assert_memory_equal(taken, blob, BLOB_SIZE);
                }
        free(taken);
        free(blob);
}

static void test_corrupted(void **state)
{
        char digest[SHA256_HEX_MAX], msg[REGISTRY_BLOB_MESSAGE_MAX];
        uint8_t *blob = make_blob(digest);
        uint8_t *taken = malloc(BLOB_SIZE + 1);
        size_t n;

        /* One byte flipped in the middle: all but the last byte go, finish fails. */
        blob[BLOB_SIZE / 2] ^= 0x40;
        assert_int_equal(stream(blob, BLOB_SIZE, digest, 8192, 1 << 20, taken, &n, msg), -EBADMSG);
        assert_int_equal(n, BLOB_SIZE - 1);
        assert_non_null(strstr(msg, "digest mismatch: the content hashes to sha256:"));
        blob[BLOB_SIZE / 2] ^= 0x40;

        /* Truncated: finish fails on the size. */
        assert_int_equal(stream(blob, BLOB_SIZE - 10, digest, 8192, 1 << 20, taken, &n, msg), -EBADMSG);
        assert_true(n <= BLOB_SIZE - 10);
        assert_string_equal(msg, "size mismatch: 299990 bytes arrived, the descriptor says 300000");

        /* Too long: the push of the extra bytes fails. */
        uint8_t *longer = malloc(BLOB_SIZE + 5);
        memcpy(longer, blob, BLOB_SIZE);
        memset(longer + BLOB_SIZE, 0, 5);
        assert_int_equal(stream(longer, BLOB_SIZE + 5, digest, 8192, 1 << 20, taken, &n, msg), -EBADMSG);
        assert_true(n < BLOB_SIZE);
        assert_non_null(strstr(msg, "size mismatch: more than the 300000 bytes"));
        free(longer);
        free(taken);
        free(blob);
}

static void test_buffer_edges(void **state)
{
        char msg[REGISTRY_BLOB_MESSAGE_MAX];
        RegistryBlobBuffer b;
        assert_int_equal(registry_blob_buffer_init(&b, "sha256:abc", 1), -EINVAL);
        assert_int_equal(registry_blob_buffer_init(&b, "md5:x", 1), -EINVAL);
        char digest[SHA256_HEX_MAX];
        assert_int_equal(sha256_digest_string("x", 1, digest), 0);
        assert_int_equal(registry_blob_buffer_init(&b, digest, -1), -EINVAL);
        registry_blob_buffer_done(&b); /* zeroed: fine */

        /* A one-byte blob: nothing may go before finish. */
        assert_int_equal(registry_blob_buffer_init(&b, digest, 1), 0);
        const void *p;
        assert_int_equal(registry_blob_buffer_push(&b, "x", 1, msg), 0);
        assert_int_equal(registry_blob_buffer_pending(&b), 1);
        assert_int_equal(registry_blob_buffer_peek(&b, 100, &p), 0);
        assert_int_equal(registry_blob_buffer_finish(&b, msg), 0);
        assert_int_equal(registry_blob_buffer_finish(&b, msg), 0); /* again: still fine */
        assert_int_equal(registry_blob_buffer_peek(&b, 100, &p), 1);
        assert_memory_equal(p, "x", 1);
        registry_blob_buffer_consume(&b, 1);
        assert_int_equal(registry_blob_buffer_pending(&b), 0);
        registry_blob_buffer_done(&b);

        /* Wrong content of the right size: fails, and keeps failing. */
        assert_int_equal(registry_blob_buffer_init(&b, digest, 1), 0);
        assert_int_equal(registry_blob_buffer_push(&b, "y", 1, msg), 0);
        assert_int_equal(registry_blob_buffer_finish(&b, msg), -EBADMSG);
        assert_int_equal(registry_blob_buffer_finish(&b, msg), -EBADMSG);
        assert_int_equal(registry_blob_buffer_peek(&b, 100, &p), 0);
        registry_blob_buffer_done(&b);

        /* The empty blob. */
        char empty[SHA256_HEX_MAX];
        assert_int_equal(sha256_digest_string("", 0, empty), 0);
        assert_int_equal(registry_blob_buffer_init(&b, empty, 0), 0);
        assert_int_equal(registry_blob_buffer_peek(&b, 100, &p), 0);
        assert_int_equal(registry_blob_buffer_finish(&b, msg), 0);
        registry_blob_buffer_done(&b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_good_stream),
                cmocka_unit_test(test_corrupted),
                cmocka_unit_test(test_buffer_edges),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
