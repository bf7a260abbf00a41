/* kuke init: the run path shared with a group, the default hierarchy and the system realm with the
 * kukeond cell. */
#include <fcntl.h>
#include <grp.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

#define SYSTEM_REALM "kukeon-system"
#define SYSTEM_SPACE "kukeon"
#define SYSTEM_STACK "kukeon"
#define SYSTEM_CELL  "kukeond"

#define DEFAULT_GROUP "kukeon"
#define RUN_PATH_MODE 02775 /* setgid: what members make there keeps the group */

static void help(void)
{
        printf("Usage: kuke init [--group NAME] [--wait[=true|false]] [--timeout DURATION]\n"
               "\n"
               "Writes the default hierarchy (realm, space and stack \"default\") and the system realm\n"
               "\"" SYSTEM_REALM "\" with the kukeond cell. Existing manifests are left alone.\n"
               "As root, also makes the run path root:GROUP, mode 2775: members of the group may apply.\n"
               "Whoever may write manifests controls the host (privileged containers, host paths).\n"
               "\n"
               "Options:\n"
               "      --group NAME       the group that may write manifests (default $KUKEON_GROUP or\n"
               "                         " DEFAULT_GROUP "; made as a system group when missing)\n"
               "      --wait[=BOOL]      wait until kukeond has settled each resource (default true)\n"
               "      --timeout DURATION how long to wait: 90s, 2m, 1h or seconds (default 2m)\n"
               "      --run-path PATH    run path (default $KUKEON_RUN_PATH or " KUKE_DEFAULT_RUN_PATH ")\n"
               "      --state-dir DIR    kukeond's state directory (default $KUKEON_STATE_DIR "
               "or " KUKE_DEFAULT_STATE_DIR ")\n");
}

/* The kukeond container: kukeond runs on the host under systemd and reports itself in this cell. */
static int system_cell_add_container(Document *d)
{
        static const char *const flags[] = {"root", "external", "hostNetwork"};
        CellSpec *cell = &d->spec.cell;
        if (!doc_field(d, "spec.containers"))
                return -EINVAL;
        cell->containers = calloc(1, sizeof(ContainerSpec));
        if (!cell->containers)
                return -ENOMEM;
        cell->n_containers = 1;
        ContainerSpec *c = &cell->containers[0];
        c->id = strdup(SYSTEM_CELL);
        if (!c->id || !field_path_mark(&container_spec_schema, c, "id"))
                return -ENOMEM;
        for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
                bool *b = field_path_mark(&container_spec_schema, c, flags[i]);
                if (!b)
                        return -EINVAL;
                *b = true;
        }
        return 0;
}

