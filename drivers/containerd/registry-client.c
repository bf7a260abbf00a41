/* Requests to one registry host, with the 401 → token → retry dance (see registry-client.h).
 *
 * A fetch is one registry request, at most one token request, and at most one retry. The user's
 * callbacks are always the last thing a function of ours does with the fetch: they may cancel it or free
 * the whole client. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/macro.h"
#include "drivers/containerd/registry-auth.h"
#include "drivers/containerd/registry-client.h"
#include "drivers/containerd/registry-proto.h"
#include "drivers/containerd/registry-ref.h"

#define REQUEST_TIMEOUT_MS_DEF 60000
#define BODY_KEEP_MAX          (64u << 10) /* of error and token bodies */
#define TOKEN_MARGIN_MS        10000       /* a token is not used this close to its expiry */

typedef struct TokenEntry {
        char *scope;
        char *token;
        uint64_t expires_at_ms; /* uv_now() */
} TokenEntry;

struct RegistryClient {
        uv_loop_t *loop;
        RegistryHttp *http;
        char *host, *username, *password;
        bool plain_http;
        bool is_loopback;
        int64_t request_timeout_ms;
        bool use_basic; /* the registry asked for Basic: credentials go with every request */
        TokenEntry *tokens;
        size_t n_tokens;
        RegistryFetch *fetches;
};

struct RegistryFetch {
        RegistryClient *client;
        RegistryFetch *prev, *next;
        RegistryFetchOptions o; /* repository, path, accept owned */
        char *url;
        char *scope; /* "repository:<repo>:pull" */
        RegistryHttpRequest *req;
        bool is_token_request; /* req is the token server's */
        bool is_retried;
        bool sent_token;
        bool is_ok; /* the response is 2xx */
        long status;
        char *challenge; /* WWW-Authenticate of a 401 */
        char *token_url;
        Buf body;                         /* an error or token body, at most BODY_KEEP_MAX */
        int user_error;                   /* what on_response or on_data returned, when negative */
        const RegistryHttpResponse *resp; /* the registry's (not the token server's), in on_http_done() */
        bool *is_alive; /* during a user callback: cleared when the fetch is freed meanwhile */
};

/* ---- the token cache ---- */

static const char *token_lookup(RegistryClient *c, const char *scope)
{
        uint64_t now = uv_now(c->loop);
        for (size_t i = 0; i < c->n_tokens; i++)
                if (streq(c->tokens[i].scope, scope) && c->tokens[i].expires_at_ms > now)
                        return c->tokens[i].token;
        return NULL;
}

static void token_forget(RegistryClient *c, const char *scope)
{
        for (size_t i = 0; i < c->n_tokens; i++)
                if (streq(c->tokens[i].scope, scope))
                        c->tokens[i].expires_at_ms = 0;
}

static int token_store(RegistryClient *c, const char *scope, char *token, int64_t expires_s)
{
        uint64_t ms = (uint64_t)expires_s * 1000;
        uint64_t expires_at = uv_now(c->loop) + (ms > 2 * TOKEN_MARGIN_MS ? ms - TOKEN_MARGIN_MS : ms / 2);
        for (size_t i = 0; i < c->n_tokens; i++)
                if (streq(c->tokens[i].scope, scope)) {
                        explicit_bzero(c->tokens[i].token, strlen(c->tokens[i].token));
                        free(c->tokens[i].token);
                        c->tokens[i].token = token;
                        c->tokens[i].expires_at_ms = expires_at;
                        return 0;
                }
        TokenEntry *t = realloc(c->tokens, (c->n_tokens + 1) * sizeof(*t));
        char *s = strdup(scope);
        if (!t || !s) {
                if (t)
                        c->tokens = t;
                free(s);
                free(token);
                return -ENOMEM;
        }
        c->tokens = t;
        t[c->n_tokens++] = (TokenEntry){s, token, expires_at};
        return 0;
}

/* ---- fetches ---- */

static void fetch_free(RegistryFetch *f)
{
        RegistryClient *c = f->client;
        if (f->is_alive)
                *f->is_alive = false;
        if (f->prev)
                f->prev->next = f->next;
        else if (c->fetches == f)
                c->fetches = f->next;
        if (f->next)
                f->next->prev = f->prev;
        free((char *)f->o.repository);
        free((char *)f->o.path);
        free((char *)f->o.accept);
        free(f->url);
        free(f->scope);
        free(f->challenge);
        free(f->token_url);
        buf_done(&f->body);
        free(f);
}

static const char *fetch_method(const RegistryFetch *f)
{
        return f->o.is_head ? "HEAD" : "GET";
}

