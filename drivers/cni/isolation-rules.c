/* The iptables rules of space isolation as argument vectors, and reading our bridges back from a chain
 * listing. Pure: no process is run here (isolation.c runs them). docs/networking.md explains the rule
 * set. */
#include <stdio.h>
#include <string.h>

#include "drivers/cni/cni-internal.h"

#define CHAIN_NAME_MAX 28 /* XT_EXTENSION_MAXNAMELEN - 1 */
#define RULE_ARGS_MAX  32
#define COMMENT_JUMP   CNI_ISOLATION_COMMENT ":jump"
#define COMMENT_BRIDGE CNI_ISOLATION_COMMENT ":bridge:"
#define COMMENT_ESTAB  CNI_ISOLATION_COMMENT ":established"
#define COMMENT_DROP   CNI_ISOLATION_COMMENT ":drop:"
#define TABLE          "filter"
#define FORWARD_CHAIN  "FORWARD"

const char *cni_isolation_iptables(const CniIsolationConfig *c)
{
        return c && c->iptables ? c->iptables : "iptables";
}

const char *cni_isolation_chain(const CniIsolationConfig *c)
{
        return c && c->chain ? c->chain : CNI_ISOLATION_CHAIN;
}

const char *cni_isolation_bridge_match(const CniIsolationConfig *c)
{
        return c && c->bridge_match ? c->bridge_match : CNI_BRIDGE_MATCH;
}

uint64_t cni_isolation_timeout_ms(const CniIsolationConfig *c)
{
        return c && c->timeout_ms ? c->timeout_ms : CNI_ISOLATION_TIMEOUT_MS;
}

/* iptables -w: wait for the xtables lock at most half the deadline (at least a second), so a busy lock
 * shows as iptables' own error rather than as our kill. */
static unsigned lock_wait_s(const CniIsolationConfig *c)
{
        uint64_t s = cni_isolation_timeout_ms(c) / 2000;
        return s == 0 ? 1 : s > 3600 ? 3600 : (unsigned)s;
}

static bool chain_is_valid(const char *chain)
{
        size_t n = strlen(chain);
        if (n == 0 || n > CHAIN_NAME_MAX || chain[0] == '-' || chain[0] == '!')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(chain[i] >= 'A' && chain[i] <= 'Z') && !(chain[i] >= 'a' && chain[i] <= 'z') &&
                    !(chain[i] >= '0' && chain[i] <= '9') && chain[i] != '-' && chain[i] != '_')
                        return false;
        /* the built-in chains and targets are not ours to create or flush */
        static const char *const builtin[] = {"INPUT",  "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING",
                                              "ACCEPT", "DROP",   "RETURN",  "REJECT",     "QUEUE"};
        for (size_t i = 0; i < ARRAY_SIZE(builtin); i++)
                if (streq(chain, builtin[i]))
                        return false;
        return true;
}

/* An interface name as we put it in a rule: no wildcard, no negation, nothing a comment or the listing
 * parser would trip on. */
static bool iface_is_plain(const char *name)
{
        return cni_ifname_is_valid(name) && name[0] != '-' && name[0] != '!' && !strpbrk(name, "+\"'\\");
}

/* Whether name matches an iptables interface pattern: exact, or with a trailing '+' a prefix. */
static bool iface_matches(const char *pattern, const char *name)
{
        size_t n = strlen(pattern);
        if (n > 0 && pattern[n - 1] == '+')
                return strncmp(pattern, name, n - 1) == 0;
        return streq(pattern, name);
}

int cni_isolation_config_check(const CniIsolationConfig *c)
{
        const char *match = cni_isolation_bridge_match(c);
        size_t n = strlen(match);
        if (!chain_is_valid(cni_isolation_chain(c)) || !*cni_isolation_iptables(c) ||
            !cni_ifname_is_valid(match) || match[0] == '-' || match[0] == '!' || strpbrk(match, "\"'\\") ||
            (n == 1 && match[0] == '+'))
                return -EINVAL;
        return 0;
}

