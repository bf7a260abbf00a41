#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/buf.h"
#include "common/sha256.h"
#include "state/document.h"
#include "state/emit.h"
#include "state/schema.h"

#define DOC_SPEC   3 /* field indexes in the document tables */
#define DOC_STATUS 4

static int parse_kind(const YNode *root, const char *file, unsigned flags, Kind *ret, Diag *diag)
{
        const YNode *k = ynode_get(root, "kind");
        if (!k)
                return diag_set(diag, -EINVAL, file, root->line, root->col, "kind",
                                "required field is missing");
        if (k->type != YNODE_SCALAR)
                return diag_set(diag, -EINVAL, file, k->line, k->col, "kind", "expected a string");
        char name[32];
        snprintf(name, sizeof(name), "%s", k->value);
        if (flags & PARSE_STATUS) {
                size_t n = strlen(name);
                if (n <= 6 || !streq(name + n - 6, "Status"))
                        return diag_set(diag, -EINVAL, file, k->line, k->col, "kind",
                                        "expected a status kind such as CellStatus, found \"%s\"", k->value);
                name[n - 6] = '\0';
        }
        Kind kind = strlen(k->value) < sizeof(name) ? kind_from_string(name) : _KIND_INVALID;
        if (kind < 0)
                return diag_set(diag, -EINVAL, file, k->line, k->col, "kind",
                                "expected one of Realm, Space, Stack, Cell, Container, Image, found \"%s\"",
                                k->value);
        *ret = kind;
        return 0;
}

/* Decodes one YAML tree into a document. */
static int document_decode(const YNode *root, const char *file, Kind want, unsigned flags, Document **ret,
                           Diag *diag)
{
        if (!root || root->type != YNODE_MAPPING)
                return diag_set(diag, -EINVAL, file, root ? root->line : 0, root ? root->col : 0, NULL,
                                "expected a mapping with apiVersion, kind, metadata and spec");
        Kind kind = _KIND_INVALID;
        int r = parse_kind(root, file, flags, &kind, diag);
        if (r < 0)
                return r;
        if (want >= 0 && kind != want) {
                const YNode *k = ynode_get(root, "kind");
                return diag_set(diag, -EINVAL, file, k->line, k->col, "kind", "expected %s, found \"%s\"",
                                kind_to_string(want), k->value);
        }
        Document *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->kind = kind;
        r = schema_decode(document_schema(kind), d, root, file, "", diag);
        if (r >= 0 && !streq_ptr(d->api_version, KUKEON_API_VERSION)) {
                const YNode *n = ynode_get(root, "apiVersion");
                if (!n)
                        r = diag_set(diag, -EINVAL, file, root->line, root->col, "apiVersion",
                                     "required field is missing (expected \"" KUKEON_API_VERSION "\")");
                else
                        r = diag_set(diag, -EINVAL, file, n->line, n->col, "apiVersion",
                                     "expected \"" KUKEON_API_VERSION "\", found \"%s\"", n->value);
        }
        if (r < 0) {
                document_free(d);
                return r;
        }
        *ret = d;
        return 0;
}

static bool root_is_empty(const YNode *root)
{
        return !root || (root->type == YNODE_SCALAR && root->plain && root->len == 0);
}

int documents_parse(const char *buf, size_t len, const char *file, unsigned flags, ParsedStream *ret)
{
        YStream ys = {0};
        ParsedStream ps = {0};
        int r = ystream_parse(buf, len, file, &ys);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ys.n; i++) {
                YDoc *yd = &ys.docs[i];
                if (!diag_is_set(&yd->diag) && root_is_empty(yd->root))
                        continue;
                ParsedDoc *docs = realloc(ps.docs, (ps.n + 1) * sizeof(*docs));
                if (!docs) {
                        r = -ENOMEM;
                        break;
                }
                ps.docs = docs;
                ParsedDoc *pd = &docs[ps.n++];
                *pd = (ParsedDoc){.line = yd->line};
                if (diag_is_set(&yd->diag)) {
                        diag_move(&pd->diag, &yd->diag);
                        continue;
                }
                pd->root = TAKE_PTR(yd->root);
                r = document_decode(pd->root, file, _KIND_INVALID, flags, &pd->doc, &pd->diag);
                if (r == -ENOMEM)
                        break;
                r = 0;
        }
        ystream_done(&ys);
        if (r < 0) {
                parsed_stream_done(&ps);
                return r;
        }
        *ret = ps;
        return 0;
}

