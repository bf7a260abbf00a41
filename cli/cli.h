/* What the kuke verbs share: the global context, option parsing, printing, resource ids, document
 * building, name resolution, waiting for kukeond and table output. Only cli/ prints. */
#pragma once

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/macro.h"
#include "state/document.h"
#include "state/schema.h"
#include "state/selector.h"
#include "state/store.h"

#define KUKE_DEFAULT_RUN_PATH  "/opt/kukeon"
#define KUKE_DEFAULT_STATE_DIR "/run/kukeon"

/* Exit codes of every verb. */
enum {
        EXIT_OK = 0,
        EXIT_FAIL = 1,
        EXIT_USAGE = 2,
};

/* The one context main() creates and passes down: the global options. */
typedef struct Cli {
        const char *run_path;
        const char *state_dir;
} Cli;

/* Long options without a short letter. */
enum {
        ARG_RUN_PATH = 0x100,
        ARG_STATE_DIR,
        ARG_WAIT,
        ARG_TIMEOUT,
        ARG_REALM,
        ARG_SPACE,
        ARG_STACK,
        ARG_CELL,
        ARG_CASCADE,
        ARG_NAMESPACE,
        ARG_SUBNET,
        ARG_IMAGE,
        ARG_CONTAINER,
        ARG_COMMAND,
        ARG_ARGS,
        ARG_ENV,
        ARG_GROUP,
};

/* clang-format off */
#define CLI_OPTIONS_GLOBAL                                                                                  \
        {"run-path", required_argument, NULL, ARG_RUN_PATH},                                                \
        {"state-dir", required_argument, NULL, ARG_STATE_DIR},                                              \
        {"help", no_argument, NULL, 'h'}
#define CLI_OPTIONS_WRITE                                                                                   \
        {"wait", optional_argument, NULL, ARG_WAIT},                                                        \
        {"timeout", required_argument, NULL, ARG_TIMEOUT}
#define CLI_OPTIONS_SCOPE                                                                                   \
        {"realm", required_argument, NULL, ARG_REALM},                                                      \
        {"space", required_argument, NULL, ARG_SPACE},                                                      \
        {"stack", required_argument, NULL, ARG_STACK}
/* clang-format on */

/* --wait and --timeout of the writers. */
typedef struct WriteOpts {
        bool wait;
        bool wait_explicit; /* --wait or --wait=true was given */
        int64_t timeout_sec;
        char timeout_text[32]; /* as the user spelled it, for the timeout message */
} WriteOpts;

#define WRITE_OPTS_INIT ((WriteOpts){.wait = true, .timeout_sec = 120, .timeout_text = "2m"})

/* Scope filters (--realm, --space, --stack, --cell); NULL = any. */
typedef struct Scope {
        const char *realm;
        const char *space;
        const char *stack;
        const char *cell;
} Scope;

/* ---- log.c: the only place that formats messages for stderr ---- */
void log_error(const char *fmt, ...) _printf_(1, 2);
/* Prints "kuke: error: ..." with errno set from r for %m; returns r. */
int log_error_errno(int r, const char *fmt, ...) _printf_(2, 3);
void log_note(const char *fmt, ...) _printf_(1, 2);
/* Prints the diagnostic as "kuke: error: file:line:col: path: message". */
void log_diag(const Diag *d);
/* Prints a usage error and returns EXIT_USAGE. */
int log_usage(const char *verb, const char *fmt, ...) _printf_(2, 3);

/* ---- options.c ---- */
/* Handles the options every verb shares: the global ones, and when w / sc are given the writer and
 * scope options. Returns 1 when c was one of them, 0 when not, -EINVAL after printing a bad value. */
int option_common(Cli *cli, WriteOpts *w, Scope *sc, int c, const char *arg);
/* Reports what getopt_long returned for an unknown option or a missing value; returns EXIT_USAGE. */
int option_error(const char *verb, int c, char **argv);
/* Parses "90s", "2m", "1h" or plain seconds. Returns 0 or -EINVAL. */
int duration_parse(const char *s, int64_t *ret);
/* "true"/"false" (also yes/no, 1/0). Returns 0 or -EINVAL. */
int bool_parse(const char *s, bool *ret);

