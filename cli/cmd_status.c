/* kuke status: whether kukeond runs (its lock), what it last wrote about itself
 * (<state-dir>/kukeond.yaml, daemon/selfstatus.c), whether containerd answers on its socket, and how
 * many resources of each kind are in each state. One JSON report is built and printed as a table, YAML
 * or JSON. Exit 0 when kukeond runs, 1 when not (or when that cannot be told). */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/buf.h"
#include "common/pidlock.h"
#include "common/timeutil.h"
#include "cli/cli.h"
#include "state/emit.h"

#define DEFAULT_CONTAINERD_SOCKET "/run/containerd/containerd.sock"

typedef enum StatusFormat {
        STATUS_TABLE,
        STATUS_YAML,
        STATUS_JSON,
} StatusFormat;

typedef enum ReportFieldType {
        RF_STRING,
        RF_INT,
        RF_BOOL,
        RF_COUNTS, /* a mapping of names to integers */
} ReportFieldType;

/* What kuke status takes from kukeond.yaml, in output order (daemon/selfstatus.c writes it). */
static const struct {
        const char *path;
        ReportFieldType type;
} daemon_fields[] = {
        {"version", RF_STRING},
        {"pid", RF_INT},
        {"startedAt", RF_STRING},
        {"runPath", RF_STRING},
        {"stateDir", RF_STRING},
        {"containerd.socket", RF_STRING},
        {"containerd.connected", RF_BOOL},
        {"containerd.error", RF_STRING},
        {"resources.total", RF_INT},
        {"resources.byState", RF_COUNTS},
        {"lastError", RF_STRING},
};

static inline void json_decrefp_(json_t **j)
{
        json_decref(*j);
}

static void help(void)
{
        printf("Usage: kuke status [-o table|yaml|json] [--containerd-socket PATH]\n"
               "\n"
               "Reports kukeond: whether it runs (it holds <state-dir>/kukeond.pid) and as which pid, what "
               "it\n"
               "last wrote to <state-dir>/kukeond.yaml (version, start time, resources per state, last "
               "error),\n"
               "whether containerd answers on its socket, and how many realms, spaces, stacks, cells,\n"
               "containers and images of the run path are in each state.\n"
               "\n"
               "Options:\n"
               "  -o, --output FORMAT        table (default), yaml or json\n"
               "      --containerd-socket PATH\n"
               "                             default $KUKEOND_CONTAINERD_SOCKET "
               "or " DEFAULT_CONTAINERD_SOCKET "\n"
               "      --run-path PATH        run path (default $KUKEON_RUN_PATH or " KUKE_DEFAULT_RUN_PATH
               ")\n"
               "      --state-dir DIR        kukeond's state directory (default $KUKEON_STATE_DIR "
               "or " KUKE_DEFAULT_STATE_DIR ")\n"
               "\n"
               "Exit codes: 0 kukeond runs, 1 it does not (what can be known is still printed), 2 usage "
               "error.\n");
}

/* ---- the JSON report: lookups by dotted path ---- */

static json_t *jget(json_t *o, const char *path)
{
        char key[64];
        while (o && *path) {
                size_t n = strcspn(path, ".");
                if (n >= sizeof(key))
                        return NULL;
                memcpy(key, path, n);
                key[n] = '\0';
                o = json_object_get(o, key);
                path += n + (path[n] == '.');
        }
        return o;
}

static const char *jstr(json_t *o, const char *path)
{
        return json_string_value(jget(o, path));
}

/* Sets path in o, creating the objects on the way; steals v. Returns 0 or -ENOMEM. */
static int jset(json_t *o, const char *path, json_t *v)
{
        char key[64];
        const char *dot;
        if (!v)
                return -ENOMEM;
        while ((dot = strchr(path, '.'))) {
                size_t n = (size_t)(dot - path);
                if (n >= sizeof(key)) {
                        json_decref(v);
                        return -EINVAL;
                }
                memcpy(key, path, n);
                key[n] = '\0';
                json_t *next = json_object_get(o, key);
                if (!next && json_object_set_new(o, key, next = json_object()) < 0) {
                        json_decref(v);
                        return -ENOMEM;
                }
                o = next;
                path = dot + 1;
        }
        return json_object_set_new(o, path, v) < 0 ? -ENOMEM : 0;
}

