#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "common/buf.h"
#include "common/timeutil.h"
#include "state/schema.h"

#define PATH_MAX_LEN 512

#define AT(obj, f, T)  ((T *)((char *)(obj) + (f)->offset))
#define CAT(obj, f, T) ((const T *)((const char *)(obj) + (f)->offset))

int schema_field_index(const Schema *s, const char *name)
{
        for (size_t i = 0; i < s->n_fields; i++)
                if (streq(s->fields[i].name, name))
                        return (int)i;
        return -ENOENT;
}

bool schema_has(const Schema *s, const void *obj, const char *name)
{
        int i = schema_field_index(s, name);
        return i >= 0 && field_is_set(obj, (size_t)i);
}

/* ---- string containers ---- */

int strlist_push(StrList *l, const char *s)
{
        char **items = realloc(l->items, (l->n + 1) * sizeof(*items));
        if (!items)
                return -ENOMEM;
        l->items = items;
        items[l->n] = strdup(s);
        if (!items[l->n])
                return -ENOMEM;
        l->n++;
        return 0;
}

void strlist_done(StrList *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->items[i]);
        free(l->items);
        *l = (StrList){0};
}

const char *strmap_get(const StrMap *m, const char *key)
{
        for (size_t i = 0; i < m->n; i++)
                if (streq(m->items[i].key, key))
                        return m->items[i].value;
        return NULL;
}

int strmap_set(StrMap *m, const char *key, const char *value)
{
        size_t i = 0;
        while (i < m->n && strcmp(m->items[i].key, key) < 0)
                i++;
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        if (i < m->n && streq(m->items[i].key, key)) {
                free(m->items[i].value);
                m->items[i].value = v;
                return 0;
        }
        char *k = strdup(key);
        StrPair *items = k ? realloc(m->items, (m->n + 1) * sizeof(*items)) : NULL;
        if (!items) {
                free(k);
                free(v);
                return -ENOMEM;
        }
        memmove(items + i + 1, items + i, (m->n - i) * sizeof(*items));
        items[i] = (StrPair){k, v};
        m->items = items;
        m->n++;
        return 0;
}

int strmap_unset(StrMap *m, const char *key)
{
        for (size_t i = 0; i < m->n; i++)
                if (streq(m->items[i].key, key)) {
                        free(m->items[i].key);
                        free(m->items[i].value);
                        memmove(m->items + i, m->items + i + 1, (m->n - i - 1) * sizeof(*m->items));
                        m->n--;
                        return 1;
                }
        return 0;
}

void strmap_done(StrMap *m)
{
        for (size_t i = 0; i < m->n; i++) {
                free(m->items[i].key);
                free(m->items[i].value);
        }
        free(m->items);
        *m = (StrMap){0};
}

/* ---- decoding ---- */

typedef struct Decoder {
        const char *file;
        Diag *diag;
        char path[PATH_MAX_LEN];
        size_t path_len;
} Decoder;

static int dec_fail(Decoder *d, const YNode *at, const char *fmt, ...) _printf_(3, 4);
static int dec_fail(Decoder *d, const YNode *at, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = diag_setv(d->diag, -EINVAL, d->file, at ? at->line : 0, at ? at->col : 0, d->path, fmt, ap);
        va_end(ap);
        return r;
}

/* Appends to the field path, cut at its size as snprintf() would. */
static void path_append(Decoder *d, const char *s, size_t n)
{
        size_t room = sizeof(d->path) - 1 - d->path_len;
        if (n > room)
                n = room;
        memcpy(d->path + d->path_len, s, n);
        d->path_len += n;
        d->path[d->path_len] = '\0';
}

/* Called for every field decoded: plain copies rather than snprintf(). */
static size_t path_push(Decoder *d, const char *name, long index)
{
        size_t saved = d->path_len;
        if (index >= 0) {
                char num[24];
                int n = snprintf(num, sizeof(num), "[%ld]", index);
                path_append(d, num, (size_t)n);
        } else {
                if (d->path_len)
                        path_append(d, ".", 1);
                name = strempty(name);
                path_append(d, name, strlen(name));
        }
        return saved;
}