/* ---- resource.c: ids, names, result lines ---- */
#define QNAME_MAX (5 * (NAME_MAX_LEN + 1) + 1)
/* Fills ret for a resource of kind named name below the given parents (levels the kind does not use
 * are ignored; a container needs all four). Returns 0 or -EINVAL when a used name is not valid. */
int resource_id_make(ResourceId *ret, Kind kind, const char *realm, const char *space, const char *stack,
                     const char *cell, const char *name);
/* -EINVAL when a name of id is not a valid, unreserved DNS-1123 label (so it is safe in a path). */
int resource_id_check(const ResourceId *id);
/* "r", "r/s", "r/s/t", "r/s/t/c", "r/img", "r/s/t/c/ctr" into buf; returns buf. */
char *resource_id_qualified(const ResourceId *id, char buf[static QNAME_MAX]);
/* The parent resource's id; -ENOENT for a realm. */
int resource_id_parent(const ResourceId *id, ResourceId *ret);
/* Depth in the hierarchy: realm 0, space and image 1, stack 2, cell 3, container 4. */
int kind_depth(Kind k);
bool resource_id_equal(const ResourceId *a, const ResourceId *b);
/* True when anc is a strict ancestor of id. */
bool resource_id_is_ancestor(const ResourceId *anc, const ResourceId *id);
/* "realms", "cells", ... */
const char *kind_plural(Kind k);
/* Prints `Kind "qualified": what` (and the suffix when not NULL) on stdout. */
void print_result(const ResourceId *id, const char *what, const char *suffix);

/* ---- docbuild.c: building and editing documents ---- */
/* Marks every field along a dotted path ("spec.network.subnet") present in obj (described by s) and
 * returns the address of the last field, or NULL when the path names no field. */
void *field_path_mark(const Schema *s, void *obj, const char *path);
/* field_path_mark() on a whole document. */
void *doc_field(Document *d, const char *path);
/* Sets a string field along a path (replacing what it held). Returns 0, -EINVAL or -ENOMEM. */
int doc_set_string(Document *d, const char *path, const char *value);
/* Sets or removes an annotation. Return 1 when something changed, 0 when not, or -ENOMEM. */
int doc_set_annotation(Document *d, const char *key, const char *value);
int doc_unset_annotation(Document *d, const char *key);
int doc_set_label(Document *d, const char *key, const char *value);
/* A new manifest with a default spec for id: name, parent ids, and for a realm its namespace. */
int doc_new_default(const ResourceId *id, Document **ret);
/* Drops whatever status a manifest carried (kuke apply ignores it). */
void doc_drop_status(Document *d);

/* ---- resolve.c: finding resources by name across scopes ---- */
/* A NAME as typed, split when qualified ("r/s/t/c", or its right-hand part "t/c") and merged with the
 * scope flags. */
typedef struct Query {
        Kind kind;
        const char *name;  /* the own name, NULL for "every" */
        const char *typed; /* the NAME as typed, for messages */
        Scope scope;
        bool impossible; /* a qualified part contradicts a scope flag */
        char buf[QNAME_MAX];
} Query;

/* Builds a query; name may be NULL. Returns 0 or -EINVAL (printed) when NAME has too many parts. */
int query_init(Query *q, Kind kind, const char *name, const Scope *flags);
/* True when id (of the query's kind) matches the query's scope and name. */
bool query_matches(const Query *q, const ResourceId *id);
/* Prints "not found" (n == 0) or "ambiguous" (n > 1) for the ids a query found. Returns 0 when n == 1,
 * else -ENOENT or -ENOTUNIQ. */
int resolve_report(const Query *q, const ResourceId *ids, size_t n);
/* The index of the one tree entry (with a spec file) q names. Prints "not found" or "ambiguous" and
 * returns -ENOENT or -ENOTUNIQ otherwise. */
ssize_t resolve_one(const Tree *t, const Query *q);

/* ---- wait.c: waiting for kukeond to settle what was written ---- */
typedef struct WaitItem {
        ResourceId id;
        char digest[72];
        bool is_delete;
        int run_state; /* cells: the RunState written */
        /* results */
        bool done;
        bool failed;
        int state; /* last state seen, STATE_PENDING without a status */
        char *reason;
        char *message;
} WaitItem;

typedef struct WaitList {
        WaitItem *items;
        size_t n;
} WaitList;

