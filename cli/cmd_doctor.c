/* kuke doctor: checks the host prerequisites kukeond needs, each failed check with its remedy. It only
 * looks: nothing is created or changed. */
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>

#include "common/pidlock.h"
#include "cli/cli.h"

#define CNI_PLUGINS_NEEDED "bridge", "host-local", "portmap", "loopback"

typedef struct DoctorOpts {
        const char *containerd_socket;
        const char *cni_bin_dir;
        const char *netns_dir;
        const char *cgroup_fs;
} DoctorOpts;

typedef enum Verdict {
        CHECK_OK,
        CHECK_WARN,
        CHECK_FAIL,
} Verdict;

typedef struct Report {
        unsigned n_fail, n_warn;
} Report;

static void report(Report *rep, Verdict v, const char *remedy, const char *fmt, ...) _printf_(4, 5);
static void report(Report *rep, Verdict v, const char *remedy, const char *fmt, ...)
{
        static const char *const labels[] = {"OK", "WARN", "FAIL"};
        va_list ap;
        printf("%-5s ", labels[v]);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        if (v != CHECK_OK && remedy)
                printf("      -> %s\n", remedy);
        rep->n_fail += v == CHECK_FAIL;
        rep->n_warn += v == CHECK_WARN;
}

static const char *env_or(const char *name, const char *def)
{
        const char *e = getenv(name);
        return e && *e ? e : def;
}

static void check_run_path(const Cli *cli, Report *rep)
{
        struct stat st;
        if (lstat(cli->run_path, &st) < 0)
                report(rep, CHECK_WARN, "kuke init (creates it with the default hierarchy)",
                       "run path %s does not exist", cli->run_path);
        else if (S_ISLNK(st.st_mode))
                report(rep, CHECK_FAIL, "use the real directory as --run-path: symlinks are never followed",
                       "run path %s is a symlink", cli->run_path);
        else if (!S_ISDIR(st.st_mode))
                report(rep, CHECK_FAIL, "remove it or choose another --run-path",
                       "run path %s is not a directory", cli->run_path);
        else if (access(cli->run_path, W_OK) < 0)
                report(rep, CHECK_WARN, "run kuke as root or as a member of the group that owns it",
                       "run path %s is not writable by this user", cli->run_path);
        else
                report(rep, CHECK_OK, NULL, "run path %s", cli->run_path);
}

static void check_daemon(const Cli *cli, Report *rep)
{
        pid_t pid = 0;
        int r = pidlock_test(cli->state_dir, &pid);
        if (r > 0)
                report(rep, CHECK_OK, NULL, "kukeond is running (pid %d)", (int)pid);
        else if (r == 0)
                report(rep, CHECK_WARN, "systemctl start kukeond, or kukeond --run-path <run-path>",
                       "kukeond is not running (nothing holds %s/kukeond.pid)", cli->state_dir);
        else
                report(rep, CHECK_FAIL, "check the permissions of the state dir", "%s/kukeond.pid: %s",
                       cli->state_dir, strerror(-r));
}

static void check_containerd(const DoctorOpts *o, Report *rep)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(o->containerd_socket) >= sizeof(sa.sun_path)) {
                report(rep, CHECK_FAIL, "use a shorter --containerd-socket path",
                       "containerd socket %s: path too long", o->containerd_socket);
                return;
        }
        strcpy(sa.sun_path, o->containerd_socket);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                report(rep, CHECK_FAIL, "apt-get install containerd runc; systemctl start containerd",
                       "containerd socket %s: %m", o->containerd_socket);
        else
                report(rep, CHECK_OK, NULL, "containerd answers on %s", o->containerd_socket);
}

/* Which of want[] the space-separated list in the file at path lacks, into missing. */
static bool controllers_have(const char *path, const char *const *want, size_t n, char *missing, size_t size)
{
        char line[512] = " ";
        FILE *f = fopen(path, "re");
        if (f) {
                if (!fgets(line + 1, sizeof(line) - 2, f))
                        line[1] = '\0';
                fclose(f);
        }
        line[strcspn(line, "\n")] = '\0';
        strcat(line, " ");
        missing[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                char word[32];
                snprintf(word, sizeof(word), " %s ", want[i]);
                if (!strstr(line, word))
                        snprintf(missing + strlen(missing), size - strlen(missing), "%s%s",
                                 *missing ? " " : "", want[i]);
        }
        return missing[0] == '\0';
}

static void check_cgroups(const DoctorOpts *o, Report *rep)
{
        static const char *const want[] = {"cpu", "memory", "io", "pids"};
        struct statfs fs;
        char path[512], missing[64];
        if (statfs(o->cgroup_fs, &fs) < 0) {
                report(rep, CHECK_FAIL, "mount the cgroup filesystem", "cgroups at %s: %m", o->cgroup_fs);
                return;
        }
        if (fs.f_type == CGROUP2_SUPER_MAGIC) {
                snprintf(path, sizeof(path), "%s/cgroup.controllers", o->cgroup_fs);
                if (controllers_have(path, want, ARRAY_SIZE(want), missing, sizeof(missing)))
                        report(rep, CHECK_OK, NULL, "cgroups: unified v2 with cpu memory io pids");
                else
                        report(rep, CHECK_WARN, "enable the controllers on the host (systemd: Delegate=)",
                               "cgroups: unified v2 without %s: those limits cannot be set", missing);
                return;
        }
        snprintf(path, sizeof(path), "%s/unified", o->cgroup_fs);
        struct statfs ufs;
        if (fs.f_type == TMPFS_MAGIC && statfs(path, &ufs) == 0 && ufs.f_type == CGROUP2_SUPER_MAGIC)
                report(rep, CHECK_OK, NULL, "cgroups: hybrid (v1 controllers, cgroup2 at %s)", path);
        else if (fs.f_type == TMPFS_MAGIC)
                report(rep, CHECK_OK, NULL, "cgroups: legacy v1");
        else
                report(rep, CHECK_FAIL, "mount cgroup2 or the v1 hierarchies at /sys/fs/cgroup",
                       "cgroups: %s is not a cgroup filesystem", o->cgroup_fs);
}

