/* kuke create realm|space|stack|cell NAME: a new manifest from flags, below an existing parent. */
#include <stdio.h>

#include "cli/cli.h"

typedef struct CreateOpts {
        Scope scope;
        const char *namespace;
        const char *subnet;
        const char *image;
        const char *container;
        const char *command;
        StrList args;
        StrList env;
} CreateOpts;

static void create_opts_done(CreateOpts *o)
{
        strlist_done(&o->args);
        strlist_done(&o->env);
}

static void help(void)
{
        printf("Usage: kuke create realm|space|stack|cell NAME [options]\n"
               "\n"
               "Writes a new manifest. The parent must exist; an existing resource is refused (use kuke "
               "apply\n"
               "to change it).\n"
               "\n"
               "Options:\n"
               "      --realm NAME       realm of a space, stack or cell (default \"default\")\n"
               "      --space NAME       space of a stack or cell (default \"default\")\n"
               "      --stack NAME       stack of a cell (default \"default\")\n"
               "      --namespace NS     realm: containerd namespace (default kukeon-NAME)\n"
               "      --subnet CIDR      space: IPv4 subnet (default: allocated by kukeond)\n"
               "      --image IMG        cell: image of the container (required)\n"
               "      --container ID     cell: container id (default \"main\")\n"
               "      --command CMD      cell: the container's command\n"
               "      --args ARG         cell: an argument (repeatable)\n"
               "      --env K=V          cell: an environment variable (repeatable)\n"
               "      --wait[=BOOL]      wait until kukeond has settled it (default true)\n"
               "      --timeout DURATION how long to wait: 90s, 2m, 1h or seconds (default 2m)\n"
               "      --run-path PATH    run path (default $KUKEON_RUN_PATH or " KUKE_DEFAULT_RUN_PATH ")\n"
               "      --state-dir DIR    kukeond's state directory (default $KUKEON_STATE_DIR "
               "or " KUKE_DEFAULT_STATE_DIR ")\n");
}

/* Checks that flags fit the kind. Returns 0 or EXIT_USAGE (printed). */
static int create_opts_check(const CreateOpts *o, Kind kind)
{
        if (o->namespace && kind != KIND_REALM)
                return log_usage("create", "--namespace applies to realms only");
        if (o->subnet && kind != KIND_SPACE)
                return log_usage("create", "--subnet applies to spaces only");
        if ((o->image || o->container || o->command || o->args.n || o->env.n) && kind != KIND_CELL)
                return log_usage("create",
                                 "--image, --container, --command, --args and --env apply to cells only");
        if (kind == KIND_CELL && !o->image)
                return log_usage("create", "kuke create cell needs --image");
        if (o->scope.space && kind == KIND_REALM)
                return log_usage("create", "--realm, --space and --stack do not apply to realms");
        if (o->scope.stack && kind != KIND_CELL)
                return log_usage("create", "--stack applies to cells only");
        if (o->scope.space && kind == KIND_SPACE)
                return log_usage("create", "--space does not apply to spaces");
        return 0;
}

/* Checks the parents top-down and prints the first that is missing. */
static int create_check_parents(Store *s, const ResourceId *id)
{
        ResourceId p;
        int depth = kind_depth(id->kind);
        if (depth >= 1 && (resource_id_make(&p, KIND_REALM, NULL, NULL, NULL, NULL, id->realm) < 0 ||
                           !writer_spec_exists(s, &p))) {
                log_error("realm \"%s\" not found", id->realm);
                return -ENOENT;
        }
        if (depth >= 2 && (resource_id_make(&p, KIND_SPACE, id->realm, NULL, NULL, NULL, id->space) < 0 ||
                           !writer_spec_exists(s, &p))) {
                log_error("space \"%s\" not found in realm \"%s\"", id->space, id->realm);
                return -ENOENT;
        }
        if (depth >= 3 &&
            (resource_id_make(&p, KIND_STACK, id->realm, id->space, NULL, NULL, id->stack) < 0 ||
             !writer_spec_exists(s, &p))) {
                log_error("stack \"%s\" not found in space \"%s/%s\"", id->stack, id->realm, id->space);
                return -ENOENT;
        }
        return 0;
}

static int create_cell_container(Document *d, CreateOpts *o)
{
        CellSpec *cell = &d->spec.cell;
        if (!doc_field(d, "spec.containers"))
                return -EINVAL;
        cell->containers = calloc(1, sizeof(ContainerSpec));
        if (!cell->containers)
                return -ENOMEM;
        cell->n_containers = 1;
        ContainerSpec *c = &cell->containers[0];
        const char *strings[][2] = {
                {"id", o->container ? o->container : "main"}, {"image", o->image}, {"command", o->command}};
        for (size_t i = 0; i < ARRAY_SIZE(strings); i++) {
                if (!strings[i][1])
                        continue;
                char **slot = field_path_mark(&container_spec_schema, c, strings[i][0]);
                if (!slot || !(*slot = strdup(strings[i][1])))
                        return -ENOMEM;
        }
        if (o->args.n > 0) {
                c->args = o->args;
                o->args = (StrList){0};
                field_path_mark(&container_spec_schema, c, "args");
        }
        if (o->env.n > 0) {
                c->env = o->env;
                o->env = (StrList){0};
                field_path_mark(&container_spec_schema, c, "env");
        }
        return 0;
}