static int init_document(const ResourceId *id, Document **ret)
{
        _cleanup_document_ Document *d = NULL;
        int r = doc_new_default(id, &d);
        if (r < 0)
                return r;
        if (id->kind == KIND_REALM && streq(id->realm, SYSTEM_REALM))
                r = doc_set_string(d, "spec.namespace", SYSTEM_REALM);
        if (r >= 0 && id->kind == KIND_CELL) {
                r = doc_set_label(d, "kukeon.io/system", "true");
                if (r >= 0)
                        r = system_cell_add_container(d);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

/* Writes one item unless it exists. Returns 0 or -errno (printed). */
static int init_one(Store *s, const ResourceId *id, WaitList *wl)
{
        _cleanup_document_ Document *d = NULL;
        _cleanup_(diag_done) Diag diag = DIAG_INIT;
        char digest[72];
        if (writer_spec_exists(s, id)) {
                print_result(id, "already existed", NULL);
                return writer_wait_existing(s, id, wl);
        }
        int r = init_document(id, &d);
        if (r < 0)
                return log_error_errno(r, "cannot build the manifest: %m");
        if (document_validate(d, id, NULL, NULL, &diag) < 0) {
                log_diag(&diag);
                return -EINVAL;
        }
        r = writer_put_spec(s, id, d, digest);
        if (r < 0)
                return r;
        print_result(id, "created", NULL);
        r = wait_list_add(wl, id, digest, doc_run_state(d));
        return r < 0 ? log_error_errno(r, "out of memory") : 0;
}

/* The group's id, the group made with groupadd(8) when missing. -errno (printed). */
static int group_ensure(const char *name, gid_t *ret)
{
        struct group *g = getgrnam(name);
        if (!g) {
                char *argv[] = {(char *)"groupadd", (char *)"--system", (char *)name, NULL};
                pid_t pid;
                int status;
                int r = posix_spawnp(&pid, "groupadd", NULL, NULL, argv, environ);
                if (r != 0)
                        return log_error_errno(-r, "cannot run groupadd to make group %s: %m", name);
                while (waitpid(pid, &status, 0) < 0)
                        if (errno != EINTR)
                                return log_error_errno(-errno, "waiting for groupadd: %m");
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        return log_error_errno(-EIO, "groupadd --system %s failed", name);
                g = getgrnam(name);
                if (!g)
                        return log_error_errno(-ENOENT, "group %s is still missing after groupadd", name);
                printf("Group \"%s\": created\n", name);
        }
        *ret = g->gr_gid;
        return 0;
}

/* The run path itself: root:group, 2775. The directories made under it take their parent's mode and,
 * through the setgid bit, its group. */
static int run_path_share(const char *run_path, const char *group)
{
        gid_t gid = 0;
        int r = group_ensure(group, &gid);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open(run_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open the run path %s: %m", run_path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return log_error_errno(-errno, "cannot stat the run path %s: %m", run_path);
        if (st.st_uid == 0 && st.st_gid == gid && (st.st_mode & 07777) == RUN_PATH_MODE)
                return 0;
        if (fchown(fd, 0, gid) < 0 || fchmod(fd, RUN_PATH_MODE) < 0)
                return log_error_errno(-errno, "cannot share the run path %s with group %s: %m", run_path,
                                       group);
        printf("Run path %s: root:%s, mode 2775\n", run_path, group);
        return 0;
}

static int init_ids(ResourceId ids[static 7])
{
        int r = 0;
        r |= resource_id_make(&ids[0], KIND_REALM, NULL, NULL, NULL, NULL, "default");
        r |= resource_id_make(&ids[1], KIND_SPACE, "default", NULL, NULL, NULL, "default");
        r |= resource_id_make(&ids[2], KIND_STACK, "default", "default", NULL, NULL, "default");
        r |= resource_id_make(&ids[3], KIND_REALM, NULL, NULL, NULL, NULL, SYSTEM_REALM);
        r |= resource_id_make(&ids[4], KIND_SPACE, SYSTEM_REALM, NULL, NULL, NULL, SYSTEM_SPACE);
        r |= resource_id_make(&ids[5], KIND_STACK, SYSTEM_REALM, SYSTEM_SPACE, NULL, NULL, SYSTEM_STACK);
        r |= resource_id_make(&ids[6], KIND_CELL, SYSTEM_REALM, SYSTEM_SPACE, SYSTEM_STACK, NULL,
                              SYSTEM_CELL);
        return r < 0 ? -EINVAL : 0;
}

int verb_init(Cli *cli, int argc, char **argv)
{
        static const struct option options[] = {
                CLI_OPTIONS_GLOBAL, CLI_OPTIONS_WRITE, {"group", required_argument, NULL, ARG_GROUP}, {}};
        WriteOpts w = WRITE_OPTS_INIT;
        const char *group = getenv("KUKEON_GROUP");
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                int r = option_common(cli, &w, NULL, c, optarg);
                if (r < 0)
                        return EXIT_USAGE;
                if (r > 0)
                        continue;
                if (c == 'h') {
                        help();
                        return EXIT_OK;
                }
                if (c == ARG_GROUP) {
                        group = optarg;
                        continue;
                }
                return option_error("init", c, argv);
        }
        if (optind < argc)
                return log_usage("init", "unexpected argument \"%s\"", argv[optind]);

        ResourceId ids[7];
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(wait_list_done) WaitList wl = {0};
        bool failed = false;
        if (!group || !*group)
                group = DEFAULT_GROUP;
        if (init_ids(ids) < 0 || writer_open_store(cli, &s) < 0)
                return EXIT_FAIL;
        if (geteuid() == 0 && run_path_share(cli->run_path, group) < 0)
                return EXIT_FAIL;
        for (size_t i = 0; i < ARRAY_SIZE(ids); i++)
                if (init_one(s, &ids[i], &wl) < 0)
                        failed = true;
        int ex = wait_settle(cli, s, &w, &wl);
        return failed ? EXIT_FAIL : ex;
}