/* Ends the fetch: frees it, then tells the user. */
static void fetch_end(RegistryFetch *f, int r, const char *message, const RegistryHttpResponse *resp)
{
        void (*on_done)(int, const char *, const RegistryHttpResponse *, void *) = f->o.on_done;
        void *userdata = f->o.userdata;
        fetch_free(f);
        on_done(r, message, resp, userdata);
}

static _printf_(3, 4) void fetch_fail(RegistryFetch *f, int r, const char *fmt, ...)
{
        char message[REGISTRY_FETCH_MESSAGE_MAX];
        int n = snprintf(message, sizeof(message), "%s %s: ", fetch_method(f), f->url);
        va_list ap;
        va_start(ap, fmt);
        if (n > 0 && (size_t)n < sizeof(message))
                vsnprintf(message + n, sizeof(message) - (size_t)n, fmt, ap);
        va_end(ap);
        fetch_end(f, r, message, f->resp);
}

/* "HTTP 404 (MANIFEST_UNKNOWN: manifest unknown)" of the kept body. */
static void fetch_fail_status(RegistryFetch *f, int r, const char *what)
{
        char detail[256];
        registry_error_describe(f->body.data, f->body.len, detail, sizeof(detail));
        fetch_fail(f, r, "%sHTTP %ld%s%s%s", strempty(what), f->status, detail[0] ? " (" : "", detail,
                   detail[0] ? ")" : "");
}

static int fetch_send(RegistryFetch *f);
static void on_http_done(RegistryHttpRequest *req, int r, const char *message,
                         const RegistryHttpResponse *resp, void *userdata);

/* Calls fn(args) of the user, with f->is_alive watching whether it freed f. */
#define fetch_user_call(f, r, call)                                                                         \
        do {                                                                                                \
                bool _alive = true;                                                                         \
                (f)->is_alive = &_alive;                                                                    \
                (r) = (call);                                                                               \
                if (_alive) {                                                                               \
                        (f)->is_alive = NULL;                                                               \
                        if ((r) < 0)                                                                        \
                                (f)->user_error = (r);                                                      \
                }                                                                                           \
        } while (0)

static int on_http_response(RegistryHttpRequest *req, const RegistryHttpResponse *resp, void *userdata)
{
        RegistryFetch *f = userdata;
        f->status = resp->status;
        f->is_ok = resp->status >= 200 && resp->status < 300;
        if (!f->is_ok && resp->status == 401 && !f->is_token_request) {
                free(f->challenge);
                f->challenge = resp->www_authenticate ? strdup(resp->www_authenticate) : NULL;
        }
        int r = 0;
        if (f->is_ok && !f->is_token_request && f->o.on_response)
                fetch_user_call(f, r, f->o.on_response(resp, f->o.userdata));
        return r;
}

static int on_http_data(RegistryHttpRequest *req, const void *data, size_t len, void *userdata)
{
        RegistryFetch *f = userdata;
        int r = 0;
        if (f->is_ok && !f->is_token_request) {
                if (f->o.on_data)
                        fetch_user_call(f, r, f->o.on_data(data, len, f->o.userdata));
                return r;
        }
        if (f->body.len < BODY_KEEP_MAX)
                return buf_append(&f->body, data,
                                  len < BODY_KEEP_MAX - f->body.len ? len : BODY_KEEP_MAX - f->body.len);
        return 0;
}

static void token_done(RegistryFetch *f, int r, const char *message)
{
        f->is_token_request = false;
        if (r < 0) {
                fetch_fail(f, r, "token request %s: %s", f->token_url, message);
                return;
        }
        if (!f->is_ok) {
                char what[512];
                snprintf(what, sizeof(what), "token server %s: ", f->token_url);
                fetch_fail_status(f,
                                  f->status == 401 || f->status == 403
                                          ? -EACCES
                                          : registry_http_status_to_errno(f->status),
                                  what);
                return;
        }
        char msg[REGISTRY_AUTH_MESSAGE_MAX];
        char *token;
        int64_t expires_s;
        r = registry_token_parse(f->body.data, f->body.len, &token, &expires_s, msg);
        if (r >= 0)
                r = token_store(f->client, f->scope, token, expires_s);
        if (r < 0) {
                fetch_fail(f, r, "token server %s: %s", f->token_url, r == -ENOMEM ? "out of memory" : msg);
                return;
        }
        f->is_retried = true;
        if ((r = fetch_send(f)) < 0)
                fetch_fail(f, r, "cannot retry with the token: %s", strerror(-r));
}