static int create_document(const ResourceId *id, CreateOpts *o, Document **ret)
{
        _cleanup_document_ Document *d = NULL;
        int r = doc_new_default(id, &d);
        if (r >= 0 && o->namespace)
                r = doc_set_string(d, "spec.namespace", o->namespace);
        if (r >= 0 && o->subnet)
                r = doc_set_string(d, "spec.network.subnet", o->subnet);
        if (r >= 0 && id->kind == KIND_CELL)
                r = create_cell_container(d, o);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

static int create_run(Cli *cli, const WriteOpts *w, Kind kind, const char *name, CreateOpts *o)
{
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(wait_list_done) WaitList wl = {0};
        _cleanup_document_ Document *d = NULL;
        _cleanup_(diag_done) Diag diag = DIAG_INIT;
        ResourceId id;
        char q[QNAME_MAX], digest[72];
        const char *realm = o->scope.realm ? o->scope.realm : "default";
        const char *space = o->scope.space ? o->scope.space : "default";
        const char *stack = o->scope.stack ? o->scope.stack : "default";

        if (writer_open_store(cli, &s) < 0)
                return EXIT_FAIL;
        if (!name_is_valid(name) || name_is_reserved(name)) {
                log_error("invalid %s name \"%s\": names are DNS-1123 labels (lowercase letters, digits and "
                          "'-', "
                          "starting and ending alphanumeric, at most 63 bytes), not run, containers, logs "
                          "or images",
                          kind_to_noun(kind), name);
                return EXIT_FAIL;
        }
        if (resource_id_make(&id, kind, realm, space, stack, NULL, name) < 0) {
                ResourceId probe = {.kind = kind};
                snprintf(probe.realm, sizeof(probe.realm), "%s", realm);
                snprintf(probe.space, sizeof(probe.space), "%s", space);
                snprintf(probe.stack, sizeof(probe.stack), "%s", stack);
                (void)create_check_parents(s, &probe); /* a bad scope name is a parent that is not there */
                return EXIT_FAIL;
        }
        if (create_check_parents(s, &id) < 0)
                return EXIT_FAIL;
        if (writer_spec_exists(s, &id)) {
                log_error("%s \"%s\" already exists (use kuke apply to change it)", kind_to_string(kind),
                          resource_id_qualified(&id, q));
                return EXIT_FAIL;
        }
        int r = create_document(&id, o, &d);
        if (r < 0)
                return log_error_errno(r, "cannot build the manifest: %m"), EXIT_FAIL;
        if (document_validate(d, &id, NULL, NULL, &diag) < 0)
                return log_diag(&diag), EXIT_FAIL;
        if (writer_put_spec(s, &id, d, digest) < 0)
                return EXIT_FAIL;
        print_result(&id, "created", NULL);
        if (wait_list_add(&wl, &id, digest, doc_run_state(d)) < 0)
                return log_error_errno(-ENOMEM, "out of memory"), EXIT_FAIL;
        return wait_settle(cli, s, w, &wl);
}

static int create_option(CreateOpts *o, int c, const char *arg)
{
        switch (c) {
        case ARG_NAMESPACE:
                o->namespace = arg;
                return 1;
        case ARG_SUBNET:
                o->subnet = arg;
                return 1;
        case ARG_IMAGE:
                o->image = arg;
                return 1;
        case ARG_CONTAINER:
                o->container = arg;
                return 1;
        case ARG_COMMAND:
                o->command = arg;
                return 1;
        case ARG_ARGS:
                return strlist_push(&o->args, arg) < 0 ? -ENOMEM : 1;
        case ARG_ENV:
                return strlist_push(&o->env, arg) < 0 ? -ENOMEM : 1;
        default:
                return 0;
        }
}

int verb_create(Cli *cli, int argc, char **argv)
{
        static const struct option options[] = {
                CLI_OPTIONS_GLOBAL,
                CLI_OPTIONS_WRITE,
                CLI_OPTIONS_SCOPE,
                {"namespace", required_argument, NULL, ARG_NAMESPACE},
                {"subnet", required_argument, NULL, ARG_SUBNET},
                {"image", required_argument, NULL, ARG_IMAGE},
                {"container", required_argument, NULL, ARG_CONTAINER},
                {"command", required_argument, NULL, ARG_COMMAND},
                {"args", required_argument, NULL, ARG_ARGS},
                {"env", required_argument, NULL, ARG_ENV},
                {},
        };
        _cleanup_(create_opts_done) CreateOpts o = {0};
        WriteOpts w = WRITE_OPTS_INIT;
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                int r = option_common(cli, &w, &o.scope, c, optarg);
                if (r == 0)
                        r = create_option(&o, c, optarg);
                if (r < 0)
                        return r == -ENOMEM ? EXIT_FAIL : EXIT_USAGE;
                if (r > 0)
                        continue;
                if (c == 'h') {
                        help();
                        return EXIT_OK;
                }
                return option_error("create", c, argv);
        }
        if (argc - optind != 2)
                return log_usage("create", "expected KIND and NAME");
        Kind kind = kind_from_noun(argv[optind]);
        if (kind != KIND_REALM && kind != KIND_SPACE && kind != KIND_STACK && kind != KIND_CELL)
                return log_usage("create", "kuke create takes realm, space, stack or cell, not \"%s\"",
                                 argv[optind]);
        int r = create_opts_check(&o, kind);
        if (r != 0)
                return r;
        return create_run(cli, &w, kind, argv[optind + 1], &o);
}