void parsed_stream_done(ParsedStream *s)
{
        for (size_t i = 0; i < s->n; i++) {
                document_free(s->docs[i].doc);
                ynode_free(s->docs[i].root);
                diag_done(&s->docs[i].diag);
        }
        free(s->docs);
        *s = (ParsedStream){0};
}

int document_parse_one(const char *buf, size_t len, const char *file, Kind kind, unsigned flags,
                       Document **ret, Diag *diag)
{
        ParsedStream ps = {0};
        int r = documents_parse(buf, len, file, flags, &ps);
        if (r < 0)
                return r;
        if (ps.n != 1) {
                r = diag_set(diag, -EINVAL, file, ps.n ? ps.docs[1].line : 0, 1, NULL,
                             ps.n ? "expected one document, found %zu" : "expected one document, found none",
                             ps.n);
        } else if (diag_is_set(&ps.docs[0].diag)) {
                diag_move(diag, &ps.docs[0].diag);
                r = -EINVAL;
        } else if (kind >= 0 && ps.docs[0].doc->kind != kind) {
                r = diag_set(diag, -EINVAL, file, ps.docs[0].line, 1, "kind", "expected %s, found %s",
                             kind_to_string(kind), kind_to_string(ps.docs[0].doc->kind));
        } else {
                *ret = TAKE_PTR(ps.docs[0].doc);
        }
        parsed_stream_done(&ps);
        return r;
}

static int set_string(char **p, const char *v)
{
        char *s = strdup(v);
        if (!s)
                return -ENOMEM;
        free(*p);
        *p = s;
        return 0;
}

int document_new(Kind kind, const char *name, Document **ret)
{
        const Schema *s = document_schema(kind);
        if (!s)
                return -EINVAL;
        Document *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->kind = kind;
        if (set_string(&d->api_version, KUKEON_API_VERSION) < 0 ||
            set_string(&d->kind_name, kind_to_string(kind)) < 0 || set_string(&d->metadata.name, name) < 0) {
                document_free(d);
                return -ENOMEM;
        }
        field_mark_set(&d->metadata, (size_t)schema_field_index(&metadata_schema, "name"));
        for (size_t i = 0; i < 3; i++)
                field_mark_set(d, i);
        *ret = d;
        return 0;
}

int document_copy(const Document *d, Document **ret)
{
        Document *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        int r = schema_copy(document_schema(d->kind), c, d);
        if (r < 0) {
                free(c);
                return r;
        }
        c->kind = d->kind;
        *ret = c;
        return 0;
}

static int copy_name(char dst[static NAME_MAX_LEN + 1], const char *src, const char *fallback,
                     const char *path, Diag *diag)
{
        const char *v = src && *src ? src : fallback;
        if (strlen(v) > NAME_MAX_LEN)
                return diag_set(diag, -EINVAL, NULL, 0, 0, path, "\"%.80s...\" is longer than %d bytes", v,
                                NAME_MAX_LEN);
        strcpy(dst, v);
        return 0;
}

