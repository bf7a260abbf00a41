/* libcurl's multi interface on the libuv loop (see registry-http.h).
 *
 * libcurl may not be re-entered from its own callbacks (CURLM_RECURSIVE_API_CALL), and our users call
 * back into us from the callbacks we run for it. So every libcurl call that can run callbacks is counted
 * in in_curl, and what a user asks for meanwhile (a new request, a cancel, a resume) is only recorded;
 * http_flush() does it once libcurl has returned. Likewise registry_http_free() inside one of our libuv
 * callbacks (depth > 0) only marks the client, and the last http_leave() destroys it.
 *
 * libcurl is loaded on first use (dl-libs.h). When it cannot be, a client still comes up and each of its
 * requests ends from the loop with -ELIBACC and the loader's message, so the reason reaches the user the
 * way a transfer's error does. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/macro.h"
#include "drivers/containerd/dl-libs.h"
#include "drivers/containerd/registry-http.h"
#include "drivers/containerd/registry-ref.h"

#define CONNECT_TIMEOUT_MS_DEF 30000
#define MAX_REDIRECTS          10

typedef struct HttpSocket {
        uv_poll_t poll;
        curl_socket_t fd;
        RegistryHttp *http;
} HttpSocket;

struct RegistryHttpRequest {
        RegistryHttp *http;
        RegistryHttpRequest *prev, *next;
        CURL *easy;
        struct curl_slist *headers;
        char *url, *username, *password;
        registry_http_response_cb on_response;
        registry_http_data_cb on_data;
        registry_http_done_cb on_done;
        void *userdata;
        bool is_added;     /* in the multi handle */
        bool is_cancelled; /* to be dropped by http_flush() */
        bool is_responded; /* on_response ran */
        bool is_paused;
        bool is_resume_pending;
        bool is_finishing; /* request_finish() runs: it frees the request */
        int error;         /* a callback's error, ends the transfer */
        char errbuf[CURL_ERROR_SIZE];
        char *content_type, *docker_digest, *www_authenticate;
        RegistryHttpResponse resp;
};

struct RegistryHttp {
        uv_loop_t *loop;
        CURLM *multi;            /* NULL when libcurl could not be loaded */
        const char *unavailable; /* then: why (static storage) */
        uv_timer_t timer;
        RegistryHttpRequest *requests;
        unsigned in_curl; /* inside a libcurl call that may run our callbacks */
        unsigned depth;   /* inside one of our libuv callbacks */
        bool is_flushing;
        bool is_freeing;
        bool is_destroyed;
        size_t n_closing; /* libuv handles not closed yet */
};

static void http_maybe_release(RegistryHttp *h)
{
        if (h->is_destroyed && h->n_closing == 0)
                free(h);
}

static void on_handle_closed(uv_handle_t *handle)
{
        RegistryHttp *h = handle->data;
        h->n_closing--;
        http_maybe_release(h);
}

static void on_socket_closed(uv_handle_t *handle)
{
        HttpSocket *hs = handle->data;
        RegistryHttp *h = hs->http;
        free(hs);
        h->n_closing--;
        http_maybe_release(h);
}

static void socket_close(HttpSocket *hs)
{
        uv_poll_stop(&hs->poll);
        hs->http->n_closing++;
        uv_close((uv_handle_t *)&hs->poll, on_socket_closed);
}

/* ---- requests ---- */

static void request_free(RegistryHttpRequest *req)
{
        if (req->easy)
                sym_curl_easy_cleanup(req->easy);
        if (req->headers)
                sym_curl_slist_free_all(req->headers);
        if (req->password)
                explicit_bzero(req->password, strlen(req->password));
        free(req->password);
        free(req->username);
        free(req->url);
        free(req->content_type);
        free(req->docker_digest);
        free(req->www_authenticate);
        free(req);
}

static void request_link(RegistryHttpRequest *req)
{
        RegistryHttp *h = req->http;
        req->next = h->requests;
        if (h->requests)
                h->requests->prev = req;
        h->requests = req;
}

static void request_unlink(RegistryHttpRequest *req)
{
        RegistryHttp *h = req->http;
        if (req->prev)
                req->prev->next = req->next;
        else if (h->requests == req)
                h->requests = req->next;
        if (req->next)
                req->next->prev = req->prev;
        req->prev = req->next = NULL;
}

static void request_remove(RegistryHttpRequest *req)
{
        if (!req->is_added)
                return;
        req->http->in_curl++;
        sym_curl_multi_remove_handle(req->http->multi, req->easy);
        req->http->in_curl--;
        req->is_added = false;
}

