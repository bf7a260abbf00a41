/* Space isolation, observation and bridge deletion against real iptables, plugins, namespaces and
 * bridges. Root only; exits 77 (skipped) when a prerequisite is missing.
 *
 * Two test-only spaces of realm ki<pid>: a with cells a1 and a2, b with cell b1, each space on a free
 * 10.233.<n>.0/24, every path (IPAM dataDir, netns dir) under a temp dir, and an isolation chain of the
 * test's own (KUKEON-ISO-ki<pid>) whose jump matches only this test's bridges (kuke-ki<pid>-+), so
 * neither a daemon's rules nor another test's bridges are touched. With isolation: a1 and a2 reach each
 * other, a1 and b1 do not (either way). Observation sees eth0 up with the recorded address in every cell,
 * sees a flushed address as drift, which DEL + ADD repairs; the bridges are observed, then deleted.
 * Removing isolation of both spaces leaves no rule and no chain. The group teardown cleans up whatever an
 * assertion left behind. The only traffic is between these namespaces and their bridges. */
#include <arpa/inet.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "tests/unit/cni/cni-test-util.h"

#define N_SPACES 2
#define N_CELLS  3

typedef struct Cell {
        int space; /* index into World.space */
        const char *name;
        char ns_name[256];
        char ns_path[512];
        char ip[CNI_IP_MAX];
        json_t *result;
} Cell;

typedef struct Space {
        const char *name;
        char network[CNI_NETWORK_NAME_MAX];
        char bridge[CNI_BRIDGE_NAME_MAX];
        char subnet[CNI_SUBNET_MAX];
        char gateway[CNI_IP_MAX];
        json_t *list;
} Space;

typedef struct World {
        char tmp[64];
        char netns_dir[128];
        char ipam_dir[128];
        char realm[16];
        char chain[32];
        char bridge_match[32];
        Space space[N_SPACES];
        Cell cell[N_CELLS];
        CniRuntime rt;
        char plugin_path[512];
        CniIsolation *iso;
        int ip_forward;
} World;

