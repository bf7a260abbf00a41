/* The CNI driver against the real plugins (bridge, host-local, portmap), real network namespaces and a
 * real bridge. Root only; exits 77 (skipped) when a prerequisite is missing.
 *
 * One test-only space: realm kt<pid>, space net, a 10.233.<n>.0/24 subnet no host route overlaps, and
 * every path (conf dir, run-path copy, IPAM dataDir, netns dir) under a temp dir. Two cells are pinned and
 * attached and must reach each other; DEL then ADD must be clean; plugins that are missing, hang, fail
 * or print garbage must give clear errors; the teardown must leave nothing (namespaces unmounted and
 * removed, bridge deleted, IPAM files and conflists gone, no masquerade rules). The group teardown
 * cleans up whatever an assertion left behind. The only traffic is between the two namespaces and the
 * bridge. */
#include <arpa/inet.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "tests/unit/cni/cni-test-util.h"

#define N_CELLS 2

typedef struct World {
        char tmp[64];
        char conf_dir[128];
        char netns_dir[128];
        char ipam_dir[128];
        char copy[192];
        char fake_bin[128];
        char realm[16];
        char network[CNI_NETWORK_NAME_MAX];
        char bridge[CNI_BRIDGE_NAME_MAX];
        char subnet[CNI_SUBNET_MAX];
        char gateway[CNI_IP_MAX];
        char ns_name[N_CELLS + 1][256];
        char ns_path[N_CELLS + 1][512];
        char ip[N_CELLS][CNI_IP_MAX];
        json_t *result[N_CELLS];
        json_t *list;
        CniRuntime rt;
        char plugin_path[512];
        int ip_forward; /* to restore: the bridge plugin turns forwarding on */
} World;

