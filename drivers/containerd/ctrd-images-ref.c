/* Pure helpers of images: reference normalization (docker's rules) and chain IDs. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/archive.h"
#include "drivers/containerd/ctrd.h"

#define REF_NAME_MAX 255 /* docker's limit on the normalized name: domain/path */
#define REF_TAG_MAX  128
/* the longest valid reference: name, ":" tag, "@sha256:" and 64 hex digits */
#define REF_INPUT_MAX (REF_NAME_MAX + 1 + REF_TAG_MAX + 1 + 7 + 64)

static bool is_lower_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+ joined by ".", "_", "__" or runs of "-". */
static bool component_is_valid(const char *s, size_t len)
{
        if (len == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
                return false;
        for (size_t i = 0; i < len; i++) {
                if (is_lower_alnum(s[i]))
                        continue;
                size_t run = 1;
                while (i + run < len && !is_lower_alnum(s[i + run]))
                        run++;
                bool ok = (run == 1 && (s[i] == '.' || s[i] == '_' || s[i] == '-')) ||
                          (run == 2 && s[i] == '_' && s[i + 1] == '_');
                for (size_t j = 0; !ok && j < run && s[i + j] == '-'; j++)
                        ok = j == run - 1;
                if (!ok)
                        return false;
                i += run - 1;
        }
        return true;
}

static bool domain_is_valid(const char *s, size_t len)
{
        if (len == 0)
                return false;
        const char *colon = memchr(s, ':', len);
        size_t host = colon ? (size_t)(colon - s) : len;
        if (host == 0)
                return false;
        for (size_t i = 0; i < host; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
                        return false;
        for (size_t i = host + 1; colon && i < len; i++)
                if (!isdigit((unsigned char)s[i]))
                        return false;
        return !colon || host + 1 < len;
}

static bool tag_is_valid(const char *s)
{
        size_t len = strlen(s);
        if (len == 0 || len > REF_TAG_MAX || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
                return false;
        for (size_t i = 1; i < len; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
                        return false;
        return true;
}

/* Splits "name[:tag][@digest]" (in place). */
static int ref_split(char *s, char **ret_tag, char **ret_digest)
{
        char *at = strchr(s, '@');
        *ret_digest = NULL;
        *ret_tag = NULL;
        if (at) {
                *at = '\0';
                *ret_digest = at + 1;
                if (!oci_digest_is_valid(*ret_digest))
                        return -EINVAL;
        }
        char *slash = strrchr(s, '/');
        char *colon = strrchr(slash ? slash : s, ':');
        if (colon) {
                *colon = '\0';
                *ret_tag = colon + 1;
                if (!tag_is_valid(*ret_tag))
                        return -EINVAL;
        }
        return 0;
}

int ctrd_image_ref_normalize(const char *ref, char **ret)
{
        if (!ref || !*ref || strlen(ref) > REF_INPUT_MAX)
                return -EINVAL;
        _cleanup_free_ char *s = strdup(ref);
        if (!s)
                return -ENOMEM;
        char *tag, *digest;
        if (ref_split(s, &tag, &digest) < 0)
                return -EINVAL;
        const char *domain = "docker.io", *path = s;
        char *slash = strchr(s, '/');
        if (slash && (memchr(s, '.', (size_t)(slash - s)) || memchr(s, ':', (size_t)(slash - s)) ||
                      (slash - s == 9 && strncmp(s, "localhost", 9) == 0))) {
                *slash = '\0';
                domain = s;
                path = slash + 1;
                if (!domain_is_valid(domain, strlen(domain)))
                        return -EINVAL;
        }
        if (streq(domain, "index.docker.io"))
                domain = "docker.io";
        bool is_library = streq(domain, "docker.io") && !strchr(path, '/');
        /* the limit holds for the name as it comes out, so that it normalizes again */
        if (strlen(domain) + 1 + (is_library ? strlen("library/") : 0) + strlen(path) > REF_NAME_MAX)
                return -EINVAL;
        for (const char *p = path;;) {
                const char *end = strchrnul(p, '/');
                if (!component_is_valid(p, (size_t)(end - p)))
                        return -EINVAL;
                if (!*end)
                        break;
                p = end + 1;
        }
        if (!tag && !digest)
                tag = "latest";
        if (asprintf(ret, "%s/%s%s%s%s%s%s", domain, is_library ? "library/" : "", path, tag ? ":" : "",
                     strempty(tag), digest ? "@" : "", strempty(digest)) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

int ctrd_chain_id_next(const char *parent, const char *diff_id, char ret[static SHA256_HEX_MAX])
{
        if (!oci_digest_is_valid(diff_id) || (parent && !oci_digest_is_valid(parent)))
                return -EINVAL;
        if (!parent) {
                memcpy(ret, diff_id, SHA256_HEX_MAX);
                return 0;
        }
        char buf[2 * SHA256_HEX_MAX];
        int n = snprintf(buf, sizeof(buf), "%s %s", parent, diff_id);
        return sha256_digest_string(buf, (size_t)n, ret);
}

int ctrd_chain_ids(const char *const *diff_ids, size_t n, char (*ret)[SHA256_HEX_MAX])
{
        for (size_t i = 0; i < n; i++) {
                int r = ctrd_chain_id_next(i ? ret[i - 1] : NULL, diff_ids[i], ret[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}