static json_t *json_string_or_null(const char *s)
{
        return s ? json_string(s) : json_null();
}

/* ---- kukeond's lock ---- */

static json_t *probe_daemon(const Cli *cli, pid_t *ret_holder)
{
        char lock[PATH_MAX];
        pid_t pid = 0;
        int r = pidlock_test(cli->state_dir, &pid);
        snprintf(lock, sizeof(lock), "%s/kukeond.pid", cli->state_dir);
        *ret_holder = r > 0 ? pid : 0;
        return json_pack("{s:b, s:o, s:s, s:o}", "running", r > 0, "pid",
                         r > 0 && pid > 0 ? json_integer(pid) : json_null(), "lockFile", lock, "error",
                         json_string_or_null(r < 0 ? strerror(-r) : NULL));
}

/* ---- kukeond.yaml ---- */

/* The node at a dotted path of mappings, or NULL. */
static const YNode *ynode_at(const YNode *root, const char *path)
{
        char key[64];
        const YNode *n = root;
        while (n && *path) {
                size_t len = strcspn(path, ".");
                if (n->type != YNODE_MAPPING || len >= sizeof(key))
                        return NULL;
                memcpy(key, path, len);
                key[len] = '\0';
                n = ynode_get(n, key);
                path += len + (path[len] == '.');
        }
        return n;
}

static bool scalar_is_null(const YNode *n)
{
        return n->type == YNODE_SCALAR && n->plain &&
               (streq(n->value, "") || streq(n->value, "~") || streq(n->value, "null"));
}

static int scalar_to_int(const YNode *n, json_int_t *ret)
{
        char *end = NULL;
        if (n->type != YNODE_SCALAR || !n->plain || !n->value[0])
                return -EINVAL;
        errno = 0;
        long long v = strtoll(n->value, &end, 10);
        if (errno != 0 || *end)
                return -EINVAL;
        *ret = (json_int_t)v;
        return 0;
}

/* One field's value, or NULL with diag set when it has the wrong type. */
static json_t *field_decode(const YNode *n, ReportFieldType type, const char *file, const char *path,
                            Diag *diag)
{
        json_int_t i;
        if (!n || scalar_is_null(n))
                return json_null();
        switch (type) {
        case RF_STRING:
                if (n->type == YNODE_SCALAR)
                        return json_string(n->value);
                break;
        case RF_INT:
                if (scalar_to_int(n, &i) == 0)
                        return json_integer(i);
                break;
        case RF_BOOL:
                if (n->type == YNODE_SCALAR && n->plain &&
                    (streq(n->value, "true") || streq(n->value, "false")))
                        return json_boolean(streq(n->value, "true"));
                break;
        case RF_COUNTS: {
                if (n->type != YNODE_MAPPING)
                        break;
                json_t *o = json_object();
                for (size_t k = 0; o && k < n->n; k++) {
                        if (scalar_to_int(n->items[k], &i) < 0) {
                                (void)diag_set(diag, -EINVAL, file, n->items[k]->line, n->items[k]->col,
                                               path, "expected an integer");
                                json_decref(o);
                                return NULL;
                        }
                        if (json_object_set_new(o, n->keys[k]->value, json_integer(i)) < 0) {
                                json_decref(o);
                                return NULL;
                        }
                }
                return o;
        }
        }
        static const char *const expected[] = {"a string", "an integer", "true or false", "a mapping"};
        (void)diag_set(diag, -EINVAL, file, n->line, n->col, path, "expected %s", expected[type]);
        return NULL;
}

/* Decodes the fields kuke status shows into o. A field of the wrong type stays null and the first such
 * problem goes to diag. */