static int run(const char *fmt, ...) _printf_(1, 2);
static int run(const char *fmt, ...)
{
        char cmd[2048], quiet[2200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cmd, sizeof(cmd), fmt, ap);
        va_end(ap);
        snprintf(quiet, sizeof(quiet), "{ %s; } >/dev/null 2>&1", cmd);
        int st = system(quiet);
        return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* What a shell command prints on stdout (NULL when it cannot be run). */
static char *capture(const char *cmd)
{
        FILE *f = popen(cmd, "re");
        if (!f)
                return NULL;
        Buf b = BUF_INIT;
        char chunk[4096];
        size_t k;
        while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
                (void)buf_append(&b, chunk, k);
        pclose(f);
        return buf_steal(&b);
}

static int ping(const Cell *from, const char *ip)
{
        return run("nsenter --net=%s ping -c1 -W1 %s", from->ns_path, ip);
}

static int read_ip_forward(void)
{
        _cleanup_free_ char *v = capture("cat /proc/sys/net/ipv4/ip_forward");
        return v && *v ? atoi(v) : -1;
}

/* Whether a host route overlaps c. */
static bool host_route_overlaps(const Ipv4Cidr *c)
{
        FILE *f = fopen("/proc/net/route", "re");
        if (!f)
                return true;
        char line[512];
        bool overlap = false;
        if (!fgets(line, sizeof(line), f))
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

/* A /24 of 10.233.0.0/16 that no host route and no earlier space of ours touches. */
static void pick_subnet(World *w, int i)
{
        Ipv4Cidr c = {.prefix = 24};
        unsigned start = ((unsigned)getpid() * 7u + 101u) % 250u;
        for (unsigned k = 0; k < 250; k++) {
                c.addr = (10u << 24) | (233u << 16) | (((start + k) % 250 + 1) << 8);
                char s[CNI_SUBNET_MAX];
                ipv4_cidr_format(&c, s);
                if (!host_route_overlaps(&c) && (i == 0 || !streq(s, w->space[0].subnet)))
                        break;
        }
        ipv4_cidr_format(&c, w->space[i].subnet);
        assert_int_equal(cni_subnet_gateway(w->space[i].subnet, w->space[i].gateway), 0);
}

/* Removes the bridge plugin's masquerade rules of container id from nat POSTROUTING: those of source
 * address ip only, or (ip NULL) all of them and their CNI-... chains. */
static void sweep_masquerade(const char *id, const char *ip)
{
        char source[64] = "";
        if (ip)
                snprintf(source, sizeof(source), " -s %s/32 ", ip);
        (void)run("iptables-save -t nat | grep -F -- '-A POSTROUTING' | grep -F -- '%s' | grep -F 'id: "
                  "\\\"%s\\\"' "
                  "| sed 's/^-A /-D /' | while read -r rule; do eval \"iptables -w 10 -t nat $rule\"; done",
                  source, id);
        if (ip)
                return;
        (void)run("for c in $(iptables-save -t nat | grep -F 'id: \\\"%s\\\"' | grep -o 'CNI-[0-9a-f]*' | "
                  "sort -u); "
                  "do iptables -w 10 -t nat -F $c; iptables -w 10 -t nat -X $c; done",
                  id);
}

/* ---- setup and teardown ---- */

static void world_names(World *w)
{
        snprintf(w->netns_dir, sizeof(w->netns_dir), "%s/netns", w->tmp);
        snprintf(w->ipam_dir, sizeof(w->ipam_dir), "%s/ipam", w->tmp);
        snprintf(w->realm, sizeof(w->realm), "ki%d", (int)(getpid() % 100000));
        snprintf(w->chain, sizeof(w->chain), "KUKEON-ISO-%s", w->realm);
        snprintf(w->bridge_match, sizeof(w->bridge_match), CNI_BRIDGE_PREFIX "%s-+", w->realm);
        w->space[0].name = "a";
        w->space[1].name = "b";
        static const struct {
                int space;
                const char *name;
        } cells[N_CELLS] = {{0, "a1"}, {0, "a2"}, {1, "b1"}};
        for (int i = 0; i < N_CELLS; i++) {
                Cell *c = &w->cell[i];
                c->space = cells[i].space;
                c->name = cells[i].name;
                ResourceId id = {.kind = KIND_CELL};
                snprintf(id.realm, sizeof(id.realm), "%s", w->realm);
                snprintf(id.space, sizeof(id.space), "%s", w->space[c->space].name);
                snprintf(id.stack, sizeof(id.stack), "st");
                snprintf(id.cell, sizeof(id.cell), "%s", c->name);
                assert_int_equal(cell_netns_name(&id, c->ns_name, sizeof(c->ns_name)), 0);
                assert_int_equal(cni_netns_path(w->netns_dir, c->ns_name, c->ns_path, sizeof(c->ns_path)),
                                 0);
        }
}

static int world_setup(void **state)
{
        World *w = calloc(1, sizeof(World));
        if (!w)
                return -1;
        snprintf(w->tmp, sizeof(w->tmp), "/tmp/kuke-iso-XXXXXX");
        if (!mkdtemp(w->tmp))
                return -1;
        *state = w;
        world_names(w);
        const char *env_path = getenv("KUKE_CNI_PATH");
        snprintf(w->plugin_path, sizeof(w->plugin_path), "%s",
                 env_path ? env_path : CNI_DEFAULT_PLUGIN_PATH);
        w->rt = (CniRuntime){.plugin_path = w->plugin_path, .timeout_ms = 30000};
        w->ip_forward = read_ip_forward();
        CniIsolationConfig c = {.chain = w->chain, .bridge_match = w->bridge_match, .timeout_ms = 20000};
        return cni_isolation_new(&c, &w->iso) < 0 ? -1 : 0;
}

/* Best effort, whatever state a failed assertion left. */
static int world_teardown(void **state)
{
        World *w = *state;
        for (int i = 0; i < N_CELLS; i++) {
                Cell *c = &w->cell[i];
                if (w->space[c->space].list) {
                        CniAttachment att = {.container_id = c->ns_name, .netns_path = c->ns_path};
                        OpResult o = op_run(OP_DEL, &w->rt, w->space[c->space].list, &att, NULL);
                        (void)o;
                }
                (void)cni_netns_delete(w->netns_dir, c->ns_name);
                sweep_masquerade(c->ns_name, NULL);
                json_decref(c->result);
        }
        for (int i = 0; i < N_SPACES; i++) {
                if (w->space[i].bridge[0])
                        (void)cni_bridge_delete(w->space[i].bridge);
                if (w->space[i].network[0])
                        (void)cni_ipam_remove(w->ipam_dir, w->space[i].network);
                json_decref(w->space[i].list);
        }
        char *error = NULL;
        (void)cni_isolation_remove_all(w->iso, &error);
        free(error);
        cni_isolation_free(w->iso);
        (void)umount2(w->netns_dir, MNT_DETACH);
        int r = rm_rf(w->tmp);
        if (w->ip_forward == 0 && read_ip_forward() == 1)
                (void)run("echo 0 > /proc/sys/net/ipv4/ip_forward");
        free(w);
        return r;
}

/* ---- spaces and cells ---- */

static void test_spaces_and_cells(void **state)
{
        World *w = *state;
        for (int i = 0; i < N_SPACES; i++) {
                Space *s = &w->space[i];
                pick_subnet(w, i);
                assert_int_equal(cni_network_name(w->realm, s->name, s->network, sizeof(s->network)), 0);
                assert_int_equal(cni_bridge_name(w->realm, s->name, NULL, 0, s->bridge), 0);
                /* ours alone: the plain form, matched by the test's pattern, not there yet */
                assert_true(cni_isolation_bridge_is_valid(
                        &(CniIsolationConfig){.bridge_match = w->bridge_match}, s->bridge));
                assert_int_not_equal(run("ip link show %s", s->bridge), 0);
                CniNetworkConfig cfg = {.realm = w->realm,
                                        .space = s->name,
                                        .bridge = s->bridge,
                                        .subnet = s->subnet,
                                        .ipam_data_dir = w->ipam_dir};
                assert_int_equal(cni_conflist_build(&cfg, &s->list), 0);
        }
        assert_string_not_equal(w->space[0].subnet, w->space[1].subnet);

        for (int i = 0; i < N_CELLS; i++) {
                Cell *c = &w->cell[i];
                assert_int_equal(cni_netns_create(w->netns_dir, c->ns_name), 1);
                CniAttachment att = {.container_id = c->ns_name, .netns_path = c->ns_path};
                OpResult o = op_run(OP_ADD, &w->rt, w->space[c->space].list, &att, NULL);
                if (o.r < 0)
                        fail_msg("ADD %s: %s", c->ns_name, o.message);
                snprintf(c->ip, sizeof(c->ip), "%s", o.ip);
                c->result = TAKE_PTR(o.json);
                assert_string_equal(o.gateway, w->space[c->space].gateway);
        }
        /* without isolation the host routes between the spaces: what the rules must stop */
        assert_int_equal(ping(&w->cell[0], w->cell[2].ip), 0);
}

/* ---- isolation ---- */

/* error: where the operation put its message (read after the call) */
static void assert_ok(int want, int r, char **error)
{
        if (r < 0)
                fail_msg("%s", *error ? *error : strerror(-r));
        free(*error);
        *error = NULL;
        assert_int_equal(r, want);
}

static void assert_rules_listed(World *w)
{
        _cleanup_free_ char *all = capture("iptables -w 10 -S | grep kukeon");
        assert_non_null(all);
        char want[512];
        snprintf(want, sizeof(want),
                 "-A FORWARD -i %s -o %s -m comment --comment \"kukeon:isolation:jump\" -j %s\n",
                 w->bridge_match, w->bridge_match, w->chain);
        assert_contains(all, want);
        for (int i = 0; i < N_SPACES; i++) {
                const char *b = w->space[i].bridge;
                snprintf(want, sizeof(want),
                         "-A %s -i %s -o %s -m comment --comment \"kukeon:isolation:bridge:%s\" -j RETURN\n",
                         w->chain, b, b, b);
                assert_contains(all, want);
                snprintf(want, sizeof(want),
                         "-A %s -i %s -m comment --comment \"kukeon:isolation:drop:%s\" -j DROP\n", w->chain,
                         b, b);
                assert_contains(all, want);
        }
        snprintf(want, sizeof(want),
                 "-A %s -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "
                 "\"kukeon:isolation:established\" -j RETURN\n",
                 w->chain);
        assert_contains(all, want);

        /* the DROPs come after every RETURN */
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "iptables -w 10 -S %s | tail -n1", w->chain);
        _cleanup_free_ char *last = capture(cmd);
        assert_contains(last, "kukeon:isolation:drop");
}

static void test_isolation(void **state)
{
        World *w = *state;
        char *error = NULL;
        for (int i = 0; i < N_SPACES; i++)
                assert_ok(1, cni_isolation_ensure(w->iso, w->space[i].bridge, &error), &error);
        for (int i = 0; i < N_SPACES; i++)
                assert_ok(0, cni_isolation_ensure(w->iso, w->space[i].bridge, &error), &error);
        assert_rules_listed(w);

        Cell *a1 = &w->cell[0], *a2 = &w->cell[1], *b1 = &w->cell[2];
        assert_int_equal(ping(a1, a2->ip), 0);
        assert_int_equal(ping(a2, a1->ip), 0);
        assert_int_not_equal(ping(a1, b1->ip), 0);
        assert_int_not_equal(ping(b1, a1->ip), 0);
        assert_int_not_equal(ping(b1, a2->ip), 0);
        /* the host (each space's gateway) stays reachable */
        assert_int_equal(ping(a1, w->space[0].gateway), 0);
        assert_int_equal(ping(b1, w->space[1].gateway), 0);

        char **v = NULL;
        size_t n = 0;
        assert_ok(0, cni_isolation_list(w->iso, &v, &n, &error), &error);
        assert_int_equal(n, 2);
        assert_string_equal(v[0], w->space[0].bridge);
        assert_string_equal(v[1], w->space[1].bridge);
        cni_strv_free(v);
}

/* ---- observation ---- */

static void assert_cell_attached(const Cell *c)
{
        CniCellObserved o;
        assert_int_equal(cni_observe_cell(c->ns_path, NULL, &o), 0);
        assert_true(o.has_netns);
        assert_true(o.link.has_link);
        assert_true(o.link.is_up);
        assert_string_equal(o.link.kind, "veth");
        assert_int_equal(o.link.n_addrs, 1);
        char want[CNI_SUBNET_MAX + 4];
        snprintf(want, sizeof(want), "%s/24", c->ip);
        assert_string_equal(o.link.addrs[0], want);
        assert_true(cni_cell_observed_is_attached(&o, c->ip));
}

static void test_observe_and_repair(void **state)
{
        World *w = *state;
        for (int i = 0; i < N_CELLS; i++)
                assert_cell_attached(&w->cell[i]);

        /* drift: someone flushes a2's address */
        Cell *a2 = &w->cell[1];
        assert_int_equal(run("nsenter --net=%s ip addr flush dev eth0", a2->ns_path), 0);
        CniCellObserved o;
        assert_int_equal(cni_observe_cell(a2->ns_path, "eth0", &o), 0);
        assert_true(o.has_netns && o.link.has_link && o.link.is_up);
        assert_int_equal(o.link.n_addrs, 0);
        assert_false(cni_cell_observed_is_attached(&o, a2->ip));
        assert_int_not_equal(ping(&w->cell[0], a2->ip), 0);

        /* what the plan does about it: DEL + ADD */
        char old_ip[CNI_IP_MAX];
        snprintf(old_ip, sizeof(old_ip), "%s", a2->ip);
        const json_t *list = w->space[a2->space].list;
        CniAttachment att = {.container_id = a2->ns_name, .netns_path = a2->ns_path};
        OpResult del = op_run(OP_DEL, &w->rt, list, &att, a2->result);
        if (del.r < 0)
                fail_msg("DEL: %s", del.message);
        OpResult add = op_run(OP_ADD, &w->rt, list, &att, NULL);
        if (add.r < 0)
                fail_msg("ADD: %s", add.message);
        snprintf(a2->ip, sizeof(a2->ip), "%s", add.ip);
        json_decref(a2->result);
        a2->result = TAKE_PTR(add.json);
        assert_cell_attached(a2);
        /* The bridge plugin's DEL finds the addresses whose masquerade rules it drops on the interface:
         * with the address flushed, the old address's rule stays in nat POSTROUTING (and keeps the chain
         * of the attachment busy). The daemon's masquerade GC has to sweep it; here the test does. */
        if (!streq(old_ip, a2->ip))
                sweep_masquerade(a2->ns_name, old_ip);
        assert_int_equal(ping(&w->cell[0], a2->ip), 0);
        assert_int_not_equal(ping(&w->cell[2], a2->ip), 0); /* still isolated */

        /* a namespace that is gone is an observation too */
        assert_int_equal(cni_observe_cell("/nonexistent/kukeon_gone", NULL, &o), 0);
        assert_false(o.has_netns);
}

static void test_observe_bridges(void **state)
{
        World *w = *state;
        for (int i = 0; i < N_SPACES; i++) {
                CniBridgeObserved b;
                assert_int_equal(cni_observe_bridge(w->space[i].bridge, &b), 0);
                assert_true(b.is_bridge);
                assert_true(b.link.has_link && b.link.is_up);
                char want[CNI_SUBNET_MAX + 4];
                snprintf(want, sizeof(want), "%s/24", w->space[i].gateway);
                assert_int_equal(b.link.n_addrs, 1);
                assert_string_equal(b.link.addrs[0], want);
        }
        char prefix[32];
        snprintf(prefix, sizeof(prefix), CNI_BRIDGE_PREFIX "%s-", w->realm);
        char **v = NULL;
        size_t n = 0;
        assert_int_equal(cni_bridge_list(prefix, &v, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(v[0], w->space[0].bridge);
        assert_string_equal(v[1], w->space[1].bridge);
        cni_strv_free(v);
}

/* ---- teardown ---- */

static void test_teardown_leaves_nothing(void **state)
{
        World *w = *state;
        for (int i = 0; i < N_CELLS; i++) {
                Cell *c = &w->cell[i];
                CniAttachment att = {.container_id = c->ns_name, .netns_path = c->ns_path};
                OpResult o = op_run(OP_DEL, &w->rt, w->space[c->space].list, &att, c->result);
                if (o.r < 0)
                        fail_msg("DEL %s: %s", c->ns_name, o.message);
                assert_int_equal(cni_netns_delete(w->netns_dir, c->ns_name), 1);
        }
        char *error = NULL;
        for (int i = 0; i < N_SPACES; i++) {
                Space *s = &w->space[i];
                assert_int_equal(cni_bridge_delete(s->bridge), 1);
                assert_int_equal(cni_bridge_delete(s->bridge), 0);
                CniBridgeObserved b;
                assert_int_equal(cni_observe_bridge(s->bridge, &b), 0);
                assert_false(b.link.has_link);
                assert_int_not_equal(run("ip link show %s", s->bridge), 0);
                assert_int_equal(cni_ipam_remove(w->ipam_dir, s->network), 1);

                assert_ok(1, cni_isolation_remove(w->iso, s->bridge, &error), &error);
                assert_ok(0, cni_isolation_remove(w->iso, s->bridge, &error), &error);
                char cmd[256];
                snprintf(cmd, sizeof(cmd), "iptables -w 10 -S %s", w->chain);
                /* the chain goes with the last space */
                if (i == 0)
                        assert_int_equal(run("%s", cmd), 0);
                else
                        assert_int_not_equal(run("%s", cmd), 0);
        }
        _cleanup_free_ char *left = capture("iptables -w 10 -S");
        assert_non_null(left);
        if (strstr(left, w->chain) || strstr(left, w->bridge_match))
                fail_msg("rules left behind:\n%s", left);
        assert_ok(0, cni_isolation_remove_all(w->iso, &error), &error);
        /* no masquerade rule of ours either */
        _cleanup_free_ char *nat = capture("iptables-save -t nat");
        assert_non_null(nat);
        char needle[64];
        snprintf(needle, sizeof(needle), "kukeon_%s_", w->realm);
        if (strstr(nat, needle))
                fail_msg("masquerade rules left behind:\n%s", nat);
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
        if (run("command -v ip && command -v nsenter && command -v ping") != 0)
                return skip_because("ip, nsenter or ping missing");
        if (run("iptables -w 10 -S FORWARD") != 0)
                return skip_because("iptables missing or not usable here");
        char dir[] = "/tmp/kuke-iso-probe-XXXXXX";
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
                cmocka_unit_test(test_spaces_and_cells),        cmocka_unit_test(test_isolation),
                cmocka_unit_test(test_observe_and_repair),      cmocka_unit_test(test_observe_bridges),
                cmocka_unit_test(test_teardown_leaves_nothing),
        };
        return cmocka_run_group_tests(tests, world_setup, world_teardown);
}
