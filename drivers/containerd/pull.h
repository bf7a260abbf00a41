/* Pulling an image from a registry into containerd (containerd-api.md §3 b), without blocking the loop:
 *
 *   registry: resolve the reference (HEAD, then GET of the manifest or index, the linux/amd64 manifest and
 *             the config; token or Basic authentication on a 401)
 *   containerd, under a new lease: each layer streamed from the registry into Content.Write (size and
 *             sha256 checked on the way; the last byte waits for the check), then the config, the
 *             manifest and the index with their GC labels (children first) → unpack → the image record
 *             → the lease deleted
 *
 * A failure after the lease exists deletes it with sync, so nothing of the pull stays: no blob, no ingest
 * (the writer aborts it), no snapshot, no lease. Every message starts with "pulling <ref>: " and names
 * the URL that failed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/containerd/ctrd.h"

/* One login of a realm (its spec.registryCredentials[]). Used only for the registry it names. */
typedef struct PullCredentials {
        const char *server; /* "registry.example.com", "127.0.0.1:5000", "docker.io"; NULL or "": any */
        const char *username;
        const char *password;
} PullCredentials;

typedef struct PullOptions {
        /* http:// instead of https:// (a registry on 127.0.0.1 or localhost). Credentials are still only
         * sent over plain HTTP to loopback hosts. */
        bool plain_http;
        int64_t timeout_ms;         /* the whole pull; 0: 30 min */
        int64_t request_timeout_ms; /* each manifest, config and token request; 0: 60 s */
        const char *snapshotter;    /* NULL: overlayfs */
        /* Bytes of the image's blobs written into containerd (or found there) of their total, with cb's
         * userdata. */
        ctrd_progress_cb on_progress;
} PullOptions;

typedef struct CtrdPulledImage {
        const char *name;        /* the image record's: "docker.io/library/busybox:latest" */
        CtrdDescriptor target;   /* what the reference names (an index or a manifest) */
        CtrdDescriptor manifest; /* the linux/amd64 manifest */
        const char *chain_id;    /* the top layer's: its snapshot is committed */
} CtrdPulledImage;

/* r is 1 when something was written, unpacked or named, 0 when everything was there (pulling again is a
 * no-op), else a negative errno: -EINVAL invalid reference; from the registry -ENOENT (unknown manifest
 * or blob), -EACCES (authentication failed), -EPERM (credentials refused over plain HTTP),
 * -ECONNREFUSED / -EHOSTUNREACH / -ETIMEDOUT / -EPROTO (transport, TLS), -EIO (5xx), -ELIBACC (libcurl
 * cannot be loaded: the message names it), -EBADMSG (a size or
 * digest that is not what it should be, a wrong content type, garbage), -ENOTSUP (docker schema 1, a
 * layer type containerd cannot apply), -ENOEXEC (no linux/amd64 image); -ECANCELED after
 * ctrd_image_pull_cancel(), -ETIMEDOUT after the timeout; else containerd's (ctrd.h). image is set when
 * r >= 0; everything is valid during the callback only. */
typedef void (*ctrd_pull_cb)(int r, const char *message, const CtrdPulledImage *image, void *userdata);

typedef struct CtrdPull CtrdPull;

/* Pulls ref ("busybox", "127.0.0.1:5055/kukeon/busybox:test", "x/y@sha256:…"; docker's normalization)
 * into namespace ns (NULL: the connection's default), as described at the top. creds (may be NULL) are
 * used when their server is ref's registry. Everything passed is copied. Returns 0 with the pull in *ret
 * (valid until cb runs; ret may be NULL), or -EINVAL for an invalid reference, -ENOMEM, -EIO (libcurl
 * cannot be initialised), in which case cb never runs. */
int ctrd_image_pull(GrpcConn *conn, uv_loop_t *loop, const char *ns, const char *ref,
                    const PullCredentials *creds, const PullOptions *opts, ctrd_pull_cb cb, void *userdata,
                    CtrdPull **ret);
/* Stops a pull: what is in flight ends, the lease goes, then cb runs with -ECANCELED. */
void ctrd_image_pull_cancel(CtrdPull *pull);

/* The entry of list (a realm's registryCredentials) for ref's registry: its serverAddress is the
 * registry's host[:port] ("docker.io" and its aliases for Docker Hub; scheme and path ignored). NULL
 * when none matches or ref is invalid. */
const PullCredentials *pull_credentials_select(const PullCredentials *list, size_t n, const char *ref);
