/* Registry authentication, the pure parts (fuzz targets): the WWW-Authenticate challenges of a 401
 * (RFC 7235: several challenges, auth-params with token or quoted-string values, token68), the token
 * server's URL and its JSON answer (containerd-api.md §3 b1).
 *
 *   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:x:pull"
 *   → GET <realm>?service=registry.docker.io&scope=repository%3Ax%3Apull → {"token": …, "expires_in": 300}
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define REGISTRY_AUTH_MESSAGE_MAX 256
#define REGISTRY_AUTH_HEADER_MAX  8192 /* longer WWW-Authenticate values are refused */
#define REGISTRY_AUTH_MAX_ITEMS   32   /* challenges per header, params per challenge */

typedef enum RegistryAuthScheme {
        REGISTRY_AUTH_OTHER,
        REGISTRY_AUTH_BASIC,
        REGISTRY_AUTH_BEARER,
} RegistryAuthScheme;

typedef struct RegistryAuthParam {
        char *name; /* lower case */
        char *value;
} RegistryAuthParam;

typedef struct RegistryChallenge {
        RegistryAuthScheme scheme;
        char *scheme_name; /* as sent */
        char *token68;     /* "Negotiate abc==" style, else NULL */
        RegistryAuthParam *params;
        size_t n_params;
} RegistryChallenge;

typedef struct RegistryChallenges {
        RegistryChallenge *items;
        size_t n;
} RegistryChallenges;

/* Parses the value of a WWW-Authenticate header (several headers: join them with ", "). Returns 0 with
 * *ret filled (release with registry_challenges_done(), which accepts a zeroed struct), -EINVAL with a
 * message giving the byte offset ("offset 17: expected '=' or a challenge") for a malformed value, an
 * empty one, or one over the limits above, -ENOMEM. */
int registry_challenges_parse(const char *header, RegistryChallenges *ret,
                              char message[static REGISTRY_AUTH_MESSAGE_MAX]);
void registry_challenges_done(RegistryChallenges *c);
/* The first challenge of that scheme, or NULL. */
const RegistryChallenge *registry_challenges_find(const RegistryChallenges *c, RegistryAuthScheme scheme);
/* The value of param name (case-insensitive), or NULL. */
const char *registry_challenge_param(const RegistryChallenge *c, const char *name);

/* The token request URL: realm + "?" (or "&" when it has a query) + service=…&scope=… with the values
 * percent-encoded; either may be NULL to leave it out. Returns 0 with a new string, -EINVAL unless the
 * realm is an http:// or https:// URL, -ENOMEM. */
int registry_token_url(const char *realm, const char *service, const char *scope, char **ret);

/* The token server's JSON answer: "token" or else "access_token" (a non-empty string), and "expires_in"
 * in seconds (absent or below 60: 60, as the distribution spec says). Returns 0 with a new string in
 * *ret_token, -EBADMSG with a message when the body is no such JSON object, -ENOMEM. */
int registry_token_parse(const char *body, size_t len, char **ret_token, int64_t *ret_expires_s,
                         char message[static REGISTRY_AUTH_MESSAGE_MAX]);
