#include <stdlib.h>
#include <string.h>

#include "state/schema.h"
#include "state/selector.h"

typedef enum ReqOp {
        REQ_EQ,
        REQ_NE,
        REQ_EXISTS,
        REQ_NOT_EXISTS,
} ReqOp;

typedef struct Requirement {
        ReqOp op;
        char *key;
        char *value;
} Requirement;

struct Selector {
        Requirement *reqs;
        size_t n;
};

Selector *selector_free(Selector *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++) {
                free(s->reqs[i].key);
                free(s->reqs[i].value);
        }
        free(s->reqs);
        free(s);
        return NULL;
}

static char *strip(char *s)
{
        while (*s == ' ')
                s++;
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == ' ')
                s[--n] = '\0';
        return s;
}

static bool token_is_valid(const char *s, bool allow_empty)
{
        if (!*s)
                return allow_empty;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr("._-/", *p)))
                        return false;
        return true;
}

static int parse_requirement(char *term, Requirement *ret, Diag *diag)
{
        char original[256];
        snprintf(original, sizeof(original), "%s", term);
        char *t = strip(term), *key, *value = NULL;
        ReqOp op;
        char *p;
        if ((p = strstr(t, "!="))) {
                op = REQ_NE;
                *p = '\0';
                value = p + 2;
        } else if ((p = strstr(t, "=="))) {
                op = REQ_EQ;
                *p = '\0';
                value = p + 2;
        } else if ((p = strchr(t, '='))) {
                op = REQ_EQ;
                *p = '\0';
                value = p + 1;
        } else if (t[0] == '!') {
                op = REQ_NOT_EXISTS;
                t++;
        } else {
                op = REQ_EXISTS;
        }
        key = strip(t);
        if (value)
                value = strip(value);
        if (!token_is_valid(key, false) || (value && !token_is_valid(value, true)))
                return diag_set(diag, -EINVAL, NULL, 0, 0, NULL,
                                "invalid selector term \"%s\": expected key=value, key!=value, key or !key",
                                strip(original));
        ret->op = op;
        ret->key = strdup(key);
        ret->value = value ? strdup(value) : NULL;
        if (!ret->key || (value && !ret->value))
                return -ENOMEM;
        return 0;
}

int selector_parse(const char *s, Selector **ret, Diag *diag)
{
        Selector *sel = calloc(1, sizeof(*sel));
        char *copy = strdup(s);
        int r = 0;
        if (!sel || !copy) {
                free(copy);
                free(sel);
                return -ENOMEM;
        }
        char *save = NULL;
        for (char *term = strtok_r(copy, ",", &save); term; term = strtok_r(NULL, ",", &save)) {
                Requirement *reqs = realloc(sel->reqs, (sel->n + 1) * sizeof(*reqs));
                if (!reqs) {
                        r = -ENOMEM;
                        break;
                }
                sel->reqs = reqs;
                reqs[sel->n] = (Requirement){0};
                r = parse_requirement(term, &reqs[sel->n], diag);
                sel->n++;
                if (r < 0)
                        break;
        }
        if (r >= 0 && sel->n == 0)
                r = diag_set(diag, -EINVAL, NULL, 0, 0, NULL, "empty selector");
        free(copy);
        if (r < 0) {
                selector_free(sel);
                return r;
        }
        *ret = sel;
        return 0;
}

bool selector_matches(const Selector *s, const StrMap *labels)
{
        if (!s)
                return true;
        for (size_t i = 0; i < s->n; i++) {
                const Requirement *q = &s->reqs[i];
                const char *v = strmap_get(labels, q->key);
                switch (q->op) {
                case REQ_EQ:
                        if (!v || !streq(v, q->value))
                                return false;
                        break;
                case REQ_NE:
                        if (v && streq(v, q->value))
                                return false;
                        break;
                case REQ_EXISTS:
                        if (!v)
                                return false;
                        break;
                case REQ_NOT_EXISTS:
                        if (v)
                                return false;
                        break;
                }
        }
        return true;
}