static int daemon_file_decode(const char *buf, size_t len, const char *file, json_t *o, Diag *diag)
{
        _cleanup_(ystream_done) YStream ys = {0};
        int r = ystream_parse(buf, len, file, &ys);
        if (r < 0)
                return r;
        if (ys.n != 1 || diag_is_set(&ys.docs[0].diag) || !ys.docs[0].root ||
            ys.docs[0].root->type != YNODE_MAPPING) {
                if (ys.n > 0 && diag_is_set(&ys.docs[ys.n - 1].diag))
                        diag_move(diag, &ys.docs[ys.n - 1].diag);
                else
                        (void)diag_set(diag, -EINVAL, file, 1, 1, NULL, "expected one mapping");
                return -EINVAL;
        }
        for (size_t i = 0; i < ARRAY_SIZE(daemon_fields); i++) {
                Diag d = DIAG_INIT;
                const YNode *n = ynode_at(ys.docs[0].root, daemon_fields[i].path);
                json_t *v = field_decode(n, daemon_fields[i].type, file, daemon_fields[i].path, &d);
                if (!v && !diag_is_set(&d))
                        return -ENOMEM;
                if (diag_is_set(&d) && !diag_is_set(diag))
                        diag_move(diag, &d);
                diag_done(&d);
                if ((r = jset(o, daemon_fields[i].path, v ? v : json_null())) < 0)
                        return r;
        }
        return 0;
}

static const char *read_error_text(int r)
{
        switch (r) {
        case -ELOOP:
                return "a symlink is not followed";
        case -EFBIG:
                return "larger than 1 MiB";
        case -EMLINK:
                return "the file has other hard links; refused";
        case -EINVAL:
                return "not a regular file";
        default:
                return strerror(-r);
        }
}

/* {file, present, current, error, <daemon_fields>}: kukeond.yaml read like the store reads its files
 * (no symlinks, a regular file of at most 1 MiB). current: written by the process holding the lock. */
static json_t *read_daemon_file(const Cli *cli, pid_t holder)
{
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(diag_done) Diag diag = DIAG_INIT;
        _cleanup_(json_decrefp_) json_t *o = NULL;
        _cleanup_free_ char *buf = NULL;
        char path[PATH_MAX];
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/kukeond.yaml", cli->state_dir);
        o = json_pack("{s:s, s:b, s:b, s:n}", "file", path, "present", false, "current", false, "error");
        if (!o)
                return NULL;
        for (size_t i = 0; i < ARRAY_SIZE(daemon_fields); i++)
                if (jset(o, daemon_fields[i].path, json_null()) < 0)
                        return NULL;

        const char *failed = cli->state_dir;
        int r = store_open(cli->state_dir, false, &s);
        if (r >= 0) {
                failed = path;
                r = store_read_file(s, "kukeond.yaml", &buf, &len, NULL);
        }
        if (r == -ENOENT)
                return TAKE_PTR(o);
        if (r == -ENOMEM)
                return NULL;
        if (r < 0)
                (void)diag_set(&diag, r, failed, 0, 0, NULL, "%s", read_error_text(r));
        else if ((r = daemon_file_decode(buf, len, path, o, &diag)) == -ENOMEM)
                return NULL;
        json_int_t pid = json_integer_value(json_object_get(o, "pid"));
        if (jset(o, "present", json_true()) < 0 ||
            jset(o, "current", json_boolean(holder != 0 && pid == holder && r >= 0)) < 0)
                return NULL;
        if (diag_is_set(&diag)) {
                _cleanup_free_ char *m = diag_format(&diag);
                if (!m || jset(o, "error", json_string(m)) < 0)
                        return NULL;
        }
        return TAKE_PTR(o);
}

/* ---- containerd ---- */

/* {socket, reachable, error}: whether a connect() to the socket succeeds. Non-blocking, so a containerd
 * whose backlog is full does not hang us (that shows as not reachable: EAGAIN). */
