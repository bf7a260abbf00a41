/* Plumbing shared by the container, task and snapshot operations: mount conversions. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd-tasks-internal.h"

int ctrd_mounts_view(Containerd__Types__Mount *const *mounts, size_t n, CtrdMount **ret)
{
        *ret = NULL;
        if (n == 0)
                return 0;
        CtrdMount *view = calloc(n, sizeof(*view));
        if (!view)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                view[i] = (CtrdMount){
                        .type = mounts[i]->type,
                        .source = mounts[i]->source,
                        .target = mounts[i]->target,
                        .options = (const char *const *)mounts[i]->options,
                        .n_options = mounts[i]->n_options,
                };
        *ret = view;
        return 0;
}

int ctrd_pb_mounts_new(const CtrdMount *mounts, size_t n, Containerd__Types__Mount ***ret)
{
        *ret = NULL;
        if (n == 0)
                return 0;
        Containerd__Types__Mount **pb = calloc(n, sizeof(*pb));
        if (!pb)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                pb[i] = malloc(sizeof(**pb));
                if (!pb[i]) {
                        ctrd_pb_mounts_free(pb, i);
                        return -ENOMEM;
                }
                containerd__types__mount__init(pb[i]);
                /* protobuf-c wants char *; these are only read by pack(). */
                pb[i]->type = (char *)strempty(mounts[i].type);
                pb[i]->source = (char *)strempty(mounts[i].source);
                pb[i]->target = (char *)strempty(mounts[i].target);
                pb[i]->options = (char **)mounts[i].options;
                pb[i]->n_options = mounts[i].n_options;
        }
        *ret = pb;
        return 0;
}

void ctrd_pb_mounts_free(Containerd__Types__Mount **mounts, size_t n)
{
        if (!mounts)
                return;
        for (size_t i = 0; i < n; i++)
                free(mounts[i]);
        free(mounts);
}

char *ctrd_strdup_empty(const char *s)
{
        return strdup(s ? s : "");
}
