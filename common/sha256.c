#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "common/sha256.h"

int sha256_digest_raw(const void *data, size_t len, unsigned char ret[static 32])
{
        unsigned int n = 0;
        if (EVP_Digest(data, len, ret, &n, EVP_sha256(), NULL) != 1 || n != 32)
                return -EIO;
        return 0;
}

int sha256_digest_string(const void *data, size_t len, char ret[static SHA256_HEX_MAX])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char md[32];
        int r = sha256_digest_raw(data, len, md);
        if (r < 0)
                return r;
        memcpy(ret, "sha256:", 7);
        for (size_t i = 0; i < 32; i++) {
                ret[7 + 2 * i] = hex[md[i] >> 4];
                ret[7 + 2 * i + 1] = hex[md[i] & 0xf];
        }
        ret[7 + 64] = '\0';
        return 0;
}
