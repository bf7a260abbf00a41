/* Names of a space's network objects: the CNI network and the bridge. */
#include <stdio.h>
#include <string.h>

#include "common/sha256.h"
#include "drivers/cni/cni-internal.h"

#define BRIDGE_PREFIX   "kuke-"
#define BRIDGE_READABLE 3 /* bytes of "<realm>-<space>" kept in a hashed name */
#define BRIDGE_HASH     6 /* hex digits */
#define BRIDGE_SALT_MAX 1000

int cni_network_name(const char *realm, const char *space, char *ret, size_t size)
{
        int n = snprintf(ret, size, "%s-%s", realm, space);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

bool cni_ifname_is_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n >= CNI_BRIDGE_NAME_MAX || streq(name, ".") || streq(name, ".."))
                return false;
        for (size_t i = 0; i < n; i++)
                if (name[i] == '/' || name[i] == ':' || name[i] <= ' ' || name[i] == 0x7f)
                        return false;
        return true;
}

static bool record_is_space(const CniSpaceRecord *r, const char *realm, const char *space)
{
        return streq_ptr(r->realm, realm) && streq_ptr(r->space, space);
}

/* Whether a space other than realm/space records bridge name. */
static bool bridge_taken(const char *name, const char *realm, const char *space,
                         const CniSpaceRecord *records, size_t n_records)
{
        for (size_t i = 0; i < n_records; i++)
                if (!record_is_space(&records[i], realm, space) && streq_ptr(records[i].bridge, name))
                        return true;
        return false;
}

/* "kuke-<3 bytes>_<6 hex>" of realm/space, salted when salt > 0. */
static int bridge_hashed(const char *realm, const char *space, unsigned salt,
                         char ret[static CNI_BRIDGE_NAME_MAX])
{
        char key[2 * 64 + 16];
        int n = salt ? snprintf(key, sizeof(key), "%s/%s#%u", realm, space, salt)
                     : snprintf(key, sizeof(key), "%s/%s", realm, space);
        if (n < 0 || (size_t)n >= sizeof(key))
                return -EINVAL;
        unsigned char digest[32];
        if (sha256_digest_raw(key, (size_t)n, digest) < 0)
                return -EIO;

        char readable[BRIDGE_READABLE + 1];
        snprintf(readable, sizeof(readable), "%s-%s", realm, space);
        /* no separator run such as "kuke-ab-_...": drop trailing dashes */
        size_t k = strlen(readable);
        while (k > 0 && readable[k - 1] == '-')
                readable[--k] = '\0';
        snprintf(ret, CNI_BRIDGE_NAME_MAX, BRIDGE_PREFIX "%s_%02x%02x%02x", readable, digest[0], digest[1],
                 digest[2]);
        return 0;
}

int cni_bridge_name(const char *realm, const char *space, const CniSpaceRecord *records, size_t n_records,
                    char ret[static CNI_BRIDGE_NAME_MAX])
{
        if (!realm || !*realm || !space || !*space)
                return -EINVAL;

        /* recorded in the status: read back rather than recomputed, so a rule change never renames a live
         * bridge */
        for (size_t i = 0; i < n_records; i++) {
                const CniSpaceRecord *r = &records[i];
                if (record_is_space(r, realm, space) && cni_ifname_is_valid(r->bridge) &&
                    !bridge_taken(r->bridge, realm, space, records, n_records)) {
                        snprintf(ret, CNI_BRIDGE_NAME_MAX, "%s", r->bridge);
                        return 0;
                }
        }

        char plain[CNI_BRIDGE_NAME_MAX + 2 * 64];
        int n = snprintf(plain, sizeof(plain), BRIDGE_PREFIX "%s-%s", realm, space);
        if (n > 0 && (size_t)n < CNI_BRIDGE_NAME_MAX &&
            !bridge_taken(plain, realm, space, records, n_records)) {
                memcpy(ret, plain, (size_t)n + 1);
                return 0;
        }

        for (unsigned salt = 0; salt < BRIDGE_SALT_MAX; salt++) {
                int r = bridge_hashed(realm, space, salt, ret);
                if (r < 0)
                        return r;
                if (!bridge_taken(ret, realm, space, records, n_records))
                        return 0;
        }
        return -EADDRINUSE; /* a thousand spaces recording the same hashes: not reachable in practice */
}