static void request_drop(RegistryHttpRequest *req)
{
        request_remove(req);
        request_unlink(req);
        request_free(req);
}

/* All headers called name of the last response, joined with ", "; NULL when there is none. */
static char *header_get(CURL *easy, const char *name)
{
        struct curl_header *hd;
        if (sym_curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &hd) != CURLHE_OK)
                return NULL;
        size_t amount = hd->amount;
        char *joined = NULL;
        for (size_t i = 0; i < amount; i++) {
                if (sym_curl_easy_header(easy, name, i, CURLH_HEADER, -1, &hd) != CURLHE_OK)
                        break;
                char *next;
                if (asprintf(&next, "%s%s%s", joined ? joined : "", joined ? ", " : "", hd->value) < 0) {
                        free(joined);
                        return NULL;
                }
                free(joined);
                joined = next;
        }
        return joined;
}

static void request_fill_response(RegistryHttpRequest *req)
{
        curl_off_t length = -1;
        char *url = NULL;
        req->resp.status = 0;
        sym_curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &req->resp.status);
        sym_curl_easy_getinfo(req->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
        sym_curl_easy_getinfo(req->easy, CURLINFO_EFFECTIVE_URL, &url);
        free(req->content_type);
        free(req->docker_digest);
        free(req->www_authenticate);
        req->content_type = header_get(req->easy, "Content-Type");
        req->docker_digest = header_get(req->easy, "Docker-Content-Digest");
        req->www_authenticate = header_get(req->easy, "WWW-Authenticate");
        req->resp.url = url ? url : req->url;
        req->resp.content_type = req->content_type;
        req->resp.docker_digest = req->docker_digest;
        req->resp.www_authenticate = req->www_authenticate;
        req->resp.content_length = (int64_t)length;
}

/* Runs on_response once; returns its verdict. */
static int request_respond(RegistryHttpRequest *req)
{
        if (req->is_responded)
                return 0;
        req->is_responded = true;
        request_fill_response(req);
        return req->on_response ? req->on_response(req, &req->resp, req->userdata) : 0;
}

static size_t on_curl_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
        RegistryHttpRequest *req = userdata;
        size_t len = size * nmemb;
        if (req->is_cancelled || req->error < 0)
                return CURL_WRITEFUNC_ERROR;
        int r = request_respond(req);
        if (r >= 0 && !req->is_cancelled && req->on_data && len > 0)
                r = req->on_data(req, ptr, len, req->userdata);
        if (req->is_cancelled)
                return CURL_WRITEFUNC_ERROR;
        if (r == REGISTRY_HTTP_PAUSE) {
                req->is_paused = true;
                return CURL_WRITEFUNC_PAUSE;
        }
        if (r < 0) {
                req->error = r;
                return CURL_WRITEFUNC_ERROR;
        }
        return len;
}

/* The one place a CURLcode becomes an errno (STYLE.md rule 3). */
static int curl_to_errno(CURLcode c, long os_errno)
{
        switch (c) {
        case CURLE_OK:
                return 0;
        case CURLE_COULDNT_CONNECT:
                return os_errno > 0 ? -(int)os_errno : -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_TOO_MANY_REDIRECTS:
                return -ELOOP;
        case CURLE_UNSUPPORTED_PROTOCOL:
                return -EPROTONOSUPPORT;
        case CURLE_URL_MALFORMAT:
                return -EINVAL;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
                return os_errno > 0 ? -(int)os_errno : -ECONNRESET;
        case CURLE_PARTIAL_FILE:
                return -EIO;
        case CURLE_FILESIZE_EXCEEDED:
                return -EFBIG;
        case CURLE_ABORTED_BY_CALLBACK:
        case CURLE_WRITE_ERROR:
                return -ECANCELED;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_WEIRD_SERVER_REPLY:
                return -EPROTO;
        default:
                return -EIO;
        }
}

/* What a finished transfer comes to: 0 (an exchange, any status) or an errno with a message. Runs a late
 * on_response (empty body). */
static int request_outcome(RegistryHttpRequest *req, CURLcode result, const char **ret_message)
{
        long os_errno = 0;
        int r;
        *ret_message = "";
        sym_curl_easy_getinfo(req->easy, CURLINFO_OS_ERRNO, &os_errno);
        if (req->error < 0) {
                *ret_message = "ended by its consumer";
                return req->error;
        }
        if (result != CURLE_OK) {
                *ret_message = req->errbuf[0] ? req->errbuf : sym_curl_easy_strerror(result);
                return curl_to_errno(result, os_errno);
        }
        if ((r = request_respond(req)) < 0)
                *ret_message = "ended by its consumer";
        return r;
}

