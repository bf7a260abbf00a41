/* Registry authentication, the pure parts: WWW-Authenticate challenges (quoted values, commas, several
 * challenges, token68, errors with their offset), the token URL, the token server's answer. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#include "drivers/containerd/registry-auth.h"

static void test_bearer(void **state)
{
        RegistryChallenges c;
        char msg[REGISTRY_AUTH_MESSAGE_MAX];
        assert_int_equal(registry_challenges_parse("Bearer realm=\"https://auth.docker.io/token\","
                                                   "service=\"registry.docker.io\","
                                                   "scope=\"repository:library/busybox:pull\"",
                                                   &c, msg),
                         0);
        assert_int_equal(c.n, 1);
        const RegistryChallenge *b = registry_challenges_find(&c, REGISTRY_AUTH_BEARER);
        assert_non_null(b);
        assert_string_equal(b->scheme_name, "Bearer");
        assert_int_equal(b->n_params, 3);
        assert_string_equal(registry_challenge_param(b, "realm"), "https://auth.docker.io/token");
        assert_string_equal(registry_challenge_param(b, "SERVICE"), "registry.docker.io");
        assert_string_equal(registry_challenge_param(b, "scope"), "repository:library/busybox:pull");
        assert_null(registry_challenge_param(b, "error"));
        assert_null(registry_challenges_find(&c, REGISTRY_AUTH_BASIC));
        registry_challenges_done(&c);
}

/* Commas and escaped quotes inside quoted values; spaces around "=" and ","; unquoted values; case. */
static void test_quoting(void **state)
{
        RegistryChallenges c;
        char msg[REGISTRY_AUTH_MESSAGE_MAX];
        assert_int_equal(registry_challenges_parse("  bEaReR   realm = \"https://a/token?x=1,y=2\" ,  "
                                                   "scope=\"repository:a/b:pull,push repository:c:pull\", "
                                                   "error=insufficient_scope , note=\"say \\\"hi\\\"\\\\\"",
                                                   &c, msg),
                         0);
        assert_int_equal(c.n, 1);
        const RegistryChallenge *b = &c.items[0];
        assert_int_equal(b->scheme, REGISTRY_AUTH_BEARER);
        assert_int_equal(b->n_params, 4);
        assert_string_equal(registry_challenge_param(b, "realm"), "https://a/token?x=1,y=2");
        assert_string_equal(registry_challenge_param(b, "scope"),
                            "repository:a/b:pull,push repository:c:pull");
        assert_string_equal(registry_challenge_param(b, "error"), "insufficient_scope");
        assert_string_equal(registry_challenge_param(b, "note"), "say \"hi\"\\");
        registry_challenges_done(&c);

        /* An empty quoted value, an unquoted URL (lenient). */
        assert_int_equal(registry_challenges_parse("Bearer realm=https://h:1/t,service=\"\"", &c, msg), 0);
        assert_string_equal(registry_challenge_param(&c.items[0], "realm"), "https://h:1/t");
        assert_string_equal(registry_challenge_param(&c.items[0], "service"), "");
        registry_challenges_done(&c);
}

/* Several challenges in one header (and joined headers), with and without parameters, token68. */
static void test_several(void **state)
{
        RegistryChallenges c;
        char msg[REGISTRY_AUTH_MESSAGE_MAX];
        assert_int_equal(
                registry_challenges_parse("Basic realm=\"Registry Realm\", Bearer realm=\"https://t/x\","
                                          "service=\"s\", Negotiate, NTLM abc+/==, Foo a=b",
                                          &c, msg),
                0);
        assert_int_equal(c.n, 5);
        assert_int_equal(c.items[0].scheme, REGISTRY_AUTH_BASIC);
        assert_string_equal(registry_challenge_param(&c.items[0], "realm"), "Registry Realm");
        assert_int_equal(c.items[1].scheme, REGISTRY_AUTH_BEARER);
        assert_int_equal(c.items[1].n_params, 2);
        assert_string_equal(registry_challenge_param(&c.items[1], "service"), "s");
        assert_string_equal(c.items[2].scheme_name, "Negotiate");
        assert_int_equal(c.items[2].scheme, REGISTRY_AUTH_OTHER);
        assert_int_equal(c.items[2].n_params, 0);
        assert_null(c.items[2].token68);
        assert_string_equal(c.items[3].scheme_name, "NTLM");
        assert_string_equal(c.items[3].token68, "abc+/==");
        assert_string_equal(registry_challenge_param(&c.items[4], "a"), "b");
        assert_ptr_equal(registry_challenges_find(&c, REGISTRY_AUTH_BEARER), &c.items[1]);
        registry_challenges_done(&c);

        assert_int_equal(registry_challenges_parse("Basic", &c, msg), 0);
        assert_int_equal(c.n, 1);
        assert_int_equal(c.items[0].scheme, REGISTRY_AUTH_BASIC);
        registry_challenges_done(&c);

        assert_int_equal(registry_challenges_parse(",, Basic ,,Bearer realm=x,,", &c, msg), 0);
        assert_int_equal(c.n, 2);
        assert_string_equal(registry_challenge_param(&c.items[1], "realm"), "x");
        registry_challenges_done(&c);
}