static json_t *probe_containerd(const char *socket_path)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int r = 0;
        if (strlen(socket_path) >= sizeof(sa.sun_path)) {
                r = -ENAMETOOLONG;
        } else {
                strcpy(sa.sun_path, socket_path);
                _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                        r = negative_errno();
        }
        return json_pack("{s:s, s:b, s:o}", "socket", socket_path, "reachable", r == 0, "error",
                         json_string_or_null(r < 0 ? strerror(-r) : NULL));
}

/* ---- resources of the run path ---- */

typedef struct Counts {
        size_t n[_KIND_MAX][_STATE_MAX];
        size_t total;
} Counts;

static void count_item(const Tree *t, const GetItem *it, Counts *c)
{
        State s = state_from_string(get_item_state(t, it));
        c->n[it->id.kind][s >= 0 && s < _STATE_MAX ? s : STATE_UNKNOWN]++;
        c->total++;
}

/* Each resource with a manifest, and each container of a cell's spec, in the state kuke get shows. */
static void count_tree(const Tree *t, Counts *c)
{
        for (size_t i = 0; i < t->n; i++) {
                const TreeEntry *e = &t->entries[i];
                if (!e->has_spec_file || e->id.kind == KIND_CONTAINER)
                        continue;
                count_item(t, &(GetItem){.id = e->id, .entry = i}, c);
                if (e->id.kind != KIND_CELL || !e->spec)
                        continue;
                for (size_t j = 0; j < e->spec->spec.cell.n_containers; j++) {
                        GetItem it = {.entry = i, .container = j};
                        const char *id = e->spec->spec.cell.containers[j].id;
                        if (id && resource_id_make(&it.id, KIND_CONTAINER, e->id.realm, e->id.space,
                                                   e->id.stack, e->id.cell, id) >= 0)
                                count_item(t, &it, c);
                }
        }
}

static json_t *counts_to_json(const Counts *c)
{
        _cleanup_(json_decrefp_) json_t *by_kind = json_object();
        for (int k = 0; by_kind && k < _KIND_MAX; k++) {
                size_t total = 0;
                json_t *by_state = json_object();
                for (int s = 0; by_state && s < _STATE_MAX; s++) {
                        total += c->n[k][s];
                        if (c->n[k][s] && json_object_set_new(by_state, state_to_string((State)s),
                                                              json_integer((json_int_t)c->n[k][s])) < 0)
                                return json_decref(by_state), NULL;
                }
                json_t *kind = json_pack("{s:I, s:o}", "total", (json_int_t)total, "byState", by_state);
                if (!kind || json_object_set_new(by_kind, kind_to_noun((Kind)k), kind) < 0)
                        return NULL;
        }
        return TAKE_PTR(by_kind);
}

/* {runPath, error, total, byKind: {realm: {total, byState}, ...}}; every kind is listed. */
static json_t *count_resources(const Cli *cli)
{
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(tree_done) Tree t = {0};
        _cleanup_free_ Counts *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        int r = store_open(cli->run_path, false, &s);
        if (r >= 0)
                r = store_scan(s, TREE_WITH_STATUS | TREE_WITH_CONTAINERS, &t);
        if (r == -ENOMEM)
                return NULL;
        if (r >= 0)
                count_tree(&t, c);
        char error[128] = "";
        if (r == -ENOENT)
                snprintf(error, sizeof(error), "does not exist (kuke init creates it)");
        else if (r == -ELOOP)
                snprintf(error, sizeof(error), "is a symlink, which is never followed");
        else if (r < 0)
                snprintf(error, sizeof(error), "cannot be read: %s", strerror(-r));
        return json_pack("{s:s, s:o, s:I, s:o}", "runPath", cli->run_path, "error",
                         json_string_or_null(error[0] ? error : NULL), "total", (json_int_t)c->total,
                         "byKind", counts_to_json(c));
}

/* ---- output ---- */

static void print_field(const char *label, const char *fmt, ...) _printf_(2, 3);
static void print_field(const char *label, const char *fmt, ...)
{
        va_list ap;
        printf("%-13s", label);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
}