/* Adds a resource whose status must reach digest (or, with digest NULL, whose status file must go). */
int wait_list_add(WaitList *l, const ResourceId *id, const char *digest, int run_state);
void wait_list_done(WaitList *l);
/* Waits as the writers' --wait describes (or prints the "not running" note) and prints the outcome.
 * Returns the exit code. */
int wait_settle(const Cli *cli, Store *s, const WriteOpts *o, WaitList *l);

/* ---- input.c: reading manifests from files, directories and stdin ---- */
typedef struct Input {
        char *file; /* name for messages */
        char *buf;
        size_t len;
        ParsedStream stream;
} Input;

typedef struct InputList {
        Input *items;
        size_t n;
} InputList;

/* Reads FILE, every *.yaml / *.yml of DIR (sorted), or stdin for "-", and parses it. Returns 0 or
 * -errno (printed). */
int inputs_add(InputList *l, const char *path);
void inputs_done(InputList *l);

/* ---- output_table.c ---- */
typedef struct Table {
        size_t n_cols;
        char **cells; /* row-major, header first */
        size_t n_cells;
} Table;

int table_init(Table *t, const char *const *headers, size_t n_cols);
/* Adds a row of n_cols values; NULL or "" prints as "-". Returns 0 or -ENOMEM. */
int table_add_row(Table *t, const char *const *values);
size_t table_rows(const Table *t);
/* Columns aligned, two spaces apart, no trailing blanks. */
void table_print(const Table *t, FILE *f);
void table_done(Table *t);

/* ---- get_rows.c / get_doc.c: what kuke get shows ---- */
/* One resource of a listing: a tree entry, or (containers) a cell entry and a container index. */
typedef struct GetItem {
        ResourceId id;
        size_t entry;     /* tree index of the resource, or of the cell for a container */
        size_t container; /* index in the cell's spec.containers */
} GetItem;

/* The table header and rows of items, for -o table / wide. Returns 0 or -ENOMEM. */
int get_table_build(const Tree *t, Kind kind, const GetItem *items, size_t n, bool wide, Table *ret);
/* The combined document (spec + status) of an item. Returns 0 or -ENOMEM. */
int get_item_document(const Tree *t, const GetItem *it, Document **ret);
/* The state shown for an item. */
const char *get_item_state(const Tree *t, const GetItem *it);
/* The status of a container from the daemon's containers/<c>.yaml entry in the tree, or NULL. */
const TreeEntry *tree_find_container(const Tree *t, const GetItem *it);

/* ---- verbs ---- */
int verb_init(Cli *cli, int argc, char **argv);
int verb_apply(Cli *cli, int argc, char **argv);
int verb_create(Cli *cli, int argc, char **argv);
int verb_get(Cli *cli, int argc, char **argv);
int verb_delete(Cli *cli, int argc, char **argv);
int verb_runstate(Cli *cli, int argc, char **argv);
int verb_version(Cli *cli, int argc, char **argv);
int verb_doctor(Cli *cli, int argc, char **argv);
int verb_completion(Cli *cli, int argc, char **argv);
int verb_digest(Cli *cli, int argc, char **argv);
int verb_logs(Cli *cli, int argc, char **argv);
int verb_status(Cli *cli, int argc, char **argv);

/* ---- shared by the writers (writer.c) ---- */
/* Opens the store for writing (creating the run path) and prints failures. */
int writer_open_store(const Cli *cli, Store **ret);
/* Writes a manifest unless the one on disk has the same digest. Returns 0 created, 1 configured, 2
 * unchanged, or -errno (printed). ret_digest gets the digest of d. */
int writer_put_spec(Store *s, const ResourceId *id, const Document *d, char ret_digest[static 72]);
/* Creates the missing ancestors of id with default specs, each reported as "created (parent of ...)"
 * and added to wl. Returns 0 or -errno (printed). */
int writer_ensure_parents(Store *s, const ResourceId *id, WaitList *wl);
/* Adds the manifest on disk (its digest) to wl; a missing or invalid one is skipped. Returns 0 or -errno
 * (printed). */
int writer_wait_existing(Store *s, const ResourceId *id, WaitList *wl);
/* True when the manifest of id exists. */
bool writer_spec_exists(Store *s, const ResourceId *id);
/* The RunState of a cell manifest (Running when unset), -1 for other kinds. */
int doc_run_state(const Document *d);
