/* kuke delete KIND NAME [--cascade] | kuke delete -f FILE: remove manifests (the desired state);
 * kukeond tears down and removes its own files. */
#include <limits.h>
#include <stdio.h>

#include "common/buf.h"
#include "cli/cli.h"

typedef struct Deleter {
        Store *store;
        const Tree *tree;
        bool *deleted; /* per tree entry */
        bool cascade;
        WaitList wl;
} Deleter;

static void help(void)
{
        printf("Usage: kuke delete KIND NAME [--cascade] [scope flags]\n"
               "       kuke delete -f FILE|DIR|- [--cascade]\n"
               "\n"
               "Removes manifests; kukeond then tears the resources down. A resource with children is "
               "refused\n"
               "unless --cascade, which removes the children's manifests first (deepest first).\n"
               "\n"
               "Options:\n"
               "  -f, --filename PATH    delete every document of a file, directory or - (repeatable)\n"
               "      --cascade          also delete children\n"
               "      --realm/--space/--stack NAME  where to look for NAME\n"
               "      --wait[=BOOL]      wait until kukeond has removed them (default true)\n"
               "      --timeout DURATION how long to wait: 90s, 2m, 1h or seconds (default 2m)\n"
               "      --run-path PATH    run path (default $KUKEON_RUN_PATH or " KUKE_DEFAULT_RUN_PATH ")\n"
               "      --state-dir DIR    kukeond's state directory (default $KUKEON_STATE_DIR "
               "or " KUKE_DEFAULT_STATE_DIR ")\n");
}

static bool is_live(const Deleter *dl, size_t j)
{
        const TreeEntry *e = &dl->tree->entries[j];
        return e->has_spec_file && !dl->deleted[j] && e->id.kind != KIND_CONTAINER;
}

static bool is_descendant(const Tree *t, size_t j, size_t i)
{
        for (ssize_t p = t->entries[j].parent; p >= 0; p = t->entries[p].parent)
                if ((size_t)p == i)
                        return true;
        return false;
}

static int remove_one(Deleter *dl, size_t j)
{
        const TreeEntry *e = &dl->tree->entries[j];
        char rel[PATH_MAX];
        int r = store_spec_path(&e->id, rel, sizeof(rel));
        if (r >= 0)
                r = store_remove_file(dl->store, rel);
        if (r < 0)
                return log_error_errno(r, "cannot remove %s/%s: %m", store_run_path(dl->store), rel);
        dl->deleted[j] = true;
        print_result(&e->id, "deleted", NULL);
        r = wait_list_add(&dl->wl, &e->id, NULL, -1);
        return r < 0 ? log_error_errno(r, "out of memory") : 0;
}