static void print_daemon(json_t *report)
{
        json_t *daemon = json_object_get(report, "daemon"), *file = json_object_get(report, "daemonStatus");
        json_int_t pid = json_integer_value(json_object_get(daemon, "pid"));
        if (jstr(daemon, "error"))
                print_field("kukeond:", "unknown (%s: %s)", jstr(daemon, "lockFile"), jstr(daemon, "error"));
        else if (json_is_true(json_object_get(daemon, "running")) && pid > 0)
                print_field("kukeond:", "running (pid %" JSON_INTEGER_FORMAT ")", pid);
        else if (json_is_true(json_object_get(daemon, "running")))
                print_field("kukeond:", "running");
        else
                print_field("kukeond:", "not running (nothing holds %s)", jstr(daemon, "lockFile"));

        const char *path = jstr(file, "file");
        json_int_t file_pid = json_integer_value(json_object_get(file, "pid"));
        if (!json_is_true(json_object_get(file, "present"))) {
                print_field("status file:", "%s: none", path);
                return;
        }
        if (jstr(file, "error"))
                print_field("status file:", "%s", jstr(file, "error")); /* it names the file */
        else if (!json_is_true(json_object_get(file, "current")))
                print_field("status file:",
                            "%s (stale: written by pid %" JSON_INTEGER_FORMAT
                            ", which does not hold the lock)",
                            path, file_pid);
        else
                print_field("status file:", "%s", path);
        if (!json_is_true(json_object_get(file, "current")))
                return;
        const char *version = jstr(file, "version"), *started = jstr(file, "startedAt");
        if (version)
                print_field("version:", "%s%s%s%s", version,
                            streq(version, KUKEON_VERSION) ? "" : " (kuke is ",
                            streq(version, KUKEON_VERSION) ? "" : KUKEON_VERSION,
                            streq(version, KUKEON_VERSION) ? "" : ")");
        int64_t t = 0;
        char age[16];
        if (started && time_parse_rfc3339(started, &t) == 0)
                print_field("started:", "%s (up %s)", started,
                            time_format_age(time_now(), t, age, sizeof(age)));
        if (jstr(file, "lastError"))
                print_field("last error:", "%s", jstr(file, "lastError"));
}

static void print_containerd(json_t *report)
{
        json_t *ctrd = json_object_get(report, "containerd"),
               *file = json_object_get(report, "daemonStatus");
        const char *sock = jstr(ctrd, "socket");
        char seen[PATH_MAX + 64] = "";
        if (json_is_true(json_object_get(file, "current")) &&
            json_is_boolean(jget(file, "containerd.connected")))
                snprintf(seen, sizeof(seen), "; kukeond: %s%s%s",
                         json_is_true(jget(file, "containerd.connected")) ? "connected" : "not connected",
                         jstr(file, "containerd.error") ? ": " : "",
                         strempty(jstr(file, "containerd.error")));
        if (json_is_true(json_object_get(ctrd, "reachable")))
                print_field("containerd:", "reachable at %s%s", sock, seen);
        else
                print_field("containerd:", "not reachable at %s: %s%s", sock, strempty(jstr(ctrd, "error")),
                            seen);
}

static int print_resources(json_t *report)
{
        static const char *const headers[] = {"KIND", "TOTAL", "STATES"};
        _cleanup_(table_done) Table tab = {0};
        json_t *res = json_object_get(report, "resources"), *file = json_object_get(report, "daemonStatus");
        const char *run_path = jstr(res, "runPath"), *daemon_run_path = jstr(file, "runPath");
        if (jstr(res, "error"))
                print_field("run path:", "%s %s", run_path, jstr(res, "error"));
        else if (json_is_true(json_object_get(file, "current")) && daemon_run_path &&
                 !streq(daemon_run_path, run_path))
                print_field("run path:", "%s (kukeond watches %s)", run_path, daemon_run_path);
        else
                print_field("run path:", "%s", run_path);
        int r = table_init(&tab, headers, ARRAY_SIZE(headers));
        for (int k = 0; r >= 0 && k < _KIND_MAX; k++) {
                json_t *kind = json_object_get(json_object_get(res, "byKind"), kind_to_noun((Kind)k));
                _cleanup_(buf_done) Buf states = BUF_INIT;
                char total[32];
                const char *name;
                json_t *n;
                json_object_foreach (json_object_get(kind, "byState"), name, n)
                        if ((r = buf_printf(&states, "%s%s %" JSON_INTEGER_FORMAT, states.len ? ", " : "",
                                            name, json_integer_value(n))) < 0)
                                break;
                snprintf(total, sizeof(total), "%" JSON_INTEGER_FORMAT,
                         json_integer_value(json_object_get(kind, "total")));
                if (r >= 0)
                        r = table_add_row(&tab,
                                          (const char *const[]){kind_plural((Kind)k), total, states.data});
        }
        if (r < 0)
                return log_error_errno(r, "cannot build the table: %m");
        printf("\n");
        table_print(&tab, stdout);
        return 0;
}

