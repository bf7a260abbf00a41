#include <stdio.h>
#include <string.h>

#include "common/sha256.h"
#include "state/document.h"

#define CONTAINERD_ID_MAX 76

bool name_is_valid(const char *s)
{
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > NAME_MAX_LEN)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                /* '-' inside only, never two in a row: containerd identifiers allow no repeated
                 * separators, and names become parts of them */
                if (!alnum && !(c == '-' && i > 0 && i < n - 1 && s[i - 1] != '-'))
                        return false;
        }
        return true;
}

bool name_is_reserved(const char *s)
{
        static const char *const reserved[] = {"run", "containers", "logs", "images"};
        for (size_t i = 0; i < ARRAY_SIZE(reserved); i++)
                if (streq(s, reserved[i]))
                        return true;
        return s[0] == '.';
}

const ContainerSpec *cell_root_container(const CellSpec *c)
{
        if (c->root_container_id)
                for (size_t i = 0; i < c->n_containers; i++)
                        if (streq_ptr(c->containers[i].id, c->root_container_id))
                                return &c->containers[i];
        for (size_t i = 0; i < c->n_containers; i++)
                if (c->containers[i].root)
                        return &c->containers[i];
        return c->n_containers > 0 ? &c->containers[0] : NULL;
}

void containerd_container_id(const ResourceId *cell, const char *container, bool is_root,
                             char ret[static 77])
{
        char full[4 * (NAME_MAX_LEN + 1) + 8];
        int n = snprintf(full, sizeof(full), "%s_%s_%s_%s", cell->space, cell->stack, cell->cell,
                         is_root ? "root" : container);
        if (n <= CONTAINERD_ID_MAX) {
                memcpy(ret, full, (size_t)n + 1);
                return;
        }
        /* Over containerd's limit: a readable prefix and 12 hex digits of the full id's hash. The labels
         * carry the full identity, and they are what the daemon matches on. */
        char digest[SHA256_HEX_MAX];
        if (sha256_digest_string(full, (size_t)n, digest) < 0)
                memset(digest, '0', sizeof(digest) - 1);
        size_t keep = CONTAINERD_ID_MAX - 13;
        while (keep > 0 && (full[keep - 1] == '_' || full[keep - 1] == '-'))
                keep--;
        memcpy(ret, full, keep);
        ret[keep] = '_';
        memcpy(ret + keep + 1, digest + 7, 12);
        ret[keep + 13] = '\0';
}

int cell_netns_name(const ResourceId *cell, char *ret, size_t size)
{
        int n = snprintf(ret, size, "kukeon_%s_%s_%s_%s", cell->realm, cell->space, cell->stack, cell->cell);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int resource_cgroup_path(const char *root, const ResourceId *id, char *ret, size_t size)
{
        const char *parts[] = {id->realm, id->space, id->stack, id->cell};
        size_t levels = id->kind == KIND_REALM   ? 1
                        : id->kind == KIND_SPACE ? 2
                        : id->kind == KIND_STACK ? 3
                                                 : 4;
        int n = snprintf(ret, size, "/%s", root);
        for (size_t i = 0; i < levels && n >= 0 && (size_t)n < size; i++)
                n += snprintf(ret + n, size - (size_t)n, "/%s", parts[i]);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}