int document_identity(const Document *d, const ResourceId *fallback, ResourceId *ret, Diag *diag)
{
        ResourceId id = {.kind = d->kind};
        const char *realm = NULL, *space = NULL, *stack = NULL, *cell = NULL;
        const char *fr = fallback && *fallback->realm ? fallback->realm : "default";
        const char *fs = fallback && *fallback->space ? fallback->space : "default";
        const char *ft = fallback && *fallback->stack ? fallback->stack : "default";
        const char *fc = fallback && *fallback->cell ? fallback->cell : "default";
        const char *name = d->metadata.name;
        int r;

        if (!name || !*name)
                return diag_set(diag, -EINVAL, NULL, 0, 0, "metadata.name", "required field is missing");
        switch (d->kind) {
        case KIND_REALM:
                realm = name;
                break;
        case KIND_SPACE:
                realm = d->spec.space.realm_id;
                space = name;
                break;
        case KIND_STACK:
                realm = d->spec.stack.realm_id;
                space = d->spec.stack.space_id;
                stack = name;
                break;
        case KIND_CELL:
                realm = d->spec.cell.realm_id;
                space = d->spec.cell.space_id;
                stack = d->spec.cell.stack_id;
                cell = name;
                break;
        case KIND_CONTAINER:
                realm = d->spec.container.realm_id;
                space = d->spec.container.space_id;
                stack = d->spec.container.stack_id;
                cell = d->spec.container.cell_id;
                break;
        case KIND_IMAGE:
                realm = d->spec.image.realm_id;
                break;
        default:
                return -EINVAL;
        }
        if ((r = copy_name(id.name, name, name, "metadata.name", diag)) < 0 ||
            (r = copy_name(id.realm, realm, fr, "spec.realmId", diag)) < 0)
                return r;
        if (d->kind >= KIND_SPACE && d->kind <= KIND_CONTAINER &&
            (r = copy_name(id.space, space, fs, "spec.spaceId", diag)) < 0)
                return r;
        if (d->kind >= KIND_STACK && d->kind <= KIND_CONTAINER &&
            (r = copy_name(id.stack, stack, ft, "spec.stackId", diag)) < 0)
                return r;
        if ((d->kind == KIND_CELL || d->kind == KIND_CONTAINER) &&
            (r = copy_name(id.cell, cell, fc, "spec.cellId", diag)) < 0)
                return r;
        *ret = id;
        return 0;
}

/* Sets a string field by name when it is absent. */
static int default_string(const Schema *s, void *obj, const char *field, const char *value)
{
        int i = schema_field_index(s, field);
        if (i < 0 || field_is_set(obj, (size_t)i))
                return 0;
        char **p = (char **)((char *)obj + s->fields[i].offset);
        int r = set_string(p, value);
        if (r < 0)
                return r;
        field_mark_set(obj, (size_t)i);
        return 0;
}

static int normalize_caps(StrList *l)
{
        for (size_t i = 0; i < l->n; i++) {
                char *c = l->items[i];
                for (char *p = c; *p; p++)
                        *p = (char)toupper((unsigned char)*p);
                if (!streq(c, "ALL") && strncmp(c, "CAP_", 4) != 0) {
                        char *n;
                        if (asprintf(&n, "CAP_%s", c) < 0)
                                return -ENOMEM;
                        free(c);
                        l->items[i] = n;
                }
        }
        return 0;
}

/* A container's parent ids default to its cell's; capability names are normalised to CAP_X. */
static int container_apply_identity(ContainerSpec *k, const ResourceId *id)
{
        const Schema *cs = &container_spec_schema;
        int r;
        if ((r = default_string(cs, k, "realmId", id->realm)) < 0 ||
            (r = default_string(cs, k, "spaceId", id->space)) < 0 ||
            (r = default_string(cs, k, "stackId", id->stack)) < 0 ||
            (r = default_string(cs, k, "cellId", id->cell)) < 0 ||
            (r = normalize_caps(&k->capabilities.add)) < 0)
                return r;
        return normalize_caps(&k->capabilities.drop);
}

