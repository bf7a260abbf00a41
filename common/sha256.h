/* SHA-256 over libnettle (far cheaper to load than libcrypto, which kuke and kukeond would map at every
 * start for this alone), as the "sha256:<hex>" strings containerd and our status files use. */
#pragma once

#include <stddef.h>

#define SHA256_HEX_MAX (7 + 64 + 1) /* "sha256:" + hex + NUL */

/* Writes "sha256:<64 hex>" of data into ret. Returns 0. */
int sha256_digest_string(const void *data, size_t len, char ret[static SHA256_HEX_MAX]);
/* Raw 32-byte digest. Returns 0. */
int sha256_digest_raw(const void *data, size_t len, unsigned char ret[static 32]);