static int status_print(json_t *report, StatusFormat fmt)
{
        _cleanup_free_ char *text = NULL;
        switch (fmt) {
        case STATUS_YAML:
                text = yaml_from_json(report);
                break;
        case STATUS_JSON:
                text = json_dumps(report, JSON_INDENT(2));
                break;
        default:
                print_daemon(report);
                print_containerd(report);
                return print_resources(report);
        }
        if (!text)
                return log_error_errno(-ENOMEM, "out of memory");
        fputs(strncmp(text, "---\n", 4) == 0 ? text + 4 : text, stdout);
        if (fmt == STATUS_JSON)
                fputc('\n', stdout);
        return 0;
}

static int status_run(const Cli *cli, const char *containerd_socket, StatusFormat fmt)
{
        pid_t holder = 0;
        _cleanup_(json_decrefp_) json_t *report = json_object();
        json_t *daemon = probe_daemon(cli, &holder);
        bool running = json_is_true(json_object_get(daemon, "running"));
        if (!report || jset(report, "daemon", daemon) < 0 ||
            jset(report, "daemonStatus", read_daemon_file(cli, holder)) < 0 ||
            jset(report, "containerd", probe_containerd(containerd_socket)) < 0 ||
            jset(report, "resources", count_resources(cli)) < 0)
                return log_error_errno(-ENOMEM, "out of memory"), EXIT_FAIL;
        if (status_print(report, fmt) < 0)
                return EXIT_FAIL;
        return running ? EXIT_OK : EXIT_FAIL;
}

int verb_status(Cli *cli, int argc, char **argv)
{
        enum { ARG_SOCK = 0x200 };
        static const struct option options[] = {
                CLI_OPTIONS_GLOBAL,
                {"output", required_argument, NULL, 'o'},
                {"containerd-socket", required_argument, NULL, ARG_SOCK},
                {},
        };
        static const char *const formats[] = {"table", "yaml", "json"};
        const char *e = getenv("KUKEOND_CONTAINERD_SOCKET"); /* kukeond's own variable (daemon/config.c) */
        const char *socket_path = e && *e ? e : DEFAULT_CONTAINERD_SOCKET;
        StatusFormat fmt = STATUS_TABLE;
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":ho:", options, NULL)) >= 0) {
                if (option_common(cli, NULL, NULL, c, optarg) > 0)
                        continue;
                switch (c) {
                case 'h':
                        help();
                        return EXIT_OK;
                case 'o': {
                        size_t i = 0;
                        while (i < ARRAY_SIZE(formats) && !streq(formats[i], optarg))
                                i++;
                        if (i == ARRAY_SIZE(formats))
                                return log_usage("status", "-o takes table, yaml or json, not \"%s\"",
                                                 optarg);
                        fmt = (StatusFormat)i;
                        break;
                }
                case ARG_SOCK:
                        socket_path = optarg;
                        break;
                default:
                        return option_error("status", c, argv);
                }
        }
        if (optind < argc)
                return log_usage("status", "unexpected argument \"%s\"", argv[optind]);
        return status_run(cli, socket_path, fmt);
}
