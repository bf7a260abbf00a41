/* Resource ids as the CLI names them: qualified names, parents, depth, and the result lines. */
#include <stdio.h>

#include "cli/cli.h"

int kind_depth(Kind k)
{
        switch (k) {
        case KIND_REALM:
                return 0;
        case KIND_SPACE:
        case KIND_IMAGE:
                return 1;
        case KIND_STACK:
                return 2;
        case KIND_CELL:
                return 3;
        case KIND_CONTAINER:
                return 4;
        default:
                return -1;
        }
}

const char *kind_plural(Kind k)
{
        static const char *const plurals[_KIND_MAX] = {
                [KIND_REALM] = "realms", [KIND_SPACE] = "spaces",         [KIND_STACK] = "stacks",
                [KIND_CELL] = "cells",   [KIND_CONTAINER] = "containers", [KIND_IMAGE] = "images",
        };
        return k >= 0 && k < _KIND_MAX ? plurals[k] : "resources";
}

static int copy_name(char dst[static NAME_MAX_LEN + 1], const char *src)
{
        if (!src || strlen(src) > NAME_MAX_LEN)
                return -EINVAL;
        strcpy(dst, src);
        return 0;
}

int resource_id_make(ResourceId *ret, Kind kind, const char *realm, const char *space, const char *stack,
                     const char *cell, const char *name)
{
        ResourceId id = {.kind = kind};
        int depth = kind_depth(kind), r = 0;
        if (depth < 0)
                return -EINVAL;
        if (kind == KIND_REALM)
                realm = name;
        else if (kind == KIND_SPACE)
                space = name;
        else if (kind == KIND_STACK)
                stack = name;
        else if (kind == KIND_CELL)
                cell = name;
        r |= copy_name(id.realm, realm);
        r |= copy_name(id.name, name);
        if (depth >= 1 && kind != KIND_IMAGE)
                r |= copy_name(id.space, space);
        if (depth >= 2)
                r |= copy_name(id.stack, stack);
        if (depth >= 3)
                r |= copy_name(id.cell, cell);
        if (r < 0)
                return -EINVAL;
        r = resource_id_check(&id);
        if (r < 0)
                return r;
        *ret = id;
        return 0;
}

static bool part_ok(const char *s)
{
        return name_is_valid(s) && !name_is_reserved(s);
}

int resource_id_check(const ResourceId *id)
{
        int depth = kind_depth(id->kind);
        if (depth < 0 || !part_ok(id->realm) || !part_ok(id->name))
                return -EINVAL;
        if (depth >= 1 && id->kind != KIND_IMAGE && !part_ok(id->space))
                return -EINVAL;
        if (depth >= 2 && !part_ok(id->stack))
                return -EINVAL;
        if (depth >= 3 && !part_ok(id->cell))
                return -EINVAL;
        return 0;
}

char *resource_id_qualified(const ResourceId *id, char buf[static QNAME_MAX])
{
        switch (id->kind) {
        case KIND_REALM:
                snprintf(buf, QNAME_MAX, "%s", id->realm);
                break;
        case KIND_SPACE:
                snprintf(buf, QNAME_MAX, "%s/%s", id->realm, id->space);
                break;
        case KIND_IMAGE:
                snprintf(buf, QNAME_MAX, "%s/%s", id->realm, id->name);
                break;
        case KIND_STACK:
                snprintf(buf, QNAME_MAX, "%s/%s/%s", id->realm, id->space, id->stack);
                break;
        case KIND_CELL:
                snprintf(buf, QNAME_MAX, "%s/%s/%s/%s", id->realm, id->space, id->stack, id->cell);
                break;
        case KIND_CONTAINER:
                snprintf(buf, QNAME_MAX, "%s/%s/%s/%s/%s", id->realm, id->space, id->stack, id->cell,
                         id->name);
                break;
        default:
                snprintf(buf, QNAME_MAX, "%s", id->name);
        }
        return buf;
}

int resource_id_parent(const ResourceId *id, ResourceId *ret)
{
        ResourceId p = *id;
        switch (id->kind) {
        case KIND_SPACE:
        case KIND_IMAGE:
                p.kind = KIND_REALM;
                strcpy(p.name, id->realm);
                p.space[0] = p.stack[0] = p.cell[0] = '\0';
                break;
        case KIND_STACK:
                p.kind = KIND_SPACE;
                strcpy(p.name, id->space);
                p.stack[0] = p.cell[0] = '\0';
                break;
        case KIND_CELL:
                p.kind = KIND_STACK;
                strcpy(p.name, id->stack);
                p.cell[0] = '\0';
                break;
        case KIND_CONTAINER:
                p.kind = KIND_CELL;
                strcpy(p.name, id->cell);
                break;
        default:
                return -ENOENT;
        }
        *ret = p;
        return 0;
}

bool resource_id_equal(const ResourceId *a, const ResourceId *b)
{
        return a->kind == b->kind && streq(a->realm, b->realm) && streq(a->space, b->space) &&
               streq(a->stack, b->stack) && streq(a->cell, b->cell) && streq(a->name, b->name);
}

bool resource_id_is_ancestor(const ResourceId *anc, const ResourceId *id)
{
        ResourceId cur = *id, p;
        while (resource_id_parent(&cur, &p) >= 0) {
                if (resource_id_equal(&p, anc))
                        return true;
                cur = p;
        }
        return false;
}

void print_result(const ResourceId *id, const char *what, const char *suffix)
{
        char q[QNAME_MAX];
        printf("%s \"%s\": %s%s%s\n", kind_to_string(id->kind), resource_id_qualified(id, q), what,
               suffix ? " " : "", strempty(suffix));
}