/* May credentials go to url (or, url NULL, to the registry)? Not over plain HTTP to another machine. */
static bool credentials_allowed(const RegistryClient *c, const char *url)
{
        if (!url)
                return !c->plain_http || c->is_loopback;
        if (strncasecmp(url, "https://", 8) == 0)
                return true;
        const char *host = url + 7; /* "http://", checked by registry_token_url() */
        _cleanup_free_ char *h = strndup(host, strcspn(host, "/?#"));
        return h && registry_host_is_loopback(h);
}

static int token_request_start(RegistryFetch *f, const RegistryChallenge *ch)
{
        RegistryClient *c = f->client;
        const char *scope = registry_challenge_param(ch, "scope");
        free(f->token_url);
        f->token_url = NULL;
        int r = registry_token_url(registry_challenge_param(ch, "realm"),
                                   registry_challenge_param(ch, "service"), scope ? scope : f->scope,
                                   &f->token_url);
        if (r < 0) {
                fetch_fail(f, -EPROTO, "the Bearer challenge has no usable realm");
                return r;
        }
        if (c->username && !credentials_allowed(c, f->token_url)) {
                fetch_fail(f, -EPERM, "refusing to send credentials over plain HTTP to %s", f->token_url);
                return -EPERM;
        }
        const RegistryHttpRequestOptions o = {.url = f->token_url,
                                              .username = c->username,
                                              .password = c->password,
                                              .timeout_ms = c->request_timeout_ms,
                                              .on_response = on_http_response,
                                              .on_data = on_http_data,
                                              .on_done = on_http_done,
                                              .userdata = f};
        f->is_token_request = true;
        f->is_ok = false;
        buf_done(&f->body);
        r = registry_http_start(c->http, &o, &f->req);
        if (r < 0)
                fetch_fail(f, r, "cannot request a token from %s", f->token_url);
        return r;
}

/* A 401: answer the challenge once. */
static void auth_start(RegistryFetch *f)
{
        RegistryClient *c = f->client;
        RegistryChallenges chs;
        char msg[REGISTRY_AUTH_MESSAGE_MAX];
        if (f->is_retried || !f->challenge) {
                fetch_fail_status(f, -EACCES, f->is_retried ? "authentication failed: " : "no challenge: ");
                return;
        }
        if (registry_challenges_parse(f->challenge, &chs, msg) < 0) {
                fetch_fail(f, -EPROTO, "HTTP 401 with a malformed challenge: %s", msg);
                return;
        }
        const RegistryChallenge *bearer = registry_challenges_find(&chs, REGISTRY_AUTH_BEARER);
        const RegistryChallenge *basic = registry_challenges_find(&chs, REGISTRY_AUTH_BASIC);
        const char *error = bearer ? registry_challenge_param(bearer, "error") : NULL;
        if (bearer && f->sent_token && streq_ptr(error, "insufficient_scope"))
                fetch_fail_status(f, -EACCES, "insufficient scope: ");
        else if (bearer) {
                token_forget(c, f->scope); /* it was refused, if one was sent */
                token_request_start(f, bearer);
        } else if (basic && !c->username)
                fetch_fail_status(f, -EACCES, "the registry wants a login and there are no credentials: ");
        else if (basic && !credentials_allowed(c, NULL))
                fetch_fail(f, -EPERM, "refusing to send credentials over plain HTTP to %s", c->host);
        else if (basic) {
                c->use_basic = true;
                f->is_retried = true;
                int r = fetch_send(f);
                if (r < 0)
                        fetch_fail(f, r, "cannot retry with credentials: %s", strerror(-r));
        } else
                fetch_fail(f, -EACCES, "HTTP 401 with no Bearer or Basic challenge: %s", f->challenge);
        registry_challenges_done(&chs);
}

static void on_http_done(RegistryHttpRequest *req, int r, const char *message,
                         const RegistryHttpResponse *resp, void *userdata)
{
        RegistryFetch *f = userdata;
        f->req = NULL;
        f->resp = f->is_token_request ? NULL : resp;
        if (f->is_token_request)
                token_done(f, r, message);
        else if (r < 0 && f->user_error < 0)
                fetch_end(f, f->user_error, "", resp); /* ended by the user's callback: they know why */
        else if (r < 0)
                fetch_fail(f, r, "%s", message);
        else if (f->is_ok)
                fetch_end(f, 0, "", resp);
        else if (f->status == 401)
                auth_start(f);
        else
                fetch_fail_status(f, registry_http_status_to_errno(f->status), NULL);
}

