/* The WWW-Authenticate parser (RFC 7235 §4.1, with the leniency real registries need: unquoted values
 * may hold any visible character but ',' and '"').
 *
 *   header    = challenge *( OWS "," OWS challenge )      (empty list elements allowed)
 *   challenge = scheme [ 1*SP ( token68 / param *( OWS "," OWS param ) ) ]
 *   param     = token OWS "=" OWS ( token / quoted-string ) */
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/macro.h"
#include "drivers/containerd/registry-auth.h"

typedef struct Parser {
        const char *s;
        size_t pos;
        RegistryChallenges *out;
        char *message;
} Parser;

static _printf_(2, 3) int parse_fail(Parser *p, const char *fmt, ...)
{
        char what[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        snprintf(p->message, REGISTRY_AUTH_MESSAGE_MAX, "WWW-Authenticate: offset %zu: %s", p->pos, what);
        return -EINVAL;
}

static bool is_tchar(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token68_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("-._~+/", c));
}

static size_t token_len(const char *s)
{
        size_t n = 0;
        while (is_tchar(s[n]))
                n++;
        return n;
}

static void skip_ows(Parser *p)
{
        while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t')
                p->pos++;
}

static void skip_ows_commas(Parser *p)
{
        while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == ',')
                p->pos++;
}

static bool at_item_end(const Parser *p, size_t pos)
{
        while (p->s[pos] == ' ' || p->s[pos] == '\t')
                pos++;
        return p->s[pos] == '\0' || p->s[pos] == ',';
}

/* A token68 right after the scheme: its characters, then "=" padding, then the end of the item. */
static size_t token68_len(const Parser *p)
{
        const char *s = p->s + p->pos;
        size_t n = 0;
        while (is_token68_char(s[n]))
                n++;
        if (n == 0)
                return 0;
        while (s[n] == '=')
                n++;
        return at_item_end(p, p->pos + n) ? n : 0;
}

static RegistryChallenge *challenge_add(Parser *p, const char *name, size_t len)
{
        RegistryChallenges *c = p->out;
        RegistryChallenge *items = realloc(c->items, (c->n + 1) * sizeof(*items));
        if (!items)
                return NULL;
        c->items = items;
        RegistryChallenge *ch = &items[c->n];
        *ch = (RegistryChallenge){.scheme_name = strndup(name, len)};
        if (!ch->scheme_name)
                return NULL;
        c->n++;
        if (strcasecmp(ch->scheme_name, "basic") == 0)
                ch->scheme = REGISTRY_AUTH_BASIC;
        else if (strcasecmp(ch->scheme_name, "bearer") == 0)
                ch->scheme = REGISTRY_AUTH_BEARER;
        return ch;
}

/* A quoted-string at p->pos (on the opening quote), unescaped into a new string. */
static int quoted_parse(Parser *p, char **ret)
{
        size_t start = ++p->pos, n = 0;
        char *v = malloc(strlen(p->s + start) + 1);
        if (!v)
                return -ENOMEM;
        for (;;) {
                char c = p->s[p->pos];
                if (c == '"')
                        break;
                if (c == '\\' && p->s[p->pos + 1])
                        c = p->s[++p->pos];
                else if (c == '\0') {
                        free(v);
                        p->pos = start - 1;
                        return parse_fail(p, "unterminated quoted string");
                }
                if ((unsigned char)c < 0x20 && c != '\t') {
                        free(v);
                        return parse_fail(p, "control character in a quoted string");
                }
                v[n++] = c;
                p->pos++;
        }
        p->pos++;
        v[n] = '\0';
        *ret = v;
        return 0;
}

static int value_parse(Parser *p, char **ret)
{
        if (p->s[p->pos] == '"')
                return quoted_parse(p, ret);
        size_t n = 0;
        const char *s = p->s + p->pos;
        while ((unsigned char)s[n] > 0x20 && s[n] != 0x7f && s[n] != ',' && s[n] != '"')
                n++;
        if (n == 0)
                return parse_fail(p, "expected a value");
        p->pos += n;
        *ret = strndup(s, n);
        return *ret ? 0 : -ENOMEM;
}