/* A transfer ended: report it (unless cancelled) and free it. A cancel from the callbacks run here (a late
 * on_response, on_done) only marks the request. */
static void request_finish(RegistryHttpRequest *req, CURLcode result)
{
        request_remove(req);
        request_unlink(req);
        req->is_finishing = true;
        const char *message = "";
        int r = req->is_cancelled ? 0 : request_outcome(req, result, &message);
        if (!req->is_cancelled) {
                if (!req->is_responded)
                        request_fill_response(req);
                req->on_done(req, r, message, req->resp.status > 0 ? &req->resp : NULL, req->userdata);
        }
        request_free(req);
}

/* ---- driving libcurl from the loop ---- */

static void http_destroy(RegistryHttp *h);

static void http_enter(RegistryHttp *h)
{
        h->depth++;
}

/* Does what was asked while libcurl ran: adds, cancels, resumes. Whatever can run a user's callback
 * (a resume delivers held bytes, a failed add reports) restarts the walk: the list may have changed. */
static void http_flush(RegistryHttp *h)
{
        if (h->is_flushing)
                return;
        h->is_flushing = true;
        for (RegistryHttpRequest *req = h->requests; req && !h->is_freeing;) {
                RegistryHttpRequest *next = req->next;
                if (req->is_cancelled) {
                        request_drop(req);
                } else if (!req->is_added) {
                        h->in_curl++;
                        CURLMcode mc = sym_curl_multi_add_handle(h->multi, req->easy);
                        h->in_curl--;
                        req->is_added = mc == CURLM_OK;
                        if (!req->is_added) {
                                request_finish(req, CURLE_OUT_OF_MEMORY);
                                next = h->requests;
                        }
                } else if (req->is_resume_pending) {
                        req->is_resume_pending = false;
                        req->is_paused = false;
                        h->in_curl++;
                        sym_curl_easy_pause(req->easy, CURLPAUSE_CONT);
                        h->in_curl--;
                        next = h->requests;
                }
                req = next;
        }
        h->is_flushing = false;
}

/* Whether libcurl or http_flush() is running: changes to the requests must wait for http_flush(). */
static bool http_is_busy(const RegistryHttp *h)
{
        return h->in_curl > 0 || h->is_flushing;
}

static void http_leave(RegistryHttp *h)
{
        if (!h->is_freeing)
                http_flush(h);
        if (--h->depth == 0 && h->is_freeing)
                http_destroy(h);
}

/* Reports finished transfers. */
static void http_process(RegistryHttp *h)
{
        CURLMsg *msg;
        int left;
        while (!h->is_freeing && (msg = sym_curl_multi_info_read(h->multi, &left))) {
                if (msg->msg != CURLMSG_DONE)
                        continue;
                RegistryHttpRequest *req = NULL;
                sym_curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&req);
                if (req)
                        request_finish(req, msg->data.result);
        }
}

static void http_socket_action(RegistryHttp *h, curl_socket_t fd, int flags)
{
        int running;
        http_enter(h);
        h->in_curl++;
        sym_curl_multi_socket_action(h->multi, fd, flags, &running);
        h->in_curl--;
        http_process(h);
        http_leave(h);
}

