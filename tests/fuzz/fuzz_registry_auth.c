/* drivers/containerd/registry-auth.c: the value of a registry's WWW-Authenticate header, and the token URL
 * a Bearer challenge leads to (registry-auth-token.c).
 *
 * Invariants: a parse fails with a message and an empty result, or gives 1 to REGISTRY_AUTH_MAX_ITEMS
 * challenges with a scheme, at most that many parameters each, lower-case names given once; the
 * challenges written back in canonical form (every value quoted) parse to the same challenges; a token URL
 * starts with the realm and holds no space or control character. */
#include <stdbool.h>

#include "common/buf.h"
#include "common/macro.h"
#include "drivers/containerd/registry-auth.h"
#include "tests/fuzz/fuzz.h"

static void check_challenge(const RegistryChallenge *c)
{
        FUZZ_CHECK(c->scheme_name && *c->scheme_name, "a challenge without a scheme");
        FUZZ_CHECK(c->n_params <= REGISTRY_AUTH_MAX_ITEMS, "%zu parameters", c->n_params);
        FUZZ_CHECK(!c->token68 || c->n_params == 0, "a token68 and parameters");
        for (size_t i = 0; i < c->n_params; i++) {
                const char *name = c->params[i].name;
                FUZZ_CHECK(*name && c->params[i].value, "parameter %zu", i);
                for (const char *p = name; *p; p++)
                        FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'), "parameter name \"%s\"", name);
                FUZZ_CHECK(registry_challenge_param(c, name) == c->params[i].value, "parameter \"%s\" twice",
                           name);
        }
}

/* scheme [token68 | name="value", ...], ... with '"' and '\' escaped. */
static int challenges_format(const RegistryChallenges *cs, Buf *b)
{
        int r = 0;
        for (size_t i = 0; r >= 0 && i < cs->n; i++) {
                const RegistryChallenge *c = &cs->items[i];
                r = buf_printf(b, "%s%s", i ? ", " : "", c->scheme_name);
                if (r >= 0 && c->token68)
                        r = buf_printf(b, " %s", c->token68);
                for (size_t k = 0; r >= 0 && k < c->n_params; k++) {
                        r = buf_printf(b, "%s%s=\"", k ? ", " : " ", c->params[k].name);
                        for (const char *p = c->params[k].value; r >= 0 && *p; p++)
                                r = (*p == '"' || *p == '\\') ? buf_printf(b, "\\%c", *p)
                                                              : buf_append(b, p, 1);
                        if (r >= 0)
                                r = buf_puts(b, "\"");
                }
        }
        return r;
}

static bool challenge_equal(const RegistryChallenge *a, const RegistryChallenge *b)
{
        if (a->scheme != b->scheme || !streq(a->scheme_name, b->scheme_name) ||
            !streq_ptr(a->token68, b->token68) || a->n_params != b->n_params)
                return false;
        for (size_t i = 0; i < a->n_params; i++)
                if (!streq(a->params[i].name, b->params[i].name) ||
                    !streq(a->params[i].value, b->params[i].value))
                        return false;
        return true;
}

static void check_reformatted(const RegistryChallenges *cs)
{
        Buf b = BUF_INIT;
        if (challenges_format(cs, &b) < 0 || !b.data) {
                buf_done(&b);
                return;
        }
        RegistryChallenges again;
        char message[REGISTRY_AUTH_MESSAGE_MAX];
        int r = registry_challenges_parse(b.data, &again, message);
        /* Quoting adds bytes: a header near the limit may not fit once written back. */
        if (r == -ENOMEM || (r < 0 && b.len > REGISTRY_AUTH_HEADER_MAX)) {
                buf_done(&b);
                return;
        }
        FUZZ_CHECK(r == 0, "the written-back header does not parse: %s\n%s", message, b.data);
        FUZZ_CHECK(again.n == cs->n, "%zu challenges, written back %zu:\n%s", cs->n, again.n, b.data);
        for (size_t i = 0; i < cs->n; i++)
                FUZZ_CHECK(challenge_equal(&cs->items[i], &again.items[i]), "challenge %zu differs:\n%s", i,
                           b.data);
        registry_challenges_done(&again);
        buf_done(&b);
}

static void check_token_url(const RegistryChallenges *cs)
{
        const RegistryChallenge *bearer = registry_challenges_find(cs, REGISTRY_AUTH_BEARER);
        if (!bearer)
                return;
        const char *realm = registry_challenge_param(bearer, "realm");
        char *url = NULL;
        if (registry_token_url(realm, registry_challenge_param(bearer, "service"),
                               registry_challenge_param(bearer, "scope"), &url) < 0)
                return;
        FUZZ_CHECK(strncmp(url, realm, strlen(realm)) == 0, "URL \"%s\" of realm \"%s\"", url, realm);
        for (const unsigned char *p = (const unsigned char *)url; *p; p++)
                FUZZ_CHECK(*p > 0x20 && *p != 0x7f, "URL \"%s\"", url);
        free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_free_ char *header = fuzz_string(data, size);
        if (!header)
                return 0;
        RegistryChallenges cs;
        char message[REGISTRY_AUTH_MESSAGE_MAX];
        int r = registry_challenges_parse(header, &cs, message);
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL || r == -ENOMEM, "r=%d", r);
                FUZZ_CHECK(*message && cs.n == 0 && !cs.items, "a failed parse: \"%s\", %zu challenges",
                           message, cs.n);
                return 0;
        }
        FUZZ_CHECK(cs.n >= 1 && cs.n <= REGISTRY_AUTH_MAX_ITEMS, "%zu challenges", cs.n);
        for (size_t i = 0; i < cs.n; i++)
                check_challenge(&cs.items[i]);
        check_reformatted(&cs);
        check_token_url(&cs);
        registry_challenges_done(&cs);
        return 0;
}