static int param_add(Parser *p, RegistryChallenge *ch, const char *name, size_t len, char *value)
{
        _cleanup_free_ char *v = value;
        if (ch->n_params >= REGISTRY_AUTH_MAX_ITEMS)
                return parse_fail(p, "more than %d parameters", REGISTRY_AUTH_MAX_ITEMS);
        _cleanup_free_ char *lower = strndup(name, len);
        if (!lower)
                return -ENOMEM;
        for (char *c = lower; *c; c++)
                *c = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
        if (registry_challenge_param(ch, lower))
                return parse_fail(p, "parameter \"%s\" given twice", lower);
        RegistryAuthParam *params = realloc(ch->params, (ch->n_params + 1) * sizeof(*params));
        if (!params)
                return -ENOMEM;
        ch->params = params;
        params[ch->n_params++] = (RegistryAuthParam){TAKE_PTR(lower), TAKE_PTR(v)};
        return 0;
}

/* The params of ch, up to the end or the scheme of the next challenge. */
static int params_parse(Parser *p, RegistryChallenge *ch)
{
        for (;;) {
                size_t save = p->pos;
                skip_ows_commas(p);
                if (!p->s[p->pos])
                        return 0;
                const char *name = p->s + p->pos;
                size_t len = token_len(name);
                if (len == 0)
                        return parse_fail(p, "expected a parameter or a challenge");
                size_t q = p->pos + len;
                while (p->s[q] == ' ' || p->s[q] == '\t')
                        q++;
                if (p->s[q] != '=') { /* the next challenge's scheme */
                        p->pos = save;
                        return 0;
                }
                p->pos = q + 1;
                skip_ows(p);
                char *value = NULL;
                int r = value_parse(p, &value);
                if (r >= 0)
                        r = param_add(p, ch, name, len, value);
                if (r < 0)
                        return r;
                skip_ows(p);
                if (p->s[p->pos] && p->s[p->pos] != ',')
                        return parse_fail(p, "expected ',' after a parameter");
        }
}

static int challenge_parse(Parser *p)
{
        const char *name = p->s + p->pos;
        size_t len = token_len(name);
        if (len == 0)
                return parse_fail(p, "expected an authentication scheme");
        if (p->out->n >= REGISTRY_AUTH_MAX_ITEMS)
                return parse_fail(p, "more than %d challenges", REGISTRY_AUTH_MAX_ITEMS);
        RegistryChallenge *ch = challenge_add(p, name, len);
        if (!ch)
                return -ENOMEM;
        p->pos += len;
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != ',' && c != '\0')
                return parse_fail(p, "expected a space after the scheme");
        skip_ows(p);
        size_t n = token68_len(p);
        if (n > 0) {
                if (!(ch->token68 = strndup(p->s + p->pos, n)))
                        return -ENOMEM;
                p->pos += n;
                return 0;
        }
        return params_parse(p, ch);
}

int registry_challenges_parse(const char *header, RegistryChallenges *ret,
                              char message[static REGISTRY_AUTH_MESSAGE_MAX])
{
        *ret = (RegistryChallenges){0};
        message[0] = '\0';
        Parser p = {.s = header ? header : "", .out = ret, .message = message};
        if (strlen(p.s) > REGISTRY_AUTH_HEADER_MAX)
                return parse_fail(&p, "longer than %d bytes", REGISTRY_AUTH_HEADER_MAX);
        int r = 0;
        for (;;) {
                skip_ows_commas(&p);
                if (!p.s[p.pos])
                        break;
                if ((r = challenge_parse(&p)) < 0)
                        break;
        }
        if (r >= 0 && ret->n == 0)
                r = parse_fail(&p, "no challenge");
        if (r == -ENOMEM)
                snprintf(message, REGISTRY_AUTH_MESSAGE_MAX, "out of memory");
        if (r < 0)
                registry_challenges_done(ret);
        return r;
}

void registry_challenges_done(RegistryChallenges *c)
{
        for (size_t i = 0; c->items && i < c->n; i++) {
                RegistryChallenge *ch = &c->items[i];
                for (size_t j = 0; j < ch->n_params; j++) {
                        free(ch->params[j].name);
                        free(ch->params[j].value);
                }
                free(ch->params);
                free(ch->scheme_name);
                free(ch->token68);
        }
        free(c->items);
        *c = (RegistryChallenges){0};
}

const RegistryChallenge *registry_challenges_find(const RegistryChallenges *c, RegistryAuthScheme scheme)
{
        for (size_t i = 0; i < c->n; i++)
                if (c->items[i].scheme == scheme)
                        return &c->items[i];
        return NULL;
}

const char *registry_challenge_param(const RegistryChallenge *c, const char *name)
{
        for (size_t i = 0; i < c->n_params; i++)
                if (strcasecmp(c->params[i].name, name) == 0)
                        return c->params[i].value;
        return NULL;
}