static void on_poll(uv_poll_t *handle, int status, int events)
{
        HttpSocket *hs = handle->data;
        int flags = 0;
        if (status < 0)
                flags = CURL_CSELECT_ERR;
        else
                flags = ((events & UV_READABLE) ? CURL_CSELECT_IN : 0) |
                        ((events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0);
        http_socket_action(hs->http, hs->fd, flags);
}

static void on_timer(uv_timer_t *timer)
{
        http_socket_action(timer->data, CURL_SOCKET_TIMEOUT, 0);
}

/* Without libcurl: every request ends with why. on_done may start, cancel and free as it would after a
 * transfer; a request it starts ends in this same walk. (Not http_leave(): there is nothing to flush.) */
static void on_unavailable_timer(uv_timer_t *timer)
{
        RegistryHttp *h = timer->data;
        h->depth++;
        while (h->requests && !h->is_freeing) {
                RegistryHttpRequest *req = h->requests;
                request_unlink(req);
                req->is_finishing = true;
                req->on_done(req, -ELIBACC, h->unavailable, NULL, req->userdata);
                request_free(req);
        }
        if (--h->depth == 0 && h->is_freeing)
                http_destroy(h);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
        RegistryHttp *h = userp;
        HttpSocket *hs = socketp;
        if (what == CURL_POLL_REMOVE) {
                if (hs) {
                        sym_curl_multi_assign(h->multi, fd, NULL);
                        socket_close(hs);
                }
                return 0;
        }
        if (!hs) {
                if (!(hs = calloc(1, sizeof(*hs))))
                        return -1;
                *hs = (HttpSocket){.fd = fd, .http = h};
                if (uv_poll_init_socket(h->loop, &hs->poll, fd) < 0) {
                        free(hs);
                        return -1;
                }
                hs->poll.data = hs;
                sym_curl_multi_assign(h->multi, fd, hs);
        }
        int events = (what == CURL_POLL_IN || what == CURL_POLL_INOUT ? UV_READABLE : 0) |
                     (what == CURL_POLL_OUT || what == CURL_POLL_INOUT ? UV_WRITABLE : 0);
        return uv_poll_start(&hs->poll, events, on_poll) < 0 ? -1 : 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
        RegistryHttp *h = userp;
        if (timeout_ms < 0)
                uv_timer_stop(&h->timer);
        else
                uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
        return 0;
}

/* ---- the client ---- */

/* The multi handle, driven by the loop. */
static int http_curl_init(RegistryHttp *h)
{
        if (sym_curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return -EIO;
        if (!(h->multi = sym_curl_multi_init())) {
                sym_curl_global_cleanup();
                return -ENOMEM;
        }
        sym_curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
        sym_curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
        sym_curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
        sym_curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
        return 0;
}

int registry_http_new(uv_loop_t *loop, RegistryHttp **ret)
{
        if (!loop || !ret)
                return -EINVAL;
        _cleanup_free_ RegistryHttp *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->loop = loop;
        if (dl_curl_load(&h->unavailable) >= 0) {
                int r = http_curl_init(h);
                if (r < 0)
                        return r;
        }
        uv_timer_init(loop, &h->timer);
        h->timer.data = h;
        *ret = TAKE_PTR(h);
        return 0;
}

static void http_destroy(RegistryHttp *h)
{
        while (h->requests)
                request_drop(h->requests);
        if (h->multi) {
                /* the cleanup removes the sockets of cached connections (CURL_POLL_REMOVE) */
                h->in_curl++;
                sym_curl_multi_cleanup(h->multi);
                h->in_curl--;
                h->multi = NULL;
                sym_curl_global_cleanup();
        }
        uv_timer_stop(&h->timer);
        h->n_closing++;
        uv_close((uv_handle_t *)&h->timer, on_handle_closed);
        h->is_destroyed = true;
}

void registry_http_free(RegistryHttp *h)
{
        if (!h || h->is_freeing)
                return;
        h->is_freeing = true;
        for (RegistryHttpRequest *req = h->requests; req; req = req->next)
                req->is_cancelled = true;
        if (h->depth == 0)
                http_destroy(h);
}

/* Sockets must not leak into the processes the daemon starts (STYLE.md rule 13); not every libcurl
 * creates them with SOCK_CLOEXEC. */
static int on_curl_sockopt(void *userdata, curl_socket_t fd, curlsocktype purpose)
{
        int flags = fcntl(fd, F_GETFD);
        if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
                return CURL_SOCKOPT_ERROR;
        return CURL_SOCKOPT_OK;
}

/* "http://127.0.0.1:5055/v2/" → whether the host is a loopback one. */
static bool url_is_loopback(const char *url)
{
        const char *s = strstr(url, "://");
        if (!s)
                return false;
        s += 3;
        _cleanup_free_ char *host = strndup(s, strcspn(s, "/?#"));
        return host && !strchr(host, '@') && registry_host_is_loopback(host);
}

static int request_setup(RegistryHttpRequest *req, const RegistryHttpRequestOptions *o)
{
        CURL *e = req->easy;
        bool is_https = strncasecmp(req->url, "https://", 8) == 0;
        CURLcode c = CURLE_OK;
#define SET(opt, val)                                                                                       \
        do {                                                                                                \
                if (c == CURLE_OK)                                                                          \
                        c = sym_curl_easy_setopt(e, opt, val);                                              \
        } while (0)
        SET(CURLOPT_URL, req->url);
        SET(CURLOPT_PRIVATE, (char *)req);
        SET(CURLOPT_WRITEFUNCTION, on_curl_write);
        SET(CURLOPT_WRITEDATA, req);
        SET(CURLOPT_ERRORBUFFER, req->errbuf);
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_SOCKOPTFUNCTION, on_curl_sockopt);
        SET(CURLOPT_PROTOCOLS_STR, "http,https");
        /* Never from https down to http. */
        SET(CURLOPT_REDIR_PROTOCOLS_STR, is_https ? "https" : "http,https");
        SET(CURLOPT_FOLLOWLOCATION, 1L);
        SET(CURLOPT_MAXREDIRS, (long)MAX_REDIRECTS);
        SET(CURLOPT_UNRESTRICTED_AUTH, 0L);
        SET(CURLOPT_USERAGENT, "kukeon/" KUKEON_VERSION);
        SET(CURLOPT_TCP_KEEPALIVE, 1L);
        SET(CURLOPT_CONNECTTIMEOUT_MS,
            (long)(o->connect_timeout_ms > 0 ? o->connect_timeout_ms : CONNECT_TIMEOUT_MS_DEF));
        if (o->timeout_ms > 0)
                SET(CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
        if (url_is_loopback(req->url))
                SET(CURLOPT_NOPROXY, "*");
        if (o->is_head)
                SET(CURLOPT_NOBODY, 1L);
        if (req->headers)
                SET(CURLOPT_HTTPHEADER, req->headers);
        if (req->username) {
                SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
                SET(CURLOPT_USERNAME, req->username);
                SET(CURLOPT_PASSWORD, req->password ? req->password : "");
        }
#undef SET
        return c == CURLE_OK ? 0 : c == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
}

static int request_new(RegistryHttp *h, const RegistryHttpRequestOptions *o, RegistryHttpRequest **ret)
{
        RegistryHttpRequest *req = calloc(1, sizeof(*req));
        if (!req)
                return -ENOMEM;
        *req = (RegistryHttpRequest){.http = h,
                                     .on_response = o->on_response,
                                     .on_data = o->on_data,
                                     .on_done = o->on_done,
                                     .userdata = o->userdata};
        if (h->unavailable) { /* it only ends, with why (on_unavailable_timer) */
                *ret = req;
                return 0;
        }
        int r = 0;
        if (!(req->url = strdup(o->url)) || !(req->easy = sym_curl_easy_init()) ||
            (o->username && !(req->username = strdup(o->username))) ||
            (o->password && !(req->password = strdup(o->password))))
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < o->n_headers; i++) {
                struct curl_slist *l = sym_curl_slist_append(req->headers, o->headers[i]);
                if (!l)
                        r = -ENOMEM;
                else
                        req->headers = l;
        }
        if (r >= 0)
                r = request_setup(req, o);
        if (r < 0) {
                request_free(req);
                return r;
        }
        *ret = req;
        return 0;
}

int registry_http_start(RegistryHttp *h, const RegistryHttpRequestOptions *o, RegistryHttpRequest **ret)
{
        if (!h || h->is_freeing || !o || !o->url || !o->on_done)
                return -EINVAL;
        for (size_t i = 0; i < o->n_headers; i++)
                if (strpbrk(o->headers[i], "\r\n"))
                        return -EINVAL;
        RegistryHttpRequest *req;
        int r = request_new(h, o, &req);
        if (r < 0)
                return r;
        request_link(req);
        if (h->unavailable)
                (void)uv_timer_start(&h->timer, on_unavailable_timer, 0, 0);
        else if (!http_is_busy(h)) { /* else http_flush() adds it */
                h->in_curl++;
                CURLMcode mc = sym_curl_multi_add_handle(h->multi, req->easy);
                h->in_curl--;
                if (mc != CURLM_OK) {
                        request_unlink(req);
                        request_free(req);
                        return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
                }
                req->is_added = true;
        }
        if (ret)
                *ret = req;
        return 0;
}

void registry_http_resume(RegistryHttpRequest *req)
{
        if (!req || !req->is_paused || req->is_cancelled || req->is_finishing)
                return;
        RegistryHttp *h = req->http;
        if (http_is_busy(h)) {
                req->is_resume_pending = true;
                return;
        }
        http_enter(h);
        req->is_paused = false;
        h->in_curl++;
        sym_curl_easy_pause(req->easy, CURLPAUSE_CONT);
        h->in_curl--;
        http_leave(h);
}

void registry_http_cancel(RegistryHttpRequest *req)
{
        if (!req || req->is_cancelled)
                return;
        req->is_cancelled = true;
        if (!req->is_finishing && !http_is_busy(req->http))
                request_drop(req);
        /* else http_flush() drops it once libcurl has returned */
}
