#include <nettle/sha2.h>
#include <string.h>

#include "common/sha256.h"

int sha256_digest_raw(const void *data, size_t len, unsigned char ret[static 32])
{
        struct sha256_ctx ctx;
        sha256_init(&ctx);
        sha256_update(&ctx, len, data);
        sha256_digest(&ctx, SHA256_DIGEST_SIZE, ret);
        return 0;
}

int sha256_digest_string(const void *data, size_t len, char ret[static SHA256_HEX_MAX])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char md[SHA256_DIGEST_SIZE];
        (void)sha256_digest_raw(data, len, md);
        memcpy(ret, "sha256:", 7);
        for (size_t i = 0; i < 32; i++) {
                ret[7 + 2 * i] = hex[md[i] >> 4];
                ret[7 + 2 * i + 1] = hex[md[i] & 0xf];
        }
        ret[7 + 64] = '\0';
        return 0;
}
