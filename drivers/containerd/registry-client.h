/* Requests to one registry host (distribution API /v2/), with its authentication (containerd-api.md §3
 * b1): a 401 is answered once — Bearer: a token from the challenge's realm (GET with HTTP Basic when
 * there are credentials, anonymous otherwise), cached per scope until it expires and sent with every
 * later request of that scope; Basic: the credentials, sent with every later request — and the request
 * is retried. A second 401 (or one saying insufficient_scope after a token) fails with -EACCES.
 *
 * Credentials never travel over plain HTTP to a host that is not a loopback one (-EPERM), and never
 * follow a redirect to another host (registry-http.h). Nothing here blocks; callbacks run on the loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/containerd/registry-http.h"

#define REGISTRY_FETCH_MESSAGE_MAX 768

typedef struct RegistryClient RegistryClient;
typedef struct RegistryFetch RegistryFetch;

typedef struct RegistryClientOptions {
        const char *host;                /* "registry-1.docker.io", "127.0.0.1:5055" */
        bool plain_http;                 /* http:// instead of https:// */
        const char *username, *password; /* NULL: anonymous */
        int64_t request_timeout_ms;      /* manifests and tokens; 0: 60 s (blobs: see below) */
} RegistryClientOptions;

/* Returns 0 with a new client in *ret (everything copied), -EINVAL, -ENOMEM, -EIO. */
int registry_client_new(uv_loop_t *loop, const RegistryClientOptions *o, RegistryClient **ret);
/* Drops fetches in flight without their callbacks; the memory goes once the loop has closed the
 * handles. Accepts NULL. */
void registry_client_free(RegistryClient *c);

typedef struct RegistryFetchOptions {
        bool is_head;
        const char *repository; /* "library/busybox" */
        const char *path;       /* below the repository: "manifests/latest", "blobs/sha256:…" */
        const char *accept;     /* the Accept header's value, NULL for none */
        bool has_no_deadline;   /* a blob: no per-request timeout (the caller keeps one) */
        /* The 2xx response (after authentication and redirects); return 0 or a negative errno to end
         * the fetch with it. */
        int (*on_response)(const RegistryHttpResponse *resp, void *userdata);
        /* Its body: 0 when taken, REGISTRY_HTTP_PAUSE (see registry_fetch_resume()), or a negative
         * errno to end the fetch with it. */
        int (*on_data)(const void *data, size_t len, void *userdata);
        /* Exactly once unless cancelled: 0 and the response, or a negative errno and a message naming
         * the method and URL, e.g. "GET http://…/manifests/x: HTTP 404 (MANIFEST_UNKNOWN: manifest
         * unknown)": the status as registry_http_status_to_errno() says, the transport's error
         * (-ECONNREFUSED, …), or whatever on_response / on_data returned (message "" then). resp is the
         * registry's last response when there was one (also with an error status), else NULL. */
        void (*on_done)(int r, const char *message, const RegistryHttpResponse *resp, void *userdata);
        void *userdata;
} RegistryFetchOptions;

/* Starts a request of /v2/<repository>/<path> (o is copied). Returns 0 with the fetch in *ret (may be
 * NULL; valid until on_done returns or it is cancelled), -EINVAL, -ENOMEM. */
int registry_fetch_start(RegistryClient *c, const RegistryFetchOptions *o, RegistryFetch **ret);
/* After on_data returned REGISTRY_HTTP_PAUSE: deliver more (the held bytes may come before this
 * returns). */
void registry_fetch_resume(RegistryFetch *f);
/* No callback of f runs any more. Accepts NULL. */
void registry_fetch_cancel(RegistryFetch *f);

/* The URL of a fetch: "https://<host>/v2/<repository>/<path>". Returns a new string or NULL. */
char *registry_client_url(const RegistryClient *c, const char *repository, const char *path);
