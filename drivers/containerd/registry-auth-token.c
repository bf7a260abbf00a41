/* The token server of a Bearer challenge: its request URL and its JSON answer (distribution's token
 * spec; containerd's remotes/docker/auth/fetch.go treats "token" and "access_token" alike). */
#include <errno.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/macro.h"
#include "drivers/containerd/registry-auth.h"

#define TOKEN_EXPIRES_MIN_S 60

static int buf_put_encoded(Buf *b, const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
                bool is_unreserved = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                                     (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_' ||
                                     *c == '~';
                char esc[3] = {'%', hex[*c >> 4], hex[*c & 0xf]};
                int r = is_unreserved ? buf_append(b, c, 1) : buf_append(b, esc, 3);
                if (r < 0)
                        return r;
        }
        return 0;
}

int registry_token_url(const char *realm, const char *service, const char *scope, char **ret)
{
        *ret = NULL;
        if (!realm || (strncasecmp(realm, "https://", 8) != 0 && strncasecmp(realm, "http://", 7) != 0))
                return -EINVAL;
        for (const unsigned char *c = (const unsigned char *)realm; *c; c++)
                if (*c <= 0x20 || *c == 0x7f || *c == '#')
                        return -EINVAL;
        Buf b = BUF_INIT;
        char sep = strchr(realm, '?') ? '&' : '?';
        int r = buf_puts(&b, realm);
        if (r >= 0 && service && *service) {
                r = buf_printf(&b, "%cservice=", sep);
                sep = '&';
                if (r >= 0)
                        r = buf_put_encoded(&b, service);
        }
        if (r >= 0 && scope && *scope) {
                r = buf_printf(&b, "%cscope=", sep);
                if (r >= 0)
                        r = buf_put_encoded(&b, scope);
        }
        if (r < 0) {
                buf_done(&b);
                return r;
        }
        *ret = buf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

static const char *token_member(json_t *root)
{
        static const char *const keys[] = {"token", "access_token"};
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
                const char *v = json_string_value(json_object_get(root, keys[i]));
                if (v && *v)
                        return v;
        }
        return NULL;
}

int registry_token_parse(const char *body, size_t len, char **ret_token, int64_t *ret_expires_s,
                         char message[static REGISTRY_AUTH_MESSAGE_MAX])
{
        *ret_token = NULL;
        json_error_t error;
        json_t *root = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, &error);
        if (!root) {
                snprintf(message, REGISTRY_AUTH_MESSAGE_MAX, "token response: %d:%d: %s", error.line,
                         error.column, error.text);
                return -EBADMSG;
        }
        const char *token = json_is_object(root) ? token_member(root) : NULL;
        if (!token) {
                json_decref(root);
                snprintf(message, REGISTRY_AUTH_MESSAGE_MAX,
                         "token response: no \"token\" or \"access_token\" string");
                return -EBADMSG;
        }
        /* A token goes into a header line: no control characters. */
        for (const unsigned char *c = (const unsigned char *)token; *c; c++)
                if (*c < 0x20 || *c == 0x7f) {
                        json_decref(root);
                        snprintf(message, REGISTRY_AUTH_MESSAGE_MAX, "token response: invalid token");
                        return -EBADMSG;
                }
        json_t *expires = json_object_get(root, "expires_in");
        int64_t s = json_is_integer(expires) ? (int64_t)json_integer_value(expires) : 0;
        *ret_expires_s = s < TOKEN_EXPIRES_MIN_S ? TOKEN_EXPIRES_MIN_S : s;
        *ret_token = strdup(token);
        json_decref(root);
        return *ret_token ? 0 : -ENOMEM;
}