/* "2 space(s) and 1 image(s)" for the live direct children of i, or "" when there are none. */
static int children_text(const Deleter *dl, size_t i, Buf *b)
{
        size_t counts[_KIND_MAX] = {0}, kinds = 0, done = 0;
        for (size_t j = 0; j < dl->tree->n; j++)
                if (dl->tree->entries[j].parent == (ssize_t)i && is_live(dl, j))
                        counts[dl->tree->entries[j].id.kind]++;
        for (int k = 0; k < _KIND_MAX; k++)
                kinds += counts[k] > 0;
        for (int k = 0; k < _KIND_MAX; k++) {
                if (counts[k] == 0)
                        continue;
                done++;
                const char *sep = done == 1 ? "" : done == kinds ? " and " : ", ";
                if (buf_printf(b, "%s%zu %s(s)", sep, counts[k], kind_to_noun((Kind)k)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int depth_desc_cmp(const void *a, const void *b, void *userdata)
{
        const Tree *t = userdata;
        size_t x = *(const size_t *)a, y = *(const size_t *)b;
        int d = kind_depth(t->entries[y].id.kind) - kind_depth(t->entries[x].id.kind);
        return d != 0 ? d : (x < y ? -1 : x > y);
}

static int delete_descendants(Deleter *dl, size_t i)
{
        _cleanup_free_ size_t *list = calloc(dl->tree->n ? dl->tree->n : 1, sizeof(*list));
        size_t n = 0;
        if (!list)
                return log_error_errno(-ENOMEM, "out of memory");
        for (size_t j = 0; j < dl->tree->n; j++)
                if (is_live(dl, j) && is_descendant(dl->tree, j, i))
                        list[n++] = j;
        qsort_r(list, n, sizeof(*list), depth_desc_cmp, (void *)dl->tree);
        for (size_t k = 0; k < n; k++) {
                int r = remove_one(dl, list[k]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int delete_entry(Deleter *dl, size_t i)
{
        _cleanup_(buf_done) Buf children = BUF_INIT;
        const TreeEntry *e = &dl->tree->entries[i];
        char q[QNAME_MAX];
        if (children_text(dl, i, &children) < 0)
                return log_error_errno(-ENOMEM, "out of memory");
        if (children.len > 0 && !dl->cascade) {
                log_error("%s \"%s\" has %s; use --cascade to delete them too", kind_to_noun(e->id.kind),
                          resource_id_qualified(&e->id, q), children.data);
                return -EBUSY;
        }
        int r = delete_descendants(dl, i);
        if (r < 0)
                return r;
        return remove_one(dl, i);
}

static ssize_t tree_index(const Tree *t, const ResourceId *id)
{
        for (size_t i = 0; i < t->n; i++)
                if (resource_id_equal(&t->entries[i].id, id))
                        return (ssize_t)i;
        return -ENOENT;
}

static int delete_rank(const ParsedDoc *pd)
{
        static const int rank[_KIND_MAX] = {[KIND_CELL] = 0,  [KIND_IMAGE] = 1, [KIND_STACK] = 2,
                                            [KIND_SPACE] = 3, [KIND_REALM] = 4, [KIND_CONTAINER] = 5};
        return pd->doc && pd->doc->kind >= 0 && pd->doc->kind < _KIND_MAX ? rank[pd->doc->kind] : 6;
}

static int pd_cmp(const void *a, const void *b)
{
        const ParsedDoc *x = *(const ParsedDoc *const *)a, *y = *(const ParsedDoc *const *)b;
        int d = delete_rank(x) - delete_rank(y);
        return d != 0 ? d : (x < y ? -1 : x > y);
}

/* One document of delete -f. Returns 0 or -errno (printed). */
static int delete_doc(Deleter *dl, const ParsedDoc *pd)
{
        _cleanup_(diag_done) Diag diag = DIAG_INIT;
        ResourceId id;
        if (diag_is_set(&pd->diag) || !pd->doc) {
                log_diag(&pd->diag);
                return -EINVAL;
        }
        if (pd->doc->kind == KIND_CONTAINER) {
                log_error("%s: Container documents are written by kukeond; delete the cell instead",
                          pd->doc->metadata.name ? pd->doc->metadata.name : "container");
                return -EINVAL;
        }
        if (document_identity(pd->doc, NULL, &id, &diag) < 0) {
                log_diag(&diag);
                return -EINVAL;
        }
        ssize_t i = resource_id_check(&id) < 0 ? -ENOENT : tree_index(dl->tree, &id);
        if (i < 0 || !is_live(dl, (size_t)i)) {
                print_result(&id, "not found", NULL);
                return 0;
        }
        return delete_entry(dl, (size_t)i);
}

static int delete_files(Deleter *dl, const InputList *in)
{
        size_t n = 0, k = 0;
        int r = 0;
        for (size_t i = 0; i < in->n; i++)
                n += in->items[i].stream.n;
        _cleanup_free_ const ParsedDoc **docs = calloc(n ? n : 1, sizeof(*docs));
        if (!docs)
                return log_error_errno(-ENOMEM, "out of memory");
        for (size_t i = 0; i < in->n; i++)
                for (size_t j = 0; j < in->items[i].stream.n; j++)
                        docs[k++] = &in->items[i].stream.docs[j];
        qsort(docs, n, sizeof(*docs), pd_cmp);
        for (size_t i = 0; i < n; i++)
                if (delete_doc(dl, docs[i]) < 0)
                        r = -EINVAL;
        return r;
}

typedef struct DeleteArgs {
        WriteOpts w;
        Scope scope;
        bool cascade;
        const char *files[64];
        size_t n_files;
        Kind kind;
        const char *name;
} DeleteArgs;

static int delete_run(Cli *cli, const DeleteArgs *a)
{
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(tree_done) Tree t = {0};
        _cleanup_(inputs_done) InputList in = {0};
        _cleanup_free_ bool *deleted = NULL;
        Query q;
        int r;
        for (size_t i = 0; i < a->n_files; i++)
                if (inputs_add(&in, a->files[i]) < 0)
                        return EXIT_FAIL;
        if (!a->n_files && query_init(&q, a->kind, a->name, &a->scope) < 0)
                return EXIT_USAGE;
        r = store_open(cli->run_path, false, &s);
        if (r >= 0)
                r = store_scan(s, 0, &t);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "cannot read %s: %m", cli->run_path), EXIT_FAIL;
        deleted = calloc(t.n ? t.n : 1, sizeof(*deleted));
        if (!deleted)
                return log_error_errno(-ENOMEM, "out of memory"), EXIT_FAIL;
        Deleter dl = {.store = s, .tree = &t, .deleted = deleted, .cascade = a->cascade};
        if (a->n_files) {
                r = delete_files(&dl, &in);
        } else {
                ssize_t i = resolve_one(&t, &q);
                r = i < 0 ? (int)i : delete_entry(&dl, (size_t)i);
        }
        int ex = s ? wait_settle(cli, s, &a->w, &dl.wl) : EXIT_OK;
        wait_list_done(&dl.wl);
        return r < 0 ? EXIT_FAIL : ex;
}

int verb_delete(Cli *cli, int argc, char **argv)
{
        static const struct option options[] = {
                CLI_OPTIONS_GLOBAL,
                CLI_OPTIONS_WRITE,
                CLI_OPTIONS_SCOPE,
                {"cascade", no_argument, NULL, ARG_CASCADE},
                {"filename", required_argument, NULL, 'f'},
                {},
        };
        DeleteArgs a = {.w = WRITE_OPTS_INIT};
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":hf:", options, NULL)) >= 0) {
                int r = option_common(cli, &a.w, &a.scope, c, optarg);
                if (r < 0)
                        return EXIT_USAGE;
                if (r > 0)
                        continue;
                if (c == 'h') {
                        help();
                        return EXIT_OK;
                } else if (c == ARG_CASCADE) {
                        a.cascade = true;
                } else if (c == 'f' && a.n_files < ARRAY_SIZE(a.files)) {
                        a.files[a.n_files++] = optarg;
                } else {
                        return option_error("delete", c, argv);
                }
        }
        int n_args = argc - optind;
        if (a.n_files > 0 && n_args > 0)
                return log_usage("delete", "-f cannot be combined with KIND NAME");
        if (a.n_files == 0 && n_args != 2)
                return log_usage("delete", "expected KIND NAME or -f FILE");
        if (a.n_files == 0) {
                a.kind = kind_from_noun(argv[optind]);
                if (a.kind < 0)
                        return log_usage("delete", "unknown kind \"%s\"", argv[optind]);
                if (a.kind == KIND_CONTAINER) {
                        log_error("containers are part of their cell's spec: edit the cell, or delete it");
                        return EXIT_FAIL;
                }
                a.name = argv[optind + 1];
        }
        return delete_run(cli, &a);
}