static void path_pop(Decoder *d, size_t saved)
{
        d->path_len = saved;
        d->path[saved] = '\0';
}

static bool node_is_null(const YNode *n)
{
        if (n->type != YNODE_SCALAR)
                return false;
        if (n->tag && strstr(n->tag, ":null"))
                return true;
        return n->plain && (n->len == 0 || streq(n->value, "~") || streq(n->value, "null") ||
                            streq(n->value, "Null") || streq(n->value, "NULL"));
}

static const char *node_type_name(const YNode *n)
{
        switch (n->type) {
        case YNODE_SEQUENCE:
                return "a list";
        case YNODE_MAPPING:
                return "a mapping";
        default:
                return "a scalar";
        }
}

static bool tag_is(const YNode *n, const char *type)
{
        if (!n->tag)
                return false;
        const char *colon = strrchr(n->tag, ':');
        return colon && streq(colon + 1, type);
}

static int dec_string(Decoder *d, const YNode *n, char **ret)
{
        if (n->type != YNODE_SCALAR)
                return dec_fail(d, n, "expected a string, found %s", node_type_name(n));
        if (n->tag && !tag_is(n, "str"))
                return dec_fail(d, n, "expected a string, found a value tagged %s", n->tag);
        char *s = strdup(n->value);
        if (!s)
                return -ENOMEM;
        free(*ret);
        *ret = s;
        return 0;
}

static int dec_bool(Decoder *d, const YNode *n, bool *ret)
{
        static const char *const t[] = {"true", "True", "TRUE"}, *const f[] = {"false", "False", "FALSE"};
        if (n->type == YNODE_SCALAR && (n->plain || tag_is(n, "bool")))
                for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                        if (streq(n->value, t[i])) {
                                *ret = true;
                                return 0;
                        }
                        if (streq(n->value, f[i])) {
                                *ret = false;
                                return 0;
                        }
                }
        if (n->type != YNODE_SCALAR)
                return dec_fail(d, n, "expected true or false, found %s", node_type_name(n));
        return dec_fail(d, n, "expected true or false, found \"%s\"", n->value);
}