static int fetch_send(RegistryFetch *f)
{
        RegistryClient *c = f->client;
        _cleanup_free_ char *accept = NULL, *auth = NULL;
        const char *headers[2];
        size_t n = 0;
        if (f->o.accept) {
                if (asprintf(&accept, "Accept: %s", f->o.accept) < 0)
                        return accept = NULL, -ENOMEM;
                headers[n++] = accept;
        }
        const char *token = token_lookup(c, f->scope);
        f->sent_token = token != NULL;
        if (token) {
                if (asprintf(&auth, "Authorization: Bearer %s", token) < 0)
                        return auth = NULL, -ENOMEM;
                headers[n++] = auth;
        }
        bool use_basic = !token && c->use_basic && c->username;
        const RegistryHttpRequestOptions o = {
                .url = f->url,
                .is_head = f->o.is_head,
                .headers = headers,
                .n_headers = n,
                .username = use_basic ? c->username : NULL,
                .password = use_basic ? c->password : NULL,
                .timeout_ms = f->o.has_no_deadline ? 0 : c->request_timeout_ms,
                .on_response = on_http_response,
                .on_data = on_http_data,
                .on_done = on_http_done,
                .userdata = f,
        };
        f->is_ok = false;
        f->status = 0;
        f->user_error = 0;
        buf_done(&f->body);
        int r = registry_http_start(c->http, &o, &f->req);
        if (auth)
                explicit_bzero(auth, strlen(auth));
        return r;
}

char *registry_client_url(const RegistryClient *c, const char *repository, const char *path)
{
        char *url;
        if (asprintf(&url, "%s://%s/v2/%s/%s", c->plain_http ? "http" : "https", c->host, repository, path) <
            0)
                return NULL;
        return url;
}

int registry_fetch_start(RegistryClient *c, const RegistryFetchOptions *o, RegistryFetch **ret)
{
        if (!c || !o || !o->repository || !o->path || !o->on_done)
                return -EINVAL;
        RegistryFetch *f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        *f = (RegistryFetch){.client = c, .o = *o, .next = c->fetches};
        f->o.repository = strdup(o->repository);
        f->o.path = strdup(o->path);
        f->o.accept = o->accept ? strdup(o->accept) : NULL;
        if (c->fetches)
                c->fetches->prev = f;
        c->fetches = f;
        int r = 0;
        if (!f->o.repository || !f->o.path || (o->accept && !f->o.accept) ||
            !(f->url = registry_client_url(c, o->repository, o->path)) ||
            asprintf(&f->scope, "repository:%s:pull", o->repository) < 0) {
                f->scope = NULL;
                r = -ENOMEM;
        }
        if (r >= 0)
                r = fetch_send(f);
        if (r < 0) {
                fetch_free(f);
                return r;
        }
        if (ret)
                *ret = f;
        return 0;
}

void registry_fetch_resume(RegistryFetch *f)
{
        if (f && f->req)
                registry_http_resume(f->req);
}

void registry_fetch_cancel(RegistryFetch *f)
{
        if (!f)
                return;
        registry_http_cancel(f->req);
        fetch_free(f);
}

static void client_free_secrets(RegistryClient *c)
{
        if (c->password)
                explicit_bzero(c->password, strlen(c->password));
        for (size_t i = 0; i < c->n_tokens; i++) {
                explicit_bzero(c->tokens[i].token, strlen(c->tokens[i].token));
                free(c->tokens[i].token);
                free(c->tokens[i].scope);
        }
        free(c->tokens);
        free(c->password);
}

void registry_client_free(RegistryClient *c)
{
        if (!c)
                return;
        while (c->fetches)
                registry_fetch_cancel(c->fetches);
        registry_http_free(c->http);
        client_free_secrets(c);
        free(c->username);
        free(c->host);
        free(c);
}

int registry_client_new(uv_loop_t *loop, const RegistryClientOptions *o, RegistryClient **ret)
{
        if (!loop || !o || !o->host || !*o->host || strpbrk(o->host, "/?#@ \t\r\n"))
                return -EINVAL;
        RegistryClient *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (RegistryClient){.loop = loop,
                              .plain_http = o->plain_http,
                              .is_loopback = registry_host_is_loopback(o->host),
                              .request_timeout_ms = o->request_timeout_ms > 0 ? o->request_timeout_ms
                                                                              : REQUEST_TIMEOUT_MS_DEF};
        int r = 0;
        if (!(c->host = strdup(o->host)) || (o->username && !(c->username = strdup(o->username))) ||
            (o->password && !(c->password = strdup(o->password))))
                r = -ENOMEM;
        if (r >= 0)
                r = registry_http_new(loop, &c->http);
        if (r < 0) {
                registry_client_free(c);
                return r;
        }
        *ret = c;
        return 0;
}