/* Looks for an executable plugin in a colon-separated directory list. */
static bool find_in_dirs(const char *dirs, const char *name)
{
        _cleanup_free_ char *copy = strdup(dirs);
        char *save = NULL;
        for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s/%s", d, name);
                if (access(path, X_OK) == 0)
                        return true;
        }
        return false;
}

static void check_tools(const DoctorOpts *o, Report *rep)
{
        static const char *const plugins[] = {CNI_PLUGINS_NEEDED};
        char missing[128] = "";
        for (size_t i = 0; i < ARRAY_SIZE(plugins); i++)
                if (!find_in_dirs(o->cni_bin_dir, plugins[i]))
                        snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), "%s%s",
                                 *missing ? " " : "", plugins[i]);
        if (*missing)
                report(rep, CHECK_FAIL,
                       "apt-get install containernetworking-plugins, or point --cni-bin-dir at them",
                       "CNI plugins missing from %s: %s", o->cni_bin_dir, missing);
        else
                report(rep, CHECK_OK, NULL, "CNI plugins bridge, host-local, portmap, loopback in %s",
                       o->cni_bin_dir);

        const char *path = env_or("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        static const struct {
                const char *bin, *remedy;
        } tools[] = {
                {"runc", "apt-get install runc"},
                {"iptables", "apt-get install iptables (space isolation rules)"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(tools); i++) {
                if (find_in_dirs(path, tools[i].bin) || find_in_dirs("/usr/sbin:/sbin", tools[i].bin))
                        report(rep, CHECK_OK, NULL, "%s found", tools[i].bin);
                else
                        report(rep, CHECK_FAIL, tools[i].remedy, "%s not found", tools[i].bin);
        }
}

static void check_netns_dir(const DoctorOpts *o, Report *rep)
{
        struct stat st;
        if (stat(o->netns_dir, &st) == 0 && S_ISDIR(st.st_mode))
                report(rep, CHECK_OK, NULL, "netns dir %s", o->netns_dir);
        else if (stat(o->netns_dir, &st) < 0 && errno == ENOENT)
                report(rep, CHECK_OK, NULL, "netns dir %s (kukeond creates it)", o->netns_dir);
        else
                report(rep, CHECK_FAIL, "remove it or choose another --netns-dir",
                       "netns dir %s is not a directory", o->netns_dir);
}

static void help(void)
{
        printf("Usage: kuke doctor [--containerd-socket PATH] [--cni-bin-dir DIRS] [--netns-dir DIR]\n"
               "                   [--cgroup-fs DIR]\n"
               "\n"
               "Checks what kukeond needs on this host: the run path, kukeond itself, containerd, the "
               "cgroup\n"
               "mode, the CNI plugins, runc, iptables and the netns directory. Each failed check comes "
               "with\n"
               "its remedy. Exit code 1 when a check fails (warnings do not count).\n"
               "Defaults follow kukeond's (env KUKEOND_CONTAINERD_SOCKET, KUKEOND_CNI_BIN_DIR,\n"
               "KUKEOND_NETNS_DIR).\n");
}

int verb_doctor(Cli *cli, int argc, char **argv)
{
        enum { ARG_SOCK = 0x200, ARG_CNI, ARG_NETNS, ARG_CGFS };
        static const struct option options[] = {
                CLI_OPTIONS_GLOBAL,
                {"containerd-socket", required_argument, NULL, ARG_SOCK},
                {"cni-bin-dir", required_argument, NULL, ARG_CNI},
                {"netns-dir", required_argument, NULL, ARG_NETNS},
                {"cgroup-fs", required_argument, NULL, ARG_CGFS},
                {},
        };
        DoctorOpts o = {
                .containerd_socket = env_or("KUKEOND_CONTAINERD_SOCKET", "/run/containerd/containerd.sock"),
                .cni_bin_dir = env_or("KUKEOND_CNI_BIN_DIR", "/opt/cni/bin:/usr/lib/cni"),
                .netns_dir = env_or("KUKEOND_NETNS_DIR", "/run/netns"),
                .cgroup_fs = "/sys/fs/cgroup",
        };
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                if (option_common(cli, NULL, NULL, c, optarg) > 0)
                        continue;
                switch (c) {
                case 'h':
                        help();
                        return EXIT_OK;
                case ARG_SOCK:
                        o.containerd_socket = optarg;
                        break;
                case ARG_CNI:
                        o.cni_bin_dir = optarg;
                        break;
                case ARG_NETNS:
                        o.netns_dir = optarg;
                        break;
                case ARG_CGFS:
                        o.cgroup_fs = optarg;
                        break;
                default:
                        return option_error("doctor", c, argv);
                }
        }
        if (optind < argc)
                return log_usage("doctor", "unexpected argument \"%s\"", argv[optind]);

        Report rep = {0};
        check_run_path(cli, &rep);
        check_daemon(cli, &rep);
        check_containerd(&o, &rep);
        check_cgroups(&o, &rep);
        check_tools(&o, &rep);
        check_netns_dir(&o, &rep);
        printf("%s: %u failed, %u warnings\n", rep.n_fail ? "FAIL" : "OK", rep.n_fail, rep.n_warn);
        return rep.n_fail ? EXIT_FAIL : EXIT_OK;
}
