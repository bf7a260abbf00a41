/* kuke get KIND [NAME]: list or show resources with their state, as a table, YAML or JSON. */
#include <stdio.h>

#include "cli/cli.h"

typedef enum OutputFormat {
        OUTPUT_TABLE,
        OUTPUT_WIDE,
        OUTPUT_YAML,
        OUTPUT_JSON,
        OUTPUT_NAME,
} OutputFormat;

typedef struct GetList {
        GetItem *items;
        size_t n;
        size_t allocated;
} GetList;

static void get_list_done(GetList *l)
{
        free(l->items);
        *l = (GetList){0};
}

static inline void json_decrefp_(json_t **j)
{
        json_decref(*j);
}

static void help(void)
{
        printf("Usage: kuke get KIND [NAME] [-o table|wide|yaml|json|name] [-l SELECTOR] [scope flags]\n"
               "\n"
               "KIND: realm(s)/r, space(s)/sp, stack(s)/st, cell(s)/ce, container(s)/co, image(s)/img.\n"
               "NAME may be qualified: r/s/t/c for a cell, r/img for an image.\n"
               "\n"
               "Options:\n"
               "  -o, --output FORMAT    table (default), wide, yaml, json or name\n"
               "  -l, --selector SEL     label selector: k=v,k!=v,k,!k (not with NAME)\n"
               "      --realm NAME       only resources in this realm\n"
               "      --space NAME       only resources in this space\n"
               "      --stack NAME       only resources in this stack\n"
               "      --cell NAME        only containers of this cell\n"
               "      --run-path PATH    run path (default $KUKEON_RUN_PATH or " KUKE_DEFAULT_RUN_PATH
               ")\n");
}

static int get_list_push(GetList *l, const GetItem *it)
{
        if (l->n == l->allocated) {
                /* doubling: a list of 1000 cells outgrows malloc's heap, and growing it by one item at a
                 * time was an mremap() per item */
                size_t n = l->allocated ? l->allocated * 2 : 64;
                GetItem *items = realloc(l->items, n * sizeof(*items));
                if (!items)
                        return -ENOMEM;
                l->items = items;
                l->allocated = n;
        }
        l->items[l->n++] = *it;
        return 0;
}

static const StrMap *entry_labels(const TreeEntry *e)
{
        static const StrMap none = {0};
        return e->spec ? &e->spec->metadata.labels : &none;
}

/* Containers: every container of every matching cell's spec (labels are the cell's). */
static int collect_containers(const Tree *t, const Query *q, const Selector *sel, GetList *l)
{
        for (size_t i = 0; i < t->n; i++) {
                const TreeEntry *e = &t->entries[i];
                if (e->id.kind != KIND_CELL || !e->spec || !selector_matches(sel, entry_labels(e)))
                        continue;
                for (size_t j = 0; j < e->spec->spec.cell.n_containers; j++) {
                        const char *id = e->spec->spec.cell.containers[j].id;
                        GetItem it = {.entry = i, .container = j};
                        if (!id || resource_id_make(&it.id, KIND_CONTAINER, e->id.realm, e->id.space,
                                                    e->id.stack, e->id.cell, id) < 0)
                                continue;
                        if (query_matches(q, &it.id) && get_list_push(l, &it) < 0)
                                return -ENOMEM;
                }
        }
        return 0;
}

