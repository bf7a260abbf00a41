/* HTTP(S) requests on the libuv loop: the one module that uses libcurl (STYLE.md rule 9).
 *
 * A RegistryHttp is one curl multi handle driven by the loop (CURLMOPT_SOCKETFUNCTION → uv_poll_t per
 * socket, CURLMOPT_TIMERFUNCTION → a uv_timer_t); nothing blocks (name resolution is curl's threaded
 * resolver). Redirects are followed (http and https only, at most 10); credentials — HTTP Basic and any
 * Authorization header given — go to the URL's own host only, never after a redirect to another host,
 * scheme or port (curl's behaviour without CURLOPT_UNRESTRICTED_AUTH, which is set to 0 explicitly).
 * Loopback addresses never go through a proxy.
 *
 * Callbacks run on the loop thread. From inside on_response and on_data only registry_http_cancel()
 * and registry_http_resume() of other requests may be called (and cancel of the request itself); from
 * on_done anything, including registry_http_free(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

typedef struct RegistryHttp RegistryHttp;
typedef struct RegistryHttpRequest RegistryHttpRequest;

/* The final response (after redirects). Strings are NULL when the header is absent and valid during the
 * callback only. */
typedef struct RegistryHttpResponse {
        long status;
        const char *url;              /* the effective URL */
        const char *content_type;     /* Content-Type */
        const char *docker_digest;    /* Docker-Content-Digest */
        const char *www_authenticate; /* every WWW-Authenticate header, joined with ", " */
        int64_t content_length;       /* -1 when unknown */
} RegistryHttpResponse;

/* Returned by on_data: the bytes were not taken; they come again after registry_http_resume(). */
#define REGISTRY_HTTP_PAUSE 1

/* The final response's headers, once, before its body (and before on_done when the body is empty).
 * Return 0 to go on or a negative errno to end the request with it. */
typedef int (*registry_http_response_cb)(RegistryHttpRequest *req, const RegistryHttpResponse *resp,
                                         void *userdata);
/* Body bytes (of whatever status). Return 0 when taken, REGISTRY_HTTP_PAUSE, or a negative errno to end
 * the request with it. */
typedef int (*registry_http_data_cb)(RegistryHttpRequest *req, const void *data, size_t len, void *userdata);
/* Exactly once per request not cancelled: r is 0 when an HTTP exchange completed (whatever its status,
 * resp is set), the error a callback returned, or the transfer's error as an errno (-ECONNREFUSED,
 * -ETIMEDOUT, -EHOSTUNREACH for a name that does not resolve, -EPROTO for TLS trouble, -ELOOP for too
 * many redirects, …) with curl's text in message (resp is NULL when no response arrived). The request is
 * freed when it returns. */
typedef void (*registry_http_done_cb)(RegistryHttpRequest *req, int r, const char *message,
                                      const RegistryHttpResponse *resp, void *userdata);

typedef struct RegistryHttpRequestOptions {
        const char *url;
        bool is_head;
        const char *const *headers; /* "Accept: …", "Authorization: Bearer …" */
        size_t n_headers;
        const char *username, *password; /* HTTP Basic when username is set */
        int64_t timeout_ms;              /* the whole request; 0: none */
        int64_t connect_timeout_ms;      /* 0: 30 s */
        registry_http_response_cb on_response;
        registry_http_data_cb on_data;
        registry_http_done_cb on_done; /* required */
        void *userdata;
} RegistryHttpRequestOptions;

/* A new client on loop (curl_global_init() is reference-counted by libcurl). Returns 0, -ENOMEM, -EIO
 * when libcurl cannot be initialized. Without libcurl (dl-libs.h) the client is made all the same and each
 * request ends with -ELIBACC and a message naming the library. */
int registry_http_new(uv_loop_t *loop, RegistryHttp **ret);
/* Drops every request without its callback and releases the client once its libuv handles are closed
 * (the loop must run on). Accepts NULL. */
void registry_http_free(RegistryHttp *h);

/* Starts a request (everything in o is copied). Returns 0 with the request in *ret (valid until on_done
 * returns or it is cancelled; ret may be NULL), -EINVAL, -ENOMEM. No callback runs before this returns. */
int registry_http_start(RegistryHttp *h, const RegistryHttpRequestOptions *o, RegistryHttpRequest **ret);
/* Continues a request whose on_data returned REGISTRY_HTTP_PAUSE; the held bytes may be delivered before
 * this returns. */
void registry_http_resume(RegistryHttpRequest *req);
/* Abandons a request: no callback of it runs any more. Accepts NULL. */
void registry_http_cancel(RegistryHttpRequest *req);
