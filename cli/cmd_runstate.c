/* kuke stop|start|kill|restart [cell] NAME: the desired run state and the restart annotation live in
 * the cell's manifest, so these verbs rewrite it (and work as well by editing the file). */
#include <stdio.h>

#include "common/timeutil.h"
#include "cli/cli.h"

typedef enum RunVerb {
        RUN_VERB_STOP,
        RUN_VERB_START,
        RUN_VERB_KILL,
        RUN_VERB_RESTART,
} RunVerb;

static const char *const verb_names[] = {"stop", "start", "kill", "restart"};
static const char *const verb_results[] = {"stopped", "started", "killed", "restarted"};

static void help(const char *verb)
{
        printf("Usage: kuke %s [cell] NAME [--realm R] [--space S] [--stack T] [--wait[=BOOL]] [--timeout "
               "D]\n"
               "\n"
               "stop:    spec.runState Stopped\n"
               "kill:    spec.runState Stopped and annotation " ANNOTATION_KILL
               ": \"true\" (no grace period)\n"
               "start:   spec.runState Running (removes " ANNOTATION_KILL ")\n"
               "restart: annotation " ANNOTATION_RESTARTED_AT
               ": <now> and spec.runState Running (removes " ANNOTATION_KILL ")\n"
               "\n"
               "NAME may be qualified (r/s/t/c); without scope flags every scope is searched.\n"
               "\n"
               "Options:\n"
               "      --wait[=BOOL]      wait until kukeond has settled the cell (default true)\n"
               "      --timeout DURATION how long to wait: 90s, 2m, 1h or seconds (default 2m)\n"
               "      --run-path PATH    run path (default $KUKEON_RUN_PATH or " KUKE_DEFAULT_RUN_PATH ")\n"
               "      --state-dir DIR    kukeond's state directory (default $KUKEON_STATE_DIR "
               "or " KUKE_DEFAULT_STATE_DIR ")\n",
               verb);
}

static int set_run_state(Document *d, RunState s)
{
        int *slot = doc_field(d, "spec.runState");
        if (!slot)
                return -EINVAL;
        *slot = s;
        return 0;
}

static int runstate_edit(Document *d, RunVerb v)
{
        char now[RFC3339_MAX];
        int r;
        switch (v) {
        case RUN_VERB_STOP:
                r = doc_unset_annotation(d, ANNOTATION_KILL);
                return r < 0 ? r : set_run_state(d, RUN_STATE_STOPPED);
        case RUN_VERB_KILL:
                r = doc_set_annotation(d, ANNOTATION_KILL, "true");
                return r < 0 ? r : set_run_state(d, RUN_STATE_STOPPED);
        case RUN_VERB_START:
                r = doc_unset_annotation(d, ANNOTATION_KILL);
                return r < 0 ? r : set_run_state(d, RUN_STATE_RUNNING);
        default:
                r = doc_set_annotation(d, ANNOTATION_RESTARTED_AT, time_format_rfc3339(time_now(), now));
                if (r >= 0)
                        r = doc_unset_annotation(d, ANNOTATION_KILL);
                return r < 0 ? r : set_run_state(d, RUN_STATE_RUNNING);
        }
}

static int runstate_run(Cli *cli, RunVerb v, const WriteOpts *w, const Query *q)
{
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(tree_done) Tree t = {0};
        _cleanup_(wait_list_done) WaitList wl = {0};
        _cleanup_document_ Document *d = NULL;
        char q_name[QNAME_MAX], before[72], after[72];
        int r = store_open(cli->run_path, false, &s);
        if (r >= 0)
                r = store_scan(s, 0, &t);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "cannot read %s: %m", cli->run_path), EXIT_FAIL;
        ssize_t i = resolve_one(&t, q);
        if (i < 0)
                return EXIT_FAIL;
        const TreeEntry *e = &t.entries[i];
        if (!e->spec) {
                _cleanup_free_ char *why = diag_format(&e->error);
                log_error("Cell \"%s\": its manifest is invalid: %s", resource_id_qualified(&e->id, q_name),
                          why ? why : "unknown error");
                return EXIT_FAIL;
        }
        r = document_copy(e->spec, &d);
        if (r >= 0)
                r = document_digest(d, &e->id, before);
        if (r >= 0)
                r = runstate_edit(d, v);
        if (r >= 0)
                r = document_digest(d, &e->id, after);
        if (r < 0)
                return log_error_errno(r, "cannot edit the manifest: %m"), EXIT_FAIL;
        if (streq(before, after)) {
                print_result(&e->id, "unchanged", NULL);
        } else {
                r = writer_put_spec(s, &e->id, d, after);
                if (r < 0)
                        return EXIT_FAIL;
                print_result(&e->id, verb_results[v], NULL);
        }
        if (wait_list_add(&wl, &e->id, after, doc_run_state(d)) < 0)
                return log_error_errno(-ENOMEM, "out of memory"), EXIT_FAIL;
        return wait_settle(cli, s, w, &wl);
}

int verb_runstate(Cli *cli, int argc, char **argv)
{
        static const struct option options[] = {
                CLI_OPTIONS_GLOBAL, CLI_OPTIONS_WRITE, CLI_OPTIONS_SCOPE, {}};
        WriteOpts w = WRITE_OPTS_INIT;
        Scope sc = {0};
        RunVerb v = RUN_VERB_STOP;
        Query q;
        int c;
        for (size_t i = 0; i < ARRAY_SIZE(verb_names); i++)
                if (streq(argv[0], verb_names[i]))
                        v = (RunVerb)i;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                int r = option_common(cli, &w, &sc, c, optarg);
                if (r < 0)
                        return EXIT_USAGE;
                if (r > 0)
                        continue;
                if (c == 'h') {
                        help(verb_names[v]);
                        return EXIT_OK;
                }
                return option_error(verb_names[v], c, argv);
        }
        int n = argc - optind;
        if (n == 2) {
                if (kind_from_noun(argv[optind]) != KIND_CELL)
                        return log_usage(verb_names[v], "kuke %s applies to cells, not \"%s\"",
                                         verb_names[v], argv[optind]);
                optind++;
        } else if (n != 1) {
                return log_usage(verb_names[v], "expected [cell] NAME");
        }
        if (query_init(&q, KIND_CELL, argv[optind], &sc) < 0)
                return EXIT_USAGE;
        return runstate_run(cli, v, &w, &q);
}