static int run(const char *fmt, ...) _printf_(1, 2);
static int run(const char *fmt, ...)
{
        char cmd[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        char quiet[2200];
        snprintf(quiet, sizeof(quiet), "{ %s; } >/dev/null 2>&1", cmd);
        int st = system(quiet);
        return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int read_ip_forward(void)
{
        FILE *f = fopen("/proc/sys/net/ipv4/ip_forward", "re");
        int v = -1;
        if (f) {
                if (fscanf(f, "%d", &v) != 1)
                        v = -1;
                fclose(f);
        }
        return v;
}

/* Whether a host route overlaps c (the subnet must be ours alone). */
static bool host_route_overlaps(const Ipv4Cidr *c)
{
        FILE *f = fopen("/proc/net/route", "re");
        if (!f)
                return true;
        char line[512];
        bool overlap = false;
        if (!fgets(line, sizeof(line), f)) /* header */
                line[0] = '\0';
        while (!overlap && fgets(line, sizeof(line), f)) {
                unsigned dest, gw, flags, refcnt, use, metric, mask;
                char ifname[64];
                if (sscanf(line, "%63s %x %x %x %u %u %u %x", ifname, &dest, &gw, &flags, &refcnt, &use,
                           &metric, &mask) != 8 ||
                    mask == 0)
                        continue;
                Ipv4Cidr r = {.addr = ntohl(dest), .prefix = (unsigned)__builtin_popcount(mask)};
                overlap = ipv4_cidr_overlap(c, &r);
        }
        fclose(f);
        return overlap;
}

/* ---- setup and teardown ---- */

static void world_paths(World *w)
{
        snprintf(w->conf_dir, sizeof(w->conf_dir), "%s/net.d", w->tmp);
        snprintf(w->netns_dir, sizeof(w->netns_dir), "%s/netns", w->tmp);
        snprintf(w->ipam_dir, sizeof(w->ipam_dir), "%s/ipam", w->tmp);
        snprintf(w->fake_bin, sizeof(w->fake_bin), "%s/fake-bin", w->tmp);
        snprintf(w->realm, sizeof(w->realm), "kt%d", (int)getpid());
        snprintf(w->copy, sizeof(w->copy), "%s/run/%s/net/" CNI_CONFLIST_COPY_NAME, w->tmp, w->realm);
        assert_int_equal(cni_network_name(w->realm, "net", w->network, sizeof(w->network)), 0);
        for (int i = 0; i <= N_CELLS; i++) {
                ResourceId cell = {.kind = KIND_CELL};
                snprintf(cell.realm, sizeof(cell.realm), "%s", w->realm);
                snprintf(cell.space, sizeof(cell.space), "net");
                snprintf(cell.stack, sizeof(cell.stack), "st");
                snprintf(cell.cell, sizeof(cell.cell), "%c", 'a' + i);
                assert_int_equal(cell_netns_name(&cell, w->ns_name[i], sizeof(w->ns_name[i])), 0);
                assert_int_equal(
                        cni_netns_path(w->netns_dir, w->ns_name[i], w->ns_path[i], sizeof(w->ns_path[i])),
                        0);
        }
}

static int world_setup(void **state)
{
        World *w = calloc(1, sizeof(World));
        if (!w)
                return -1;
        snprintf(w->tmp, sizeof(w->tmp), "/tmp/kuke-cni-XXXXXX");
        if (!mkdtemp(w->tmp))
                return -1;
        *state = w;
        world_paths(w);
        /* the space's run-path directory, where the conflist's copy goes */
        char space_yaml[200];
        snprintf(space_yaml, sizeof(space_yaml), "run/%s/net/space.yaml", w->realm);
        write_text(w->tmp, space_yaml, "kind: Space\n");
        assert_int_equal(mkdir(w->fake_bin, 0755), 0);

        const char *env_path = getenv("KUKE_CNI_PATH");
        snprintf(w->plugin_path, sizeof(w->plugin_path), "%s",
                 env_path ? env_path : CNI_DEFAULT_PLUGIN_PATH);
        w->rt = (CniRuntime){.plugin_path = w->plugin_path, .timeout_ms = 30000};
        w->ip_forward = read_ip_forward();
        return 0;
}

/* Best effort, whatever state a failed assertion left: DEL (drops the masquerade rules), unpin, the
 * bridge, IPAM state, conflists, the netns dir's own mount, the temp dir. */
static int world_teardown(void **state)
{
        World *w = *state;
        if (w->list) {
                for (int i = 0; i <= N_CELLS; i++) {
                        CniAttachment att = {.container_id = w->ns_name[i], .netns_path = w->ns_path[i]};
                        OpResult o = op_run(OP_DEL, &w->rt, w->list, &att, NULL);
                        (void)o;
                }
        }
        for (int i = 0; i <= N_CELLS; i++)
                (void)cni_netns_delete(w->netns_dir, w->ns_name[i]);
        if (w->bridge[0])
                (void)run("ip link del %s", w->bridge);
        (void)cni_ipam_remove(w->ipam_dir, w->network);
        (void)cni_conflist_remove(w->conf_dir, w->network, w->copy);
        (void)umount2(w->netns_dir, MNT_DETACH);
        for (int i = 0; i < N_CELLS; i++)
                json_decref(w->result[i]);
        json_decref(w->list);
        int r = rm_rf(w->tmp);
        if (w->ip_forward == 0 && read_ip_forward() == 1) {
                FILE *f = fopen("/proc/sys/net/ipv4/ip_forward", "we");
                if (f) {
                        fputs("0\n", f);
                        fclose(f);
                }
        }
        free(w);
        return r;
}

/* ---- the space ---- */

static void test_space_network(void **state)
{
        World *w = *state;
        /* a /24 of 10.233.0.0/16 that no host route touches */
        Ipv4Cidr c = {.prefix = 24};
        unsigned start = (unsigned)getpid() % 250;
        for (unsigned k = 0; k < 250; k++) {
                c.addr = (10u << 24) | (233u << 16) | (((start + k) % 250 + 1) << 8);
                if (!host_route_overlaps(&c))
                        break;
        }
        char requested[CNI_SUBNET_MAX];
        ipv4_cidr_format(&c, requested);
        CniSpaceRecord others[] = {{"other", "space", "10.88.0.0/24", "kuke-other"}};
        char *error = NULL;
        assert_int_equal(cni_subnet_allocate(NULL, w->realm, "net", requested, others, 1, w->subnet, &error),
                         0);
        assert_string_equal(w->subnet, requested);
        assert_int_equal(cni_subnet_gateway(w->subnet, w->gateway), 0);
        assert_int_equal(cni_bridge_name(w->realm, "net", others, 1, w->bridge), 0);
        /* nothing of that name yet: we must not take over someone's bridge */
        assert_int_not_equal(run("ip link show %s", w->bridge), 0);

        CniNetworkConfig cfg = {.realm = w->realm,
                                .space = "net",
                                .bridge = w->bridge,
                                .subnet = w->subnet,
                                .ipam_data_dir = w->ipam_dir};
        assert_int_equal(cni_conflist_build(&cfg, &w->list), 0);
        assert_int_equal(cni_conflist_write(w->conf_dir, w->list, w->copy), 1);
        char path[512];
        snprintf(path, sizeof(path), "%s/%s.conflist", w->conf_dir, w->network);
        assert_int_equal(access(path, R_OK), 0);
        assert_int_equal(access(w->copy, R_OK), 0);

        /* every plugin of the list speaks the list's version */
        OpResult o = op_run(OP_VERSION, &w->rt, w->list, NULL, NULL);
        if (o.r < 0)
                fail_msg("VERSION: %s", o.message);
}

/* ---- pinning ---- */

static void on_pinned(int r, void *userdata)
{
        *(int *)userdata = r;
}

static void test_pin_cells(void **state)
{
        World *w = *state;
        assert_int_equal(cni_netns_create(w->netns_dir, w->ns_name[0]), 1);
        assert_int_equal(cni_netns_create(w->netns_dir, w->ns_name[0]), 0);

        uv_loop_t loop;
        assert_int_equal(uv_loop_init(&loop), 0);
        int r = 100;
        assert_int_equal(cni_netns_create_async(&loop, w->netns_dir, w->ns_name[1], on_pinned, &r), 0);
        assert_int_equal(r, 100);
        loop_drain_and_close(&loop);
        assert_int_equal(r, 1);

        for (int i = 0; i < N_CELLS; i++) {
                assert_int_equal(cni_netns_check(w->netns_dir, w->ns_name[i]), 1);
                /* lo is up from the start */
                assert_int_equal(run("nsenter --net=%s ping -c1 -W1 127.0.0.1", w->ns_path[i]), 0);
        }
        char **names = NULL;
        size_t n = 0;
        assert_int_equal(cni_netns_list(w->netns_dir, &names, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(names[0], w->ns_name[0]);
        assert_string_equal(names[1], w->ns_name[1]);
        cni_strv_free(names);
        /* the namespaces differ from ours and from each other */
        struct stat a, b, self;
        assert_int_equal(stat(w->ns_path[0], &a), 0);
        assert_int_equal(stat(w->ns_path[1], &b), 0);
        assert_int_equal(stat("/proc/self/ns/net", &self), 0);
        assert_true(a.st_ino != b.st_ino && a.st_ino != self.st_ino);
}

/* ---- attachments ---- */

static bool ip_in_subnet(const char *ip, const char *subnet)
{
        char cidr[40];
        snprintf(cidr, sizeof(cidr), "%s/32", ip);
        Ipv4Cidr a, s;
        return ipv4_cidr_parse(cidr, &a) == 0 && ipv4_cidr_parse(subnet, &s) == 0 &&
               ipv4_cidr_overlap(&a, &s);
}

static void assert_attached(World *w, int i, const OpResult *o)
{
        if (o->r < 0)
                fail_msg("ADD %s: %s", w->ns_name[i], o->message);
        assert_true(ip_in_subnet(o->ip, w->subnet));
        assert_string_not_equal(o->ip, w->gateway);
        assert_string_equal(o->gateway, w->gateway);
        assert_int_equal(o->prefix, 24);
        snprintf(w->ip[i], sizeof(w->ip[i]), "%s", o->ip);
        json_decref(w->result[i]);
        w->result[i] = json_incref(o->json);
}

static void test_add_two_cells_reach_each_other(void **state)
{
        World *w = *state;
        uv_loop_t loop;
        assert_int_equal(uv_loop_init(&loop), 0);
        OpResult o[N_CELLS] = {0};
        for (int i = 0; i < N_CELLS; i++) {
                CniAttachment att = {.container_id = w->ns_name[i], .netns_path = w->ns_path[i]};
                assert_int_equal(cni_exec_add(&loop, &w->rt, w->list, &att, on_op_result, &o[i], NULL), 0);
        }
        loop_drain_and_close(&loop);
        for (int i = 0; i < N_CELLS; i++) {
                assert_attached(w, i, &o[i]);
                op_result_done(&o[i]);
        }
        assert_string_not_equal(w->ip[0], w->ip[1]);
        assert_int_equal(run("ip link show %s", w->bridge), 0);

        assert_int_equal(run("nsenter --net=%s ping -c1 -W1 %s", w->ns_path[0], w->ip[1]), 0);
        assert_int_equal(run("nsenter --net=%s ping -c1 -W1 %s", w->ns_path[1], w->ip[0]), 0);
        assert_int_equal(run("nsenter --net=%s ping -c1 -W1 %s", w->ns_path[0], w->gateway), 0);

        for (int i = 0; i < N_CELLS; i++) {
                CniAttachment att = {.container_id = w->ns_name[i], .netns_path = w->ns_path[i]};
                OpResult c = op_run(OP_CHECK, &w->rt, w->list, &att, w->result[i]);
                if (c.r < 0)
                        fail_msg("CHECK %s: %s", w->ns_name[i], c.message);
        }
}

static void test_del_then_add_is_clean(void **state)
{
        World *w = *state;
        CniAttachment att = {.container_id = w->ns_name[0], .netns_path = w->ns_path[0]};
        OpResult o = op_run(OP_DEL, &w->rt, w->list, &att, w->result[0]);
        if (o.r < 0)
                fail_msg("DEL: %s", o.message);
        /* the interface, the reservation are gone; DEL again is fine */
        assert_int_not_equal(run("nsenter --net=%s ip link show eth0", w->ns_path[0]), 0);
        char reservation[512];
        snprintf(reservation, sizeof(reservation), "%s/%s/%s", w->ipam_dir, w->network, w->ip[0]);
        assert_int_equal(access(reservation, F_OK), -1);
        o = op_run(OP_DEL, &w->rt, w->list, &att, NULL);
        if (o.r < 0)
                fail_msg("second DEL: %s", o.message);

        o = op_run(OP_ADD, &w->rt, w->list, &att, NULL);
        assert_attached(w, 0, &o);
        op_result_done(&o);
        assert_string_not_equal(w->ip[0], w->ip[1]);
        assert_int_equal(run("nsenter --net=%s ping -c1 -W1 %s", w->ns_path[0], w->ip[1]), 0);
        assert_int_equal(run("nsenter --net=%s ping -c1 -W1 %s", w->ns_path[1], w->ip[0]), 0);
}

static void test_real_plugin_error_rolls_back(void **state)
{
        World *w = *state;
        /* a third cell: ADD twice; the bridge plugin refuses the second (eth0 exists) with its own error,
         * and the rollback leaves the cell detached with its address released */
        assert_int_equal(cni_netns_create(w->netns_dir, w->ns_name[2]), 1);
        CniAttachment att = {.container_id = w->ns_name[2], .netns_path = w->ns_path[2]};
        OpResult o = op_run(OP_ADD, &w->rt, w->list, &att, NULL);
        if (o.r < 0)
                fail_msg("ADD: %s", o.message);
        char ip[CNI_IP_MAX];
        snprintf(ip, sizeof(ip), "%s", o.ip);
        op_result_done(&o);

        o = op_run(OP_ADD, &w->rt, w->list, &att, NULL);
        assert_true(o.r < 0);
        assert_prefix(o.message, "bridge: ");
        assert_contains(o.message, "already exists");
        assert_contains(o.message, "(CNI error");
        assert_int_not_equal(run("nsenter --net=%s ip link show eth0", w->ns_path[2]), 0);
        char reservation[512];
        snprintf(reservation, sizeof(reservation), "%s/%s/%s", w->ipam_dir, w->network, ip);
        assert_int_equal(access(reservation, F_OK), -1);
        assert_int_equal(cni_netns_delete(w->netns_dir, w->ns_name[2]), 1);
}

static void test_plugin_failures(void **state)
{
        World *w = *state;
        CniRuntime fake = {.plugin_path = w->fake_bin, .timeout_ms = 500};
        CniAttachment att = {.container_id = "ktfake", .netns_path = w->ns_path[0]};

        /* missing */
        OpResult o = op_run(OP_ADD, &fake, w->list, &att, NULL);
        assert_int_equal(o.r, -ENOENT);
        char want[512];
        snprintf(want, sizeof(want), "plugin \"bridge\" not found in %s", w->fake_bin);
        assert_string_equal(o.message, want);

        /* hangs */
        fake_plugin(w->fake_bin, "bridge", "[ \"$CNI_COMMAND\" = ADD ] || exit 0\nsleep 60");
        o = op_run(OP_ADD, &fake, w->list, &att, NULL);
        assert_int_equal(o.r, -ETIMEDOUT);
        assert_string_equal(o.message, "bridge: ADD did not finish within 500 ms, killed");

        /* exits non-zero with a CNI error */
        fake_plugin(w->fake_bin, "bridge",
                    "echo '{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"invalid config\","
                    "\"details\":\"bridge name too long\"}'; exit 1");
        o = op_run(OP_ADD, &fake, w->list, &att, NULL);
        assert_int_equal(o.r, -EINVAL);
        assert_string_equal(o.message, "bridge: invalid config: bridge name too long (CNI error 7)");

        /* prints garbage */
        fake_plugin(w->fake_bin, "bridge", "[ \"$CNI_COMMAND\" = ADD ] || exit 0\necho '<html>oops</html>'");
        o = op_run(OP_ADD, &fake, w->list, &att, NULL);
        assert_int_equal(o.r, -EBADMSG);
        assert_string_equal(o.message, "bridge: ADD printed something that is not a JSON object");

        /* none of it touched the real attachments */
        assert_int_equal(run("nsenter --net=%s ping -c1 -W1 %s", w->ns_path[0], w->ip[1]), 0);
}

/* ---- teardown ---- */

static bool mountinfo_mentions(const char *needle)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return false;
        char line[4096];
        bool found = false;
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, needle) != NULL;
        fclose(f);
        return found;
}

static void test_teardown_leaves_nothing(void **state)
{
        World *w = *state;
        for (int i = 0; i < N_CELLS; i++) {
                CniAttachment att = {.container_id = w->ns_name[i], .netns_path = w->ns_path[i]};
                OpResult o = op_run(OP_DEL, &w->rt, w->list, &att, w->result[i]);
                if (o.r < 0)
                        fail_msg("DEL %s: %s", w->ns_name[i], o.message);
                assert_int_equal(cni_netns_delete(w->netns_dir, w->ns_name[i]), 1);
                assert_int_equal(cni_netns_delete(w->netns_dir, w->ns_name[i]), 0);
                assert_int_equal(cni_netns_check(w->netns_dir, w->ns_name[i]), 0);
                assert_int_equal(access(w->ns_path[i], F_OK), -1);
        }
        char **names = NULL;
        size_t n = 9;
        assert_int_equal(cni_netns_list(w->netns_dir, &names, &n), 0);
        assert_int_equal(n, 0);
        cni_strv_free(names);
        char mounted[512];
        snprintf(mounted, sizeof(mounted), "%s/" CNI_NETNS_PREFIX, w->netns_dir);
        assert_false(mountinfo_mentions(mounted));

        /* the bridge plugin leaves its bridge: the space's teardown deletes it */
        assert_int_equal(run("ip link del %s", w->bridge), 0);
        assert_int_not_equal(run("ip link show %s", w->bridge), 0);
        assert_int_equal(cni_ipam_remove(w->ipam_dir, w->network), 1);
        char ipam[512];
        snprintf(ipam, sizeof(ipam), "%s/%s", w->ipam_dir, w->network);
        assert_int_equal(access(ipam, F_OK), -1);
        assert_int_equal(cni_conflist_remove(w->conf_dir, w->network, w->copy), 1);
        char path[512];
        snprintf(path, sizeof(path), "%s/%s.conflist", w->conf_dir, w->network);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(access(w->copy, F_OK), -1);
        /* no masquerade rule of ours is left in nat POSTROUTING */
        assert_int_not_equal(run("iptables-save -t nat | grep -F 'name: \\\"%s\\\"'", w->network), 0);
}

/* ---- prerequisites ---- */

static int skip_because(const char *why)
{
        printf("SKIP: %s\n", why);
        return 77;
}

static int prerequisites(void)
{
        if (geteuid() != 0)
                return skip_because("not root");
        const char *path = getenv("KUKE_CNI_PATH");
        static const char *const plugins[] = {"bridge", "host-local", "portmap"};
        for (size_t i = 0; i < ARRAY_SIZE(plugins); i++) {
                _cleanup_free_ char *file = NULL;
                if (cni_plugin_find(path ? path : CNI_DEFAULT_PLUGIN_PATH, plugins[i], &file) < 0)
                        return skip_because("CNI plugins missing (containernetworking-plugins)");
        }
        if (run("command -v ip && command -v nsenter && command -v ping && command -v iptables-save") != 0)
                return skip_because("ip, nsenter, ping or iptables missing");
        /* network namespaces may be off limits (an unprivileged container) */
        char dir[] = "/tmp/kuke-cni-probe-XXXXXX";
        if (!mkdtemp(dir))
                return skip_because("no temp dir");
        int r = cni_netns_create(dir, "kukeon_probe");
        (void)cni_netns_delete(dir, "kukeon_probe");
        (void)umount2(dir, MNT_DETACH);
        (void)rmdir(dir);
        if (r < 0) {
                printf("SKIP: cannot pin a network namespace: %s\n", strerror(-r));
                return 77;
        }
        return 0;
}

int main(void)
{
        int r = prerequisites();
        if (r != 0)
                return r;
        /* the order matters: each test builds on the previous one */
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_space_network),
                cmocka_unit_test(test_pin_cells),
                cmocka_unit_test(test_add_two_cells_reach_each_other),
                cmocka_unit_test(test_del_then_add_is_clean),
                cmocka_unit_test(test_real_plugin_error_rolls_back),
                cmocka_unit_test(test_plugin_failures),
                cmocka_unit_test(test_teardown_leaves_nothing),
        };
        return cmocka_run_group_tests(tests, world_setup, world_teardown);
}