int document_apply_defaults(Document *d, const ResourceId *id)
{
        const Schema *ss = spec_schema(d->kind);
        void *spec = &d->spec;
        int r = 0;
        char buf[NAME_MAX_LEN + 16];

        field_mark_set(d, DOC_SPEC);
        switch (d->kind) {
        case KIND_REALM:
                snprintf(buf, sizeof(buf), "kukeon-%s", id->realm);
                r = default_string(ss, spec, "namespace", buf);
                break;
        case KIND_SPACE:
                r = default_string(ss, spec, "realmId", id->realm);
                if (r >= 0) {
                        ContainerDefaults *cd = &d->spec.space.defaults.container;
                        if ((r = normalize_caps(&cd->capabilities.add)) >= 0)
                                r = normalize_caps(&cd->capabilities.drop);
                }
                break;
        case KIND_STACK:
                if ((r = default_string(ss, spec, "id", id->name)) >= 0 &&
                    (r = default_string(ss, spec, "realmId", id->realm)) >= 0)
                        r = default_string(ss, spec, "spaceId", id->space);
                break;
        case KIND_CELL: {
                CellSpec *c = &d->spec.cell;
                if ((r = default_string(ss, spec, "id", id->name)) >= 0 &&
                    (r = default_string(ss, spec, "realmId", id->realm)) >= 0 &&
                    (r = default_string(ss, spec, "spaceId", id->space)) >= 0)
                        r = default_string(ss, spec, "stackId", id->stack);
                const ContainerSpec *root = cell_root_container(c);
                if (r >= 0 && root && root->id)
                        r = default_string(ss, spec, "rootContainerId", root->id);
                for (size_t i = 0; r >= 0 && i < c->n_containers; i++)
                        r = container_apply_identity(&c->containers[i], id);
                break;
        }
        case KIND_CONTAINER:
                r = container_apply_identity(&d->spec.container, id);
                break;
        case KIND_IMAGE:
                r = default_string(ss, spec, "realmId", id->realm);
                break;
        default:
                return -EINVAL;
        }
        if (r < 0)
                return r;
        schema_apply_defaults(ss, spec);
        return 0;
}

int document_digest(const Document *d, const ResourceId *id, char ret[static 72])
{
        Document *c = NULL;
        int r = document_copy(d, &c);
        if (r < 0)
                return r;
        r = document_apply_defaults(c, id);
        json_t *j = r >= 0 ? schema_to_json(document_schema(c->kind), c, SCHEMA_JSON_CANONICAL) : NULL;
        document_free(c);
        if (!j)
                return r < 0 ? r : -ENOMEM;
        json_object_del(j, "status");
        json_object_set_new(j, "kind", json_string(kind_to_string(d->kind)));
        char *text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (!text)
                return -ENOMEM;
        r = sha256_digest_string(text, strlen(text), ret);
        free(text);
        return r;
}

json_t *document_to_json(const Document *d, unsigned emit_flags)
{
        json_t *j = schema_to_json(document_schema(d->kind), d,
                                   (emit_flags & EMIT_REDACT) ? SCHEMA_JSON_REDACT : 0);
        if (!j)
                return NULL;
        int r = 0;
        if (!(emit_flags & (EMIT_STATUS | EMIT_STATUS_FILE)))
                json_object_del(j, "status");
        else if (!json_object_get(j, "status"))
                r |= json_object_set_new(j, "status", json_pack("{s:s}", "state", "Pending"));
        if (emit_flags & EMIT_STATUS_FILE) {
                char kind[32];
                snprintf(kind, sizeof(kind), "%sStatus", kind_to_string(d->kind));
                /* Taken out and put back last: a document without metadata gets it appended here, and
                 * the keys keep the tables' order only with status after it. */
                json_t *status = json_incref(json_object_get(j, "status"));
                json_object_del(j, "status");
                r |= json_object_set_new(j, "kind", json_string(kind));
                r |= json_object_set_new(j, "metadata",
                                         json_pack("{s:s}", "name", strempty(d->metadata.name)));
                r |= json_object_set_new(j, "status", status);
                json_object_del(j, "spec");
        } else {
                r |= json_object_set_new(j, "kind", json_string(kind_to_string(d->kind)));
                if (!(emit_flags & EMIT_SPEC))
                        json_object_del(j, "spec");
        }
        if (r < 0) {
                json_decref(j);
                return NULL;
        }
        return j;
}

char *document_to_yaml(const Document *d, unsigned emit_flags)
{
        json_t *j = document_to_json(d, emit_flags);
        if (!j)
                return NULL;
        char *y = yaml_from_json(j);
        json_decref(j);
        return y;
}
