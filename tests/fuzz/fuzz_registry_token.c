/* drivers/containerd/registry-auth-token.c: the token server's JSON answer to a Bearer challenge.
 *
 * Invariants: a parse fails with -EBADMSG, a message and no token, or gives a non-empty token fit for a
 * header line (no control character) and an expiry of at least 60 seconds. */
#include "drivers/containerd/registry-auth.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *token = NULL;
        int64_t expires = -1;
        char message[REGISTRY_AUTH_MESSAGE_MAX] = "";
        int r = registry_token_parse((const char *)data, size, &token, &expires, message);
        if (r < 0) {
                FUZZ_CHECK(!token, "a failed parse returns a token");
                FUZZ_CHECK(r == -ENOMEM || (r == -EBADMSG && strncmp(message, "token response", 14) == 0),
                           "r=%d message \"%s\"", r, message);
                return 0;
        }
        FUZZ_CHECK(token && *token && expires >= 60, "token \"%s\" expires in %lld",
                   token ? token : "(null)", (long long)expires);
        for (const unsigned char *p = (const unsigned char *)token; *p; p++)
                FUZZ_CHECK(*p >= 0x20 && *p != 0x7f, "token with byte 0x%02x", *p);
        free(token);
        return 0;
}
