/* kuke apply -f FILE|DIR|-: parse and validate every document first, then write them parents first. */
#include <stdio.h>

#include "cli/cli.h"

typedef enum ApplyState {
        APPLY_PENDING,
        APPLY_INVALID, /* did not parse or validate: nothing written */
        APPLY_DONE,
        APPLY_FAILED, /* valid, but writing it failed */
} ApplyState;

typedef struct ApplyDoc {
        const ParsedDoc *pd;
        const char *file;
        ResourceId id;
        bool has_id;
        ApplyState state;
        size_t order; /* position in the input, for a stable sort */
} ApplyDoc;

static void help(void)
{
        printf("Usage: kuke apply -f FILE|DIR|- [-f ...] [--wait[=BOOL]] [--timeout DURATION]\n"
               "\n"
               "Validates every document, then writes the manifests Realm -> Space -> Stack -> Image -> "
               "Cell.\n"
               "A directory means every *.yaml and *.yml in it; - reads stdin. Missing parents are created\n"
               "with default specs. Prints created, configured or unchanged per document.\n"
               "\n"
               "Options:\n"
               "  -f, --filename PATH    manifest file, directory or - (repeatable)\n"
               "      --wait[=BOOL]      wait until kukeond has settled each resource (default true)\n"
               "      --timeout DURATION how long to wait: 90s, 2m, 1h or seconds (default 2m)\n"
               "      --run-path PATH    run path (default $KUKEON_RUN_PATH or " KUKE_DEFAULT_RUN_PATH ")\n"
               "      --state-dir DIR    kukeond's state directory (default $KUKEON_STATE_DIR "
               "or " KUKE_DEFAULT_STATE_DIR ")\n");
}

static int kind_rank(Kind k)
{
        switch (k) {
        case KIND_REALM:
                return 0;
        case KIND_SPACE:
                return 1;
        case KIND_STACK:
                return 2;
        case KIND_IMAGE:
                return 3;
        default:
                return 4;
        }
}

static int apply_doc_cmp(const void *a, const void *b)
{
        const ApplyDoc *x = a, *y = b;
        int rx = x->pd->doc ? kind_rank(x->pd->doc->kind) : 5,
            ry = y->pd->doc ? kind_rank(y->pd->doc->kind) : 5;
        int d = rx - ry;
        if (d != 0)
                return d;
        return x->order < y->order ? -1 : x->order > y->order;
}

/* Checks one decoded document: kind, identity, validation. Prints why it is invalid. */
static void apply_doc_check(ApplyDoc *ad)
{
        _cleanup_(diag_done) Diag diag = DIAG_INIT;
        const ParsedDoc *pd = ad->pd;
        ad->state = APPLY_INVALID;
        if (diag_is_set(&pd->diag) || !pd->doc) {
                log_diag(&pd->diag);
                return;
        }
        if (pd->doc->kind == KIND_CONTAINER) {
                const YNode *k = pd->root ? ynode_get(pd->root, "kind") : NULL;
                (void)diag_set(&diag, -EINVAL, ad->file, k ? k->line : pd->line, k ? k->col : 1, "kind",
                               "Container documents are written by kukeond; put containers in a Cell's "
                               "spec.containers");
                log_diag(&diag);
                return;
        }
        doc_drop_status(pd->doc); /* status: in a manifest is ignored */
        if (document_identity(pd->doc, NULL, &ad->id, &diag) < 0) {
                log_diag(&diag);
                return;
        }
        ad->has_id = resource_id_check(&ad->id) >= 0;
        if (document_validate(pd->doc, &ad->id, ad->file, pd->root, &diag) < 0) {
                log_diag(&diag);
                return;
        }
        if (!ad->has_id) { /* validation should have said why; never build a path from a bad name */
                log_error("%s: metadata.name: not a valid name", ad->file);
                return;
        }
        ad->state = APPLY_PENDING;
}

/* The nearest ancestor of ad among the documents of this apply that was not written, or NULL. */
static const ApplyDoc *blocking_parent(const ApplyDoc *docs, size_t n, const ApplyDoc *ad)
{
        const ApplyDoc *best = NULL;
        for (size_t i = 0; i < n; i++) {
                const ApplyDoc *p = &docs[i];
                if (!p->has_id || (p->state != APPLY_INVALID && p->state != APPLY_FAILED) ||
                    !resource_id_is_ancestor(&p->id, &ad->id))
                        continue;
                if (!best || kind_depth(p->id.kind) > kind_depth(best->id.kind))
                        best = p;
        }
        return best;
}