static int parse_int64(const char *s, int64_t *ret)
{
        const char *p = s;
        if (*p == '+' || *p == '-')
                p++;
        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (const char *q = p; *q; q++)
                if ((*q < '0' || *q > '9') && *q != '_')
                        return -EINVAL;
        char digits[64];
        size_t k = 0;
        for (const char *q = s; *q; q++)
                if (*q != '_') {
                        if (k + 1 >= sizeof(digits))
                                return -ERANGE;
                        digits[k++] = *q;
                }
        digits[k] = '\0';
        errno = 0;
        char *end;
        long long v = strtoll(digits, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int dec_int(Decoder *d, const YNode *n, const Field *f, int64_t *ret)
{
        if (n->type != YNODE_SCALAR)
                return dec_fail(d, n, "expected an integer, found %s", node_type_name(n));
        if (!n->plain && !tag_is(n, "int"))
                return dec_fail(d, n, "expected an integer, found the string \"%s\"", n->value);
        int64_t v;
        int r = parse_int64(n->value, &v);
        if (r == -EINVAL)
                return dec_fail(d, n, "expected an integer, found \"%s\"", n->value);
        if (r < 0 || v < f->min || v > f->max)
                return dec_fail(d, n, "%s is out of range (%" PRId64 " to %" PRId64 ")", n->value, f->min,
                                f->max);
        *ret = v;
        return 0;
}

static int dec_enum(Decoder *d, const YNode *n, const Field *f, int *ret)
{
        if (n->type == YNODE_SCALAR) {
                if (n->value[0] == '\0' && f->has_default) {
                        *ret = (int)f->def_int;
                        return 0;
                }
                for (int i = 0; f->names[i]; i++)
                        if (strcasecmp(n->value, f->names[i]) == 0) {
                                *ret = i;
                                return 0;
                        }
        }
        Buf b = BUF_INIT;
        for (int i = 0; f->names[i]; i++)
                if (buf_printf(&b, "%s%s", i ? ", " : "", f->names[i]) < 0) {
                        buf_done(&b);
                        return -ENOMEM;
                }
        int r;
        if (n->type == YNODE_SCALAR)
                r = dec_fail(d, n, "expected one of %s, found \"%s\"", b.data, n->value);
        else
                r = dec_fail(d, n, "expected one of %s, found %s", b.data, node_type_name(n));
        buf_done(&b);
        return r;
}

/* The times time_format_rfc3339() writes back as they were read: years 1000 to 9999 in UTC (strftime's %Y
 * has no leading zeros, and an offset can carry 9999-12-31 into year 10000). */
#define TIME_MIN (-30610224000LL) /* 1000-01-01T00:00:00Z */
#define TIME_MAX 253402300799LL   /* 9999-12-31T23:59:59Z */

static int dec_time(Decoder *d, const YNode *n, int64_t *ret)
{
        int64_t t;
        if (n->type != YNODE_SCALAR || time_parse_rfc3339(n->value, &t) < 0)
                return dec_fail(d, n, "expected an RFC 3339 time such as 2006-01-02T15:04:05Z");
        if (t < TIME_MIN || t > TIME_MAX)
                return dec_fail(d, n, "\"%s\" is out of range (years 1000 to 9999 in UTC)", n->value);
        *ret = t;
        return 0;
}

static int dec_strlist(Decoder *d, const YNode *n, StrList *l)
{
        if (n->type != YNODE_SEQUENCE)
                return dec_fail(d, n, "expected a list of strings, found %s", node_type_name(n));
        strlist_done(l);
        for (size_t i = 0; i < n->n; i++) {
                size_t saved = path_push(d, NULL, (long)i);
                char *s = NULL;
                int r = node_is_null(n->items[i]) ? dec_fail(d, n->items[i], "expected a string, found null")
                                                  : dec_string(d, n->items[i], &s);
                if (r >= 0)
                        r = strlist_push(l, s);
                free(s);
                if (r < 0)
                        return r;
                path_pop(d, saved);
        }
        return 0;
}

static int dec_intlist(Decoder *d, const YNode *n, const Field *f, IntList *l)
{
        if (n->type != YNODE_SEQUENCE)
                return dec_fail(d, n, "expected a list of integers, found %s", node_type_name(n));
        free(l->items);
        *l = (IntList){0};
        if (n->n == 0)
                return 0;
        l->items = calloc(n->n, sizeof(*l->items));
        if (!l->items)
                return -ENOMEM;
        for (size_t i = 0; i < n->n; i++) {
                size_t saved = path_push(d, NULL, (long)i);
                int r = dec_int(d, n->items[i], f, &l->items[i]);
                if (r < 0)
                        return r;
                l->n++;
                path_pop(d, saved);
        }
        return 0;
}

static int dec_strmap(Decoder *d, const YNode *n, StrMap *m)
{
        if (n->type != YNODE_MAPPING)
                return dec_fail(d, n, "expected a mapping of strings, found %s", node_type_name(n));
        strmap_done(m);
        for (size_t i = 0; i < n->n; i++) {
                size_t saved = path_push(d, n->keys[i]->value, -1);
                const YNode *v = n->items[i];
                if (v->type != YNODE_SCALAR)
                        return dec_fail(d, v, "expected a string, found %s", node_type_name(v));
                int r = strmap_set(m, n->keys[i]->value, node_is_null(v) ? "" : v->value);
                if (r < 0)
                        return r;
                path_pop(d, saved);
        }
        return 0;
}

static int dec_object(Decoder *d, const Schema *s, void *obj, const YNode *n);

static int dec_objlist(Decoder *d, const YNode *n, const Field *f, void *obj)
{
        void **items = AT(obj, f, void *);
        size_t *count = (size_t *)((char *)obj + f->count_offset);
        if (n->type != YNODE_SEQUENCE)
                return dec_fail(d, n, "expected a list, found %s", node_type_name(n));
        if (*items) {
                for (size_t i = 0; i < *count; i++)
                        schema_free_fields(f->schema, (char *)*items + i * f->schema->size);
                free(*items);
                *items = NULL;
                *count = 0;
        }
        if (n->n == 0)
                return 0;
        *items = calloc(n->n, f->schema->size);
        if (!*items)
                return -ENOMEM;
        for (size_t i = 0; i < n->n; i++) {
                size_t saved = path_push(d, NULL, (long)i);
                (*count)++;
                int r = dec_object(d, f->schema, (char *)*items + i * f->schema->size, n->items[i]);
                if (r < 0)
                        return r;
                path_pop(d, saved);
        }
        return 0;
}

static int dec_field(Decoder *d, const Field *f, void *obj, const YNode *v)
{
        switch (f->type) {
        case FT_STRING:
                return dec_string(d, v, AT(obj, f, char *));
        case FT_BOOL:
                return dec_bool(d, v, AT(obj, f, bool));
        case FT_INT:
                return dec_int(d, v, f, AT(obj, f, int64_t));
        case FT_ENUM:
                return dec_enum(d, v, f, AT(obj, f, int));
        case FT_TIME:
                return dec_time(d, v, AT(obj, f, int64_t));
        case FT_STRLIST:
                return dec_strlist(d, v, AT(obj, f, StrList));
        case FT_INTLIST:
                return dec_intlist(d, v, f, AT(obj, f, IntList));
        case FT_STRMAP:
                return dec_strmap(d, v, AT(obj, f, StrMap));
        case FT_OBJECT:
                return dec_object(d, f->schema, AT(obj, f, void), v);
        case FT_OBJLIST:
                return dec_objlist(d, v, f, obj);
        }
        return -EINVAL;
}

static int dec_object(Decoder *d, const Schema *s, void *obj, const YNode *n)
{
        if (n->type != YNODE_MAPPING)
                return dec_fail(d, n, "expected a mapping, found %s", node_type_name(n));
        for (size_t i = 0; i < n->n; i++) {
                const YNode *k = n->keys[i], *v = n->items[i];
                int idx = schema_field_index(s, k->value);
                if (idx < 0)
                        return dec_fail(d, k, "unknown field \"%s\"", k->value);
                if (node_is_null(v))
                        continue; /* null means absent */
                const Field *f = &s->fields[idx];
                size_t saved = path_push(d, f->name, -1);
                int r = dec_field(d, f, obj, v);
                if (r < 0)
                        return r;
                path_pop(d, saved);
                field_mark_set(obj, (size_t)idx);
        }
        return 0;
}

int schema_decode(const Schema *s, void *obj, const YNode *node, const char *file, const char *path,
                  Diag *diag)
{
        Decoder d = {.file = file, .diag = diag};
        snprintf(d.path, sizeof(d.path), "%s", strempty(path));
        d.path_len = strlen(d.path);
        if (!node)
                return dec_fail(&d, NULL, "the document is empty");
        return dec_object(&d, s, obj, node);
}

/* ---- encoding ---- */

static json_t *json_from_value(const Field *f, const void *obj, unsigned flags);

static bool value_is_empty(const Field *f, const void *obj)
{
        switch (f->type) {
        case FT_STRLIST:
                return CAT(obj, f, StrList)->n == 0;
        case FT_INTLIST:
                return CAT(obj, f, IntList)->n == 0;
        case FT_STRMAP:
                return CAT(obj, f, StrMap)->n == 0;
        case FT_OBJLIST:
                return *(const size_t *)((const char *)obj + f->count_offset) == 0;
        default:
                return false;
        }
}

static json_t *json_default(const Field *f)
{
        switch (f->type) {
        case FT_BOOL:
                return json_boolean(f->def_int);
        case FT_INT:
                return json_integer(f->def_int);
        case FT_ENUM:
                return json_string(f->names[f->def_int]);
        default:
                return NULL;
        }
}

json_t *schema_to_json(const Schema *s, const void *obj, unsigned flags)
{
        json_t *o = json_object();
        if (!o)
                return NULL;
        for (size_t i = 0; i < s->n_fields; i++) {
                const Field *f = &s->fields[i];
                json_t *v = NULL;
                if (field_is_set(obj, i)) {
                        if ((flags & SCHEMA_JSON_CANONICAL) && value_is_empty(f, obj))
                                continue;
                        if ((flags & SCHEMA_JSON_REDACT) && (f->flags & FIELD_SECRET))
                                v = json_string("<redacted>");
                        else
                                v = json_from_value(f, obj, flags);
                        if (v && (flags & SCHEMA_JSON_CANONICAL) && json_is_object(v) &&
                            json_object_size(v) == 0) {
                                json_decref(v);
                                continue;
                        }
                } else if ((flags & SCHEMA_JSON_CANONICAL) && f->has_default && f->type != FT_STRING) {
                        /* string defaults depend on identity: document_apply_defaults() fills them */
                        v = json_default(f);
                } else {
                        continue;
                }
                if (!v || json_object_set_new(o, f->name, v) < 0) {
                        json_decref(o);
                        return NULL;
                }
        }
        return o;
}

static json_t *json_from_value(const Field *f, const void *obj, unsigned flags)
{
        json_t *a;
        switch (f->type) {
        case FT_STRING:
                return json_string(strempty(*CAT(obj, f, char *)));
        case FT_BOOL:
                return json_boolean(*CAT(obj, f, bool));
        case FT_INT:
                return json_integer(*CAT(obj, f, int64_t));
        case FT_ENUM: {
                int v = *CAT(obj, f, int);
                return json_string(v >= 0 && f->names[v] ? f->names[v] : "");
        }
        case FT_TIME: {
                char buf[RFC3339_MAX];
                return json_string(time_format_rfc3339(*CAT(obj, f, int64_t), buf));
        }
        case FT_STRLIST: {
                const StrList *l = CAT(obj, f, StrList);
                a = json_array();
                for (size_t i = 0; a && i < l->n; i++)
                        if (json_array_append_new(a, json_string(l->items[i])) < 0)
                                return json_decref(a), NULL;
                return a;
        }
        case FT_INTLIST: {
                const IntList *l = CAT(obj, f, IntList);
                a = json_array();
                for (size_t i = 0; a && i < l->n; i++)
                        if (json_array_append_new(a, json_integer(l->items[i])) < 0)
                                return json_decref(a), NULL;
                return a;
        }
        case FT_STRMAP: {
                const StrMap *m = CAT(obj, f, StrMap);
                a = json_object();
                for (size_t i = 0; a && i < m->n; i++)
                        if (json_object_set_new(a, m->items[i].key, json_string(m->items[i].value)) < 0)
                                return json_decref(a), NULL;
                return a;
        }
        case FT_OBJECT:
                return schema_to_json(f->schema, CAT(obj, f, void), flags);
        case FT_OBJLIST: {
                const char *items = *CAT(obj, f, char *);
                size_t n = *(const size_t *)((const char *)obj + f->count_offset);
                a = json_array();
                for (size_t i = 0; a && i < n; i++)
                        if (json_array_append_new(
                                    a, schema_to_json(f->schema, items + i * f->schema->size, flags)) < 0)
                                return json_decref(a), NULL;
                return a;
        }
        }
        return NULL;
}

/* ---- defaults, copy, free ---- */

void schema_apply_defaults(const Schema *s, void *obj)
{
        for (size_t i = 0; i < s->n_fields; i++) {
                const Field *f = &s->fields[i];
                if (!field_is_set(obj, i)) {
                        if (!f->has_default || f->type == FT_STRING)
                                continue; /* string defaults depend on identity: see document_apply_defaults
                                           */
                        if (f->type == FT_BOOL)
                                *AT(obj, f, bool) = f->def_int != 0;
                        else if (f->type == FT_INT)
                                *AT(obj, f, int64_t) = f->def_int;
                        else if (f->type == FT_ENUM)
                                *AT(obj, f, int) = (int)f->def_int;
                        field_mark_set(obj, i);
                        continue;
                }
                if (f->type == FT_OBJECT) {
                        schema_apply_defaults(f->schema, AT(obj, f, void));
                } else if (f->type == FT_OBJLIST) {
                        char *items = *AT(obj, f, char *);
                        size_t n = *(size_t *)((char *)obj + f->count_offset);
                        for (size_t k = 0; k < n; k++)
                                schema_apply_defaults(f->schema, items + k * f->schema->size);
                }
        }
}

int schema_copy(const Schema *s, void *dst, const void *src)
{
        memset(dst, 0, s->size);
        *(FieldSet *)dst = *(const FieldSet *)src;
        for (size_t i = 0; i < s->n_fields; i++) {
                const Field *f = &s->fields[i];
                int r = 0;
                switch (f->type) {
                case FT_STRING: {
                        const char *v = *CAT(src, f, char *);
                        if (v && !(*AT(dst, f, char *) = strdup(v)))
                                r = -ENOMEM;
                        break;
                }
                case FT_BOOL:
                        *AT(dst, f, bool) = *CAT(src, f, bool);
                        break;
                case FT_INT:
                case FT_TIME:
                        *AT(dst, f, int64_t) = *CAT(src, f, int64_t);
                        break;
                case FT_ENUM:
                        *AT(dst, f, int) = *CAT(src, f, int);
                        break;
                case FT_STRLIST: {
                        const StrList *l = CAT(src, f, StrList);
                        for (size_t k = 0; r >= 0 && k < l->n; k++)
                                r = strlist_push(AT(dst, f, StrList), l->items[k]);
                        break;
                }
                case FT_INTLIST: {
                        const IntList *l = CAT(src, f, IntList);
                        IntList *d = AT(dst, f, IntList);
                        if (l->n) {
                                d->items = malloc(l->n * sizeof(*d->items));
                                if (!d->items) {
                                        r = -ENOMEM;
                                        break;
                                }
                                memcpy(d->items, l->items, l->n * sizeof(*d->items));
                                d->n = l->n;
                        }
                        break;
                }
                case FT_STRMAP: {
                        const StrMap *m = CAT(src, f, StrMap);
                        for (size_t k = 0; r >= 0 && k < m->n; k++)
                                r = strmap_set(AT(dst, f, StrMap), m->items[k].key, m->items[k].value);
                        break;
                }
                case FT_OBJECT:
                        r = schema_copy(f->schema, AT(dst, f, void), CAT(src, f, void));
                        break;
                case FT_OBJLIST: {
                        const char *items = *CAT(src, f, char *);
                        size_t n = *(const size_t *)((const char *)src + f->count_offset);
                        if (n == 0)
                                break;
                        char *copy = calloc(n, f->schema->size);
                        if (!copy) {
                                r = -ENOMEM;
                                break;
                        }
                        *AT(dst, f, char *) = copy;
                        for (size_t k = 0; k < n; k++) {
                                r = schema_copy(f->schema, copy + k * f->schema->size,
                                                items + k * f->schema->size);
                                *(size_t *)((char *)dst + f->count_offset) = k + 1;
                                if (r < 0)
                                        break;
                        }
                        break;
                }
                }
                if (r < 0) {
                        schema_free_fields(s, dst);
                        return r;
                }
        }
        return 0;
}

void schema_free_fields(const Schema *s, void *obj)
{
        if (!obj)
                return;
        for (size_t i = 0; i < s->n_fields; i++) {
                const Field *f = &s->fields[i];
                switch (f->type) {
                case FT_STRING:
                        free(*AT(obj, f, char *));
                        break;
                case FT_STRLIST:
                        strlist_done(AT(obj, f, StrList));
                        break;
                case FT_INTLIST:
                        free(AT(obj, f, IntList)->items);
                        break;
                case FT_STRMAP:
                        strmap_done(AT(obj, f, StrMap));
                        break;
                case FT_OBJECT:
                        schema_free_fields(f->schema, AT(obj, f, void));
                        break;
                case FT_OBJLIST: {
                        char *items = *AT(obj, f, char *);
                        size_t n = *(size_t *)((char *)obj + f->count_offset);
                        for (size_t k = 0; k < n; k++)
                                schema_free_fields(f->schema, items + k * f->schema->size);
                        free(items);
                        break;
                }
                default:
                        break;
                }
        }
        memset(obj, 0, s->size);
}