static int collect(const Tree *t, const Query *q, const Selector *sel, GetList *l)
{
        if (q->kind == KIND_CONTAINER)
                return collect_containers(t, q, sel, l);
        for (size_t i = 0; i < t->n; i++) {
                const TreeEntry *e = &t->entries[i];
                if (!e->has_spec_file || !query_matches(q, &e->id) ||
                    !selector_matches(sel, entry_labels(e)))
                        continue;
                GetItem it = {.id = e->id, .entry = i};
                if (get_list_push(l, &it) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* Manifests that do not decode or validate show as Failed; say why once. */
static void note_invalid(const Tree *t, const GetList *l)
{
        for (size_t i = 0; i < l->n; i++) {
                const TreeEntry *e = &t->entries[l->items[i].entry];
                if (l->items[i].id.kind == KIND_CONTAINER || e->spec || !diag_is_set(&e->error))
                        continue;
                _cleanup_free_ char *s = diag_format(&e->error);
                log_note("%s", s ? s : e->error.message);
        }
}

/* With a NAME, exactly one resource must match. */
static int report_not_one(const Query *q, const GetList *l)
{
        _cleanup_free_ ResourceId *ids = calloc(l->n ? l->n : 1, sizeof(*ids));
        if (!ids)
                return log_error_errno(-ENOMEM, "out of memory");
        for (size_t i = 0; i < l->n; i++)
                ids[i] = l->items[i].id;
        return resolve_report(q, ids, l->n);
}

static int print_table(const Tree *t, Kind kind, const GetList *l, bool wide)
{
        _cleanup_(table_done) Table tab = {0};
        int r = get_table_build(t, kind, l->items, l->n, wide, &tab);
        if (r < 0)
                return log_error_errno(r, "cannot build the table: %m");
        table_print(&tab, stdout);
        return 0;
}

static int print_yaml(const Tree *t, const GetList *l)
{
        for (size_t i = 0; i < l->n; i++) {
                _cleanup_document_ Document *d = NULL;
                _cleanup_free_ char *y = NULL;
                int r = get_item_document(t, &l->items[i], &d);
                if (r < 0 || !(y = document_to_yaml(d, EMIT_SPEC | EMIT_STATUS | EMIT_REDACT)))
                        return log_error_errno(r < 0 ? r : -ENOMEM, "cannot format the document: %m");
                if (i > 0)
                        fputs("---\n", stdout);
                fputs(strncmp(y, "---\n", 4) == 0 ? y + 4 : y, stdout);
        }
        return 0;
}

static int print_json(const Tree *t, const GetList *l, bool one)
{
        _cleanup_(json_decrefp_) json_t *arr = json_array();
        if (!arr)
                return log_error_errno(-ENOMEM, "out of memory");
        for (size_t i = 0; i < l->n; i++) {
                _cleanup_document_ Document *d = NULL;
                int r = get_item_document(t, &l->items[i], &d);
                json_t *j = r >= 0 ? document_to_json(d, EMIT_SPEC | EMIT_STATUS | EMIT_REDACT) : NULL;
                if (!j || json_array_append_new(arr, j) < 0)
                        return log_error_errno(r < 0 ? r : -ENOMEM, "cannot format the document: %m");
        }
        _cleanup_free_ char *s = json_dumps(one ? json_array_get(arr, 0) : arr, JSON_INDENT(2));
        if (!s)
                return log_error_errno(-ENOMEM, "out of memory");
        printf("%s\n", s);
        return 0;
}

static int print_names(const GetList *l)
{
        for (size_t i = 0; i < l->n; i++) {
                char q[QNAME_MAX];
                printf("%s\n", resource_id_qualified(&l->items[i].id, q));
        }
        return 0;
}

static int get_print(const Tree *t, const Query *q, OutputFormat fmt, const GetList *l)
{
        note_invalid(t, l);
        if (l->n == 0 && fmt != OUTPUT_JSON && fmt != OUTPUT_NAME && fmt != OUTPUT_YAML) {
                printf("No %s found.\n", kind_plural(q->kind));
                return 0;
        }
        switch (fmt) {
        case OUTPUT_TABLE:
        case OUTPUT_WIDE:
                return print_table(t, q->kind, l, fmt == OUTPUT_WIDE);
        case OUTPUT_YAML:
                return print_yaml(t, l);
        case OUTPUT_JSON:
                return print_json(t, l, q->name != NULL);
        default:
                return print_names(l);
        }
}

static int get_run(Cli *cli, const Query *q, const Selector *sel, OutputFormat fmt)
{
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(tree_done) Tree t = {0};
        _cleanup_(get_list_done) GetList l = {0};
        int r = store_open(cli->run_path, false, &s);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "cannot open the run path %s: %m", cli->run_path), EXIT_FAIL;
        if (s) {
                /* kuke get shows states, never compares digests */
                unsigned flags = TREE_WITH_STATUS | TREE_NO_DIGEST |
                                 (q->kind == KIND_CONTAINER ? TREE_WITH_CONTAINERS : 0);
                r = store_scan(s, flags, &t);
                if (r < 0)
                        return log_error_errno(r, "cannot read %s: %m", cli->run_path), EXIT_FAIL;
        }
        if (collect(&t, q, sel, &l) < 0)
                return log_error_errno(-ENOMEM, "out of memory"), EXIT_FAIL;
        if (q->name && l.n != 1 && report_not_one(q, &l) < 0)
                return EXIT_FAIL;
        return get_print(&t, q, fmt, &l) < 0 ? EXIT_FAIL : EXIT_OK;
}

static int output_parse(const char *s, OutputFormat *ret)
{
        static const char *const names[] = {"table", "wide", "yaml", "json", "name"};
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (streq(s, names[i])) {
                        *ret = (OutputFormat)i;
                        return 0;
                }
        return -EINVAL;
}

int verb_get(Cli *cli, int argc, char **argv)
{
        static const struct option options[] = {
                CLI_OPTIONS_GLOBAL,
                CLI_OPTIONS_SCOPE,
                {"cell", required_argument, NULL, ARG_CELL},
                {"output", required_argument, NULL, 'o'},
                {"selector", required_argument, NULL, 'l'},
                {},
        };
        _cleanup_(selector_freep) Selector *sel = NULL;
        _cleanup_(diag_done) Diag diag = DIAG_INIT;
        OutputFormat fmt = OUTPUT_TABLE;
        const char *selector = NULL;
        Scope sc = {0};
        Query q;
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":ho:l:", options, NULL)) >= 0) {
                int r = option_common(cli, NULL, &sc, c, optarg);
                if (r < 0)
                        return EXIT_USAGE;
                if (r > 0)
                        continue;
                if (c == 'h') {
                        help();
                        return EXIT_OK;
                } else if (c == 'o') {
                        if (output_parse(optarg, &fmt) < 0)
                                return log_usage("get",
                                                 "-o takes table, wide, yaml, json or name, not \"%s\"",
                                                 optarg);
                } else if (c == 'l') {
                        selector = optarg;
                } else {
                        return option_error("get", c, argv);
                }
        }
        if (optind >= argc)
                return log_usage("get", "expected KIND");
        if (argc - optind > 2)
                return log_usage("get", "unexpected argument \"%s\"", argv[optind + 2]);
        Kind kind = kind_from_noun(argv[optind]);
        if (kind < 0)
                return log_usage("get", "unknown kind \"%s\"", argv[optind]);
        const char *name = argc - optind == 2 ? argv[optind + 1] : NULL;
        if (name && selector)
                return log_usage("get", "a selector cannot be combined with a name");
        if (selector && selector_parse(selector, &sel, &diag) < 0)
                return log_usage("get", "invalid selector \"%s\": %s", selector, strempty(diag.message));
        if (query_init(&q, kind, name, &sc) < 0)
                return EXIT_USAGE;
        return get_run(cli, &q, sel, fmt);
}