static void apply_doc_write(Store *s, ApplyDoc *docs, size_t n, ApplyDoc *ad, WaitList *wl)
{
        static const char *const results[] = {"created", "configured", "unchanged"};
        char q[QNAME_MAX], pq[QNAME_MAX], digest[72];
        const ApplyDoc *p = blocking_parent(docs, n, ad);
        if (p) {
                log_error("%s \"%s\": not applied: its parent %s \"%s\" is invalid",
                          kind_to_string(ad->id.kind), resource_id_qualified(&ad->id, q),
                          kind_to_string(p->id.kind), resource_id_qualified(&p->id, pq));
                ad->state = APPLY_INVALID;
                return;
        }
        ad->state = APPLY_FAILED;
        if (writer_ensure_parents(s, &ad->id, wl) < 0)
                return;
        int r = writer_put_spec(s, &ad->id, ad->pd->doc, digest);
        if (r < 0)
                return;
        print_result(&ad->id, results[r], NULL);
        ad->state = APPLY_DONE;
        if (wait_list_add(wl, &ad->id, digest, doc_run_state(ad->pd->doc)) < 0)
                log_error_errno(-ENOMEM, "out of memory");
}

/* Collects every document of the inputs. Returns the number, or -ENOMEM. */
static ssize_t apply_collect(const InputList *in, ApplyDoc **ret)
{
        size_t n = 0;
        for (size_t i = 0; i < in->n; i++)
                n += in->items[i].stream.n;
        ApplyDoc *docs = calloc(n ? n : 1, sizeof(*docs));
        if (!docs)
                return -ENOMEM;
        n = 0;
        for (size_t i = 0; i < in->n; i++)
                for (size_t j = 0; j < in->items[i].stream.n; j++, n++)
                        docs[n] = (ApplyDoc){
                                .pd = &in->items[i].stream.docs[j], .file = in->items[i].file, .order = n};
        *ret = docs;
        return (ssize_t)n;
}

static int apply_run(Cli *cli, const WriteOpts *w, const InputList *in)
{
        _cleanup_free_ ApplyDoc *docs = NULL;
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(wait_list_done) WaitList wl = {0};
        bool failed = false;
        ssize_t n = apply_collect(in, &docs);
        if (n < 0)
                return log_error_errno((int)n, "out of memory"), EXIT_FAIL;
        for (ssize_t i = 0; i < n; i++) {
                apply_doc_check(&docs[i]);
                failed = failed || docs[i].state == APPLY_INVALID;
        }
        if (n == 0) {
                log_error("no documents to apply");
                return EXIT_FAIL;
        }
        /* invalid documents sort anywhere: they are skipped; valid ones go parents first */
        qsort(docs, (size_t)n, sizeof(*docs), apply_doc_cmp);
        for (ssize_t i = 0; i < n; i++) {
                if (docs[i].state != APPLY_PENDING)
                        continue;
                if (!s && writer_open_store(cli, &s) < 0)
                        return EXIT_FAIL;
                apply_doc_write(s, docs, (size_t)n, &docs[i], &wl);
                failed = failed || docs[i].state != APPLY_DONE;
        }
        if (!s)
                return EXIT_FAIL;
        int ex = wait_settle(cli, s, w, &wl);
        return failed ? EXIT_FAIL : ex;
}

int verb_apply(Cli *cli, int argc, char **argv)
{
        static const struct option options[] = {
                CLI_OPTIONS_GLOBAL, CLI_OPTIONS_WRITE, {"filename", required_argument, NULL, 'f'}, {}};
        _cleanup_(inputs_done) InputList in = {0};
        WriteOpts w = WRITE_OPTS_INIT;
        const char *paths[256];
        size_t n_paths = 0;
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":hf:", options, NULL)) >= 0) {
                int r = option_common(cli, &w, NULL, c, optarg);
                if (r < 0)
                        return EXIT_USAGE;
                if (r > 0)
                        continue;
                if (c == 'h') {
                        help();
                        return EXIT_OK;
                }
                if (c != 'f')
                        return option_error("apply", c, argv);
                if (n_paths >= ARRAY_SIZE(paths))
                        return log_usage("apply", "too many -f options");
                paths[n_paths++] = optarg;
        }
        if (optind < argc)
                return log_usage("apply", "unexpected argument \"%s\"", argv[optind]);
        if (n_paths == 0)
                return log_usage("apply", "-f FILE|DIR|- is required");
        for (size_t i = 0; i < n_paths; i++)
                if (inputs_add(&in, paths[i]) < 0)
                        return EXIT_FAIL;
        return apply_run(cli, &w, &in);
}
