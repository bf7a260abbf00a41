/* Helpers shared by the container, task and snapshot operations (ctrd-containers.c, ctrd-tasks*.c,
 * ctrd-snapshots-container.c, ctrd-runtime.c), and visible to their unit tests. */
#pragma once

#include "drivers/containerd/ctrd-internal.h"

#include "github.com/containerd/containerd/api/types/mount.pb-c.h"

/* CtrdMount views of unpacked mounts; the strings stay in mounts. Returns 0 (*ret NULL when n is 0) or
 * -ENOMEM; free the array only. */
int ctrd_mounts_view(Containerd__Types__Mount *const *mounts, size_t n, CtrdMount **ret);

/* Mount messages pointing at the strings of mounts (which must outlive them), for a request. Returns 0
 * (*ret NULL when n is 0) or -ENOMEM; free with ctrd_pb_mounts_free(). */
int ctrd_pb_mounts_new(const CtrdMount *mounts, size_t n, Containerd__Types__Mount ***ret);
void ctrd_pb_mounts_free(Containerd__Types__Mount **mounts, size_t n);

/* strdup() of s, of "" for NULL. */
char *ctrd_strdup_empty(const char *s);