bool cni_isolation_bridge_is_valid(const CniIsolationConfig *c, const char *bridge)
{
        return bridge && iface_is_plain(bridge) && iface_matches(cni_isolation_bridge_match(c), bridge);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int strv_copy(const char *const *items, size_t n, char ***ret)
{
        _cleanup_strv_ char **v = calloc(n + 1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(v[i] = strdup(items[i])))
                        return -ENOMEM;
        *ret = TAKE_PTR(v);
        return 0;
}

/* "iptables -w <s> -t filter" */
static size_t argv_head(const CniIsolationConfig *c, const char **a, char wait[static 16])
{
        snprintf(wait, 16, "%u", lock_wait_s(c));
        size_t n = 0;
        a[n++] = cni_isolation_iptables(c);
        a[n++] = "-w";
        a[n++] = wait;
        a[n++] = "-t";
        a[n++] = TABLE;
        return n;
}

int cni_isolation_chain_argv(const CniIsolationConfig *c, char action, char ***ret)
{
        if (!action || !strchr("NFXS", action) || cni_isolation_config_check(c) < 0)
                return -EINVAL;
        const char *a[RULE_ARGS_MAX];
        char wait[16], act[3] = {'-', action, '\0'};
        size_t n = argv_head(c, a, wait);
        a[n++] = act;
        a[n++] = cni_isolation_chain(c);
        return strv_copy(a, n, ret);
}

/* The matches, comment and target of a rule; comment is scratch space for the bridge's comment. */
static size_t argv_rule(const CniIsolationConfig *c, CniIsolationRule rule, const char *bridge,
                        const char **a, size_t n, char comment[static 64])
{
        const char *target = "RETURN";
        switch (rule) {
        case CNI_ISOLATION_RULE_JUMP:
                a[n++] = "-i";
                a[n++] = cni_isolation_bridge_match(c);
                a[n++] = "-o";
                a[n++] = cni_isolation_bridge_match(c);
                snprintf(comment, 64, "%s", COMMENT_JUMP);
                target = cni_isolation_chain(c);
                break;
        case CNI_ISOLATION_RULE_BRIDGE:
                a[n++] = "-i";
                a[n++] = bridge;
                a[n++] = "-o";
                a[n++] = bridge;
                snprintf(comment, 64, "%s%s", COMMENT_BRIDGE, bridge);
                break;
        case CNI_ISOLATION_RULE_ESTABLISHED:
                a[n++] = "-m";
                a[n++] = "conntrack";
                a[n++] = "--ctstate";
                a[n++] = "RELATED,ESTABLISHED";
                snprintf(comment, 64, "%s", COMMENT_ESTAB);
                break;
        case CNI_ISOLATION_RULE_DROP:
        default:
                a[n++] = "-i";
                a[n++] = bridge;
                snprintf(comment, 64, "%s%s", COMMENT_DROP, bridge);
                target = "DROP";
                break;
        }
        a[n++] = "-m";
        a[n++] = "comment";
        a[n++] = "--comment";
        a[n++] = comment;
        a[n++] = "-j";
        a[n++] = target;
        return n;
}

int cni_isolation_rule_argv(const CniIsolationConfig *c, CniIsolationRule rule, const char *bridge,
                            char action, char ***ret)
{
        if (!action || !strchr("CIAD", action) || (int)rule < 0 || (int)rule >= _CNI_ISOLATION_RULE_MAX ||
            cni_isolation_config_check(c) < 0)
                return -EINVAL;
        if ((rule == CNI_ISOLATION_RULE_BRIDGE || rule == CNI_ISOLATION_RULE_DROP) &&
            !cni_isolation_bridge_is_valid(c, bridge))
                return -EINVAL;
        const char *a[RULE_ARGS_MAX];
        char wait[16], comment[64], act[3] = {'-', action, '\0'};
        size_t n = argv_head(c, a, wait);
        a[n++] = act;
        a[n++] = rule == CNI_ISOLATION_RULE_JUMP ? FORWARD_CHAIN : cni_isolation_chain(c);
        if (action == 'I')
                a[n++] =
                        "1"; /* on top: the DROPs stay below the RETURNs, the jump before others' verdicts */
        n = argv_rule(c, rule, bridge, a, n, comment);
        return strv_copy(a, n, ret);
}

/* The bridge named by the comment of one "-A <chain> ..." line, or NULL. */
static const char *line_bridge(const char *line, size_t len, const char *chain, char ret[static 64])
{
        size_t k = strlen(chain);
        if (len < 3 + k + 1 || strncmp(line, "-A ", 3) != 0 || strncmp(line + 3, chain, k) != 0 ||
            line[3 + k] != ' ')
                return NULL;
        /* a bridge's RETURN rule, or its DROP rule alone (half of a pair left behind) */
        const char *prefix = COMMENT_BRIDGE;
        const char *p = memmem(line, len, prefix, strlen(prefix));
        if (!p) {
                prefix = COMMENT_DROP;
                p = memmem(line, len, prefix, strlen(prefix));
        }
        if (!p || p == line || (p[-1] != '"' && p[-1] != ' '))
                return NULL;
        p += strlen(prefix);
        size_t n = 0;
        while (p + n < line + len && p[n] != '"' && p[n] != ' ' && n < 63)
                n++;
        memcpy(ret, p, n);
        ret[n] = '\0';
        return ret;
}

int cni_isolation_parse_bridges(const CniIsolationConfig *c, const char *listing, char ***ret, size_t *ret_n)
{
        if (cni_isolation_config_check(c) < 0 || !listing)
                return -EINVAL;
        size_t n = 0;
        _cleanup_strv_ char **v = calloc(1, sizeof(char *));
        if (!v)
                return -ENOMEM;
        for (const char *line = listing; *line;) {
                size_t len = strcspn(line, "\n");
                char name[64];
                if (line_bridge(line, len, cni_isolation_chain(c), name) && iface_is_plain(name)) {
                        char **grown = realloc(v, (n + 2) * sizeof(char *));
                        if (!grown)
                                return -ENOMEM;
                        v = grown;
                        v[n + 1] = NULL;
                        if (!(v[n] = strdup(name)))
                                return -ENOMEM;
                        n++;
                }
                line += len;
                if (*line == '\n')
                        line++;
        }
        qsort(v, n, sizeof(char *), cmp_str);
        /* one name per bridge, even when a rule was added twice behind our back */
        size_t w = 0;
        for (size_t i = 0; i < n; i++) {
                if (w > 0 && streq(v[w - 1], v[i])) {
                        free(v[i]);
                        continue;
                }
                v[w++] = v[i];
        }
        v[w] = NULL;
        *ret = TAKE_PTR(v);
        if (ret_n)
                *ret_n = w;
        return 0;
}
