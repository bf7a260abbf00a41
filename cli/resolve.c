/* NAME resolution: a name (or a qualified "r/s/t/c") and the scope flags select resources across every
 * scope; one verb wants exactly one of them. */
#include <stdio.h>

#include "common/buf.h"
#include "cli/cli.h"

/* The scope slot of a level above kind: 0 realm, 1 space, 2 stack, 3 cell. */
static const char **scope_slot(Scope *sc, int level)
{
        switch (level) {
        case 0:
                return &sc->realm;
        case 1:
                return &sc->space;
        case 2:
                return &sc->stack;
        default:
                return &sc->cell;
        }
}

int query_init(Query *q, Kind kind, const char *name, const Scope *flags)
{
        *q = (Query){.kind = kind, .typed = name, .scope = *flags};
        if (!name)
                return 0;
        snprintf(q->buf, sizeof(q->buf), "%s", name);
        char *parts[8];
        size_t n = 0;
        for (char *p = q->buf, *save = NULL, *tok; (tok = strtok_r(p, "/", &save)); p = NULL) {
                if (n >= ARRAY_SIZE(parts))
                        break;
                parts[n++] = tok;
        }
        int depth = kind_depth(kind);
        /* an image sits right below its realm: "r/img" */
        int above = kind == KIND_IMAGE ? 1 : depth;
        if (n == 0 || (int)n > above + 1 || strstr(name, "//") || name[strlen(name) - 1] == '/') {
                log_error("\"%s\" is not a %s name", name, kind_to_noun(kind));
                return -EINVAL;
        }
        q->name = parts[n - 1];
        for (size_t i = 0; i + 1 < n; i++) {
                int level = above - (int)(n - 1) + (int)i;
                const char **slot = scope_slot(&q->scope, level);
                if (*slot && !streq(*slot, parts[i]))
                        q->impossible = true;
                *slot = parts[i];
        }
        return 0;
}

static bool level_matches(const char *filter, const char *value)
{
        /* a filter on a level the kind does not have is ignored */
        return !filter || value[0] == '\0' || streq(filter, value);
}

bool query_matches(const Query *q, const ResourceId *id)
{
        if (q->impossible || id->kind != q->kind)
                return false;
        if (q->name && !streq(q->name, id->name))
                return false;
        return level_matches(q->scope.realm, id->realm) && level_matches(q->scope.space, id->space) &&
               level_matches(q->scope.stack, id->stack) && level_matches(q->scope.cell, id->cell);
}

static const char *ambiguity_hint(Kind k)
{
        switch (k) {
        case KIND_SPACE:
        case KIND_IMAGE:
                return "use --realm";
        case KIND_STACK:
                return "use --realm or --space";
        case KIND_CELL:
                return "use --realm, --space or --stack";
        default:
                return "use --realm, --space, --stack or --cell";
        }
}

int resolve_report(const Query *q, const ResourceId *ids, size_t n)
{
        if (n == 1)
                return 0;
        if (n == 0) {
                log_error("%s \"%s\" not found", kind_to_noun(q->kind), strempty(q->typed));
                return -ENOENT;
        }
        Buf names = BUF_INIT;
        for (size_t i = 0; i < n; i++) {
                char qn[QNAME_MAX];
                if (buf_printf(&names, "%s%s", i > 0 ? ", " : "", resource_id_qualified(&ids[i], qn)) < 0) {
                        buf_done(&names);
                        return log_error_errno(-ENOMEM, "out of memory");
                }
        }
        log_error("%s \"%s\" is ambiguous: %s; %s", kind_to_noun(q->kind), strempty(q->typed), names.data,
                  ambiguity_hint(q->kind));
        buf_done(&names);
        return -ENOTUNIQ;
}

ssize_t resolve_one(const Tree *t, const Query *q)
{
        _cleanup_free_ ResourceId *ids = NULL;
        ssize_t found = -1;
        size_t n = 0;
        for (size_t i = 0; i < t->n; i++) {
                const TreeEntry *e = &t->entries[i];
                if (!e->has_spec_file || !query_matches(q, &e->id))
                        continue;
                ResourceId *nids = realloc(ids, (n + 1) * sizeof(*ids));
                if (!nids)
                        return log_error_errno(-ENOMEM, "out of memory");
                ids = nids;
                ids[n++] = e->id;
                found = (ssize_t)i;
        }
        int r = resolve_report(q, ids, n);
        return r < 0 ? r : found;
}