static void assert_invalid(const char *header, const char *want)
{
        RegistryChallenges c;
        char msg[REGISTRY_AUTH_MESSAGE_MAX];
        int r = registry_challenges_parse(header, &c, msg);
        if (r != -EINVAL)
                fail_msg("\"%s\": got %d, expected -EINVAL", header, r);
        if (!strstr(msg, want))
                fail_msg("\"%s\": message \"%s\" lacks \"%s\"", header, msg, want);
        assert_null(c.items);
        assert_int_equal(c.n, 0);
}

static void test_invalid(void **state)
{
        assert_invalid("", "no challenge");
        assert_invalid("  ,  ", "no challenge");
        assert_invalid("Bearer realm=\"unterminated", "offset 13: unterminated quoted string");
        assert_invalid("Bearer a=b, realm=", "offset 18: expected a value");
        assert_invalid("Bearer realm=, service=x",
                       "expected a space after the scheme"); /* token68 "realm=" */
        assert_invalid("Bearer realm=\"a\" service=\"b\"", "offset 17: expected ','");
        assert_invalid("Bearer realm=\"a\", realm=\"b\"", "given twice");
        assert_invalid("\"Bearer\"", "offset 0: expected an authentication scheme");
        assert_invalid("Bearer@x realm=y", "expected a space after the scheme");
        assert_invalid("Bearer realm=\"a\x01\"", "control character");
        assert_invalid("Bearer =x", "expected a parameter");

        char big[REGISTRY_AUTH_HEADER_MAX + 2];
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_invalid(big, "longer than");

        char many[2048] = "Bearer ";
        for (int i = 0; i <= REGISTRY_AUTH_MAX_ITEMS; i++) {
                size_t n = strlen(many);
                snprintf(many + n, sizeof(many) - n, "%sp%d=v", i ? "," : "", i);
        }
        assert_invalid(many, "parameters");
        char schemes[2048] = "";
        for (int i = 0; i <= REGISTRY_AUTH_MAX_ITEMS; i++) {
                size_t n = strlen(schemes);
                snprintf(schemes + n, sizeof(schemes) - n, "%sS%d", i ? ", " : "", i);
        }
        assert_invalid(schemes, "challenges");
}

static void test_token_url(void **state)
{
        char *url;
        assert_int_equal(registry_token_url("https://auth.docker.io/token", "registry.docker.io",
                                            "repository:library/busybox:pull", &url),
                         0);
        assert_string_equal(url, "https://auth.docker.io/token?service=registry.docker.io"
                                 "&scope=repository%3Alibrary%2Fbusybox%3Apull");
        free(url);
        assert_int_equal(registry_token_url("http://127.0.0.1:1/t?a=b", NULL, "x y&z", &url), 0);
        assert_string_equal(url, "http://127.0.0.1:1/t?a=b&scope=x%20y%26z");
        free(url);
        assert_int_equal(registry_token_url("https://t", "", NULL, &url), 0);
        assert_string_equal(url, "https://t");
        free(url);
        assert_int_equal(registry_token_url("ftp://t", "s", "x", &url), -EINVAL);
        assert_int_equal(registry_token_url("https://t/a b", "s", "x", &url), -EINVAL);
        assert_int_equal(registry_token_url("https://t/\r\nX: y", "s", "x", &url), -EINVAL);
        assert_int_equal(registry_token_url(NULL, "s", "x", &url), -EINVAL);
        assert_null(url);
}

static void test_token_parse(void **state)
{
        char msg[REGISTRY_AUTH_MESSAGE_MAX];
        char *token;
        int64_t expires;
        const char *body = "{\"token\":\"abc\",\"access_token\":\"def\",\"expires_in\":300}";
        assert_int_equal(registry_token_parse(body, strlen(body), &token, &expires, msg), 0);
        assert_string_equal(token, "abc");
        assert_int_equal(expires, 300);
        free(token);
        body = "{\"access_token\":\"def\",\"expires_in\":5}";
        assert_int_equal(registry_token_parse(body, strlen(body), &token, &expires, msg), 0);
        assert_string_equal(token, "def");
        assert_int_equal(expires, 60); /* at least a minute */
        free(token);
        body = "{\"token\":\"\",\"access_token\":\"x\"}";
        assert_int_equal(registry_token_parse(body, strlen(body), &token, &expires, msg), 0);
        assert_string_equal(token, "x");
        assert_int_equal(expires, 60);
        free(token);

        static const char *const bad[] = {"",
                                          "<html>",
                                          "[]",
                                          "{}",
                                          "{\"token\":1}",
                                          "{\"token\":\"a\\nb\"}",
                                          "{\"token\":\"a\",\"token\":\"b\"}"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int r = registry_token_parse(bad[i], strlen(bad[i]), &token, &expires, msg);
                if (r != -EBADMSG)
                        fail_msg("\"%s\": got %d", bad[i], r);
                assert_null(token);
                assert_non_null(strstr(msg, "token response"));
        }
        assert_int_equal(registry_token_parse(NULL, 0, &token, &expires, msg), -EBADMSG);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bearer),    cmocka_unit_test(test_quoting),
                cmocka_unit_test(test_several),   cmocka_unit_test(test_invalid),
                cmocka_unit_test(test_token_url), cmocka_unit_test(test_token_parse),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
