/* Internals shared by spec.c (the document, mounts, linux section), spec-process.c (args, env, cwd,
 * capabilities) and spec-user.c (user strings, /etc/passwd and /etc/group). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macro.h"
#include "drivers/containerd/spec.h"

/* Sets *ret_error (when ret_error is not NULL and holds nothing yet) to the formatted message and
 * returns -EINVAL, or -ENOMEM when the message cannot be allocated. */
int oci_fail(char **ret_error, const char *fmt, ...) _printf_(2, 3);

/* Sets key of obj to v, stealing v (NULL v is an allocation failure). Returns 0 or -ENOMEM. */
int oci_json_put(json_t *obj, const char *key, json_t *v);
/* Appends v to arr, stealing v. Returns 0 or -ENOMEM. */
int oci_json_push(json_t *arr, json_t *v);
/* A new array of the n strings of v, or NULL on allocation failure. */
json_t *oci_json_strv(const char *const *v, size_t n);

/* A string-array field of the image config: *ret is borrowed, NULL when absent or null. Returns 0, or
 * -EINVAL (with the message) when the field is not an array of strings. */
int oci_image_strv(const json_t *config, const char *key, const json_t **ret, char **ret_error);
/* A string field of the image config: *ret is borrowed, NULL when absent, null or "". Returns 0 or
 * -EINVAL. */
int oci_image_string(const json_t *config, const char *key, const char **ret, char **ret_error);

typedef struct OciUser {
        uint32_t uid;
        uint32_t gid;
        uint32_t *gids; /* additionalGids: the primary gid first, then supplementary groups */
        size_t n_gids;
} OciUser;

void oci_user_done(OciUser *u);

/* Resolves a user string ("", "uid", "uid:gid", "name", "name:group", and mixes) as containerd's
 * WithUser + WithAdditionalGIDs do, reading names from passwd / group (file contents, may be NULL).
 * field names the origin in messages ("user", "image config User"). Returns 0, -EINVAL or -ENOMEM. */
int oci_user_resolve(const char *user, const char *field, const char *passwd, const char *group,
                     OciUser *ret, char **ret_error);
/* True when user names a user or group by name other than "root". */
bool oci_user_has_names(const char *user);

/* The process object: user, args, env, cwd, capabilities, rlimits, noNewPrivileges. */
int oci_process_build(const OciSpecInput *in, json_t **ret, char **ret_error);
