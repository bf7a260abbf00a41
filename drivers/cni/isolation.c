/* Space isolation with iptables: ensuring and removing a space's rule, listing ours for garbage
 * collection, removing them all. The operations are synchronous and run iptables (blocking: worker
 * threads only); cni_isolation_submit() runs them on the loop's thread pool. One CniIsolation serialises
 * its operations, so the last space's removal cannot tear the chain down under another space's ensure. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "drivers/cni/cni-internal.h"

#define DELETE_MAX 16 /* copies of one rule removed by one call (someone added it twice) */

struct CniIsolation {
        CniIsolationConfig config; /* its strings point into the fields below */
        char *iptables;
        char *chain;
        char *bridge_match;
        pthread_mutex_t lock;
};

CniIsolation *cni_isolation_free(CniIsolation *iso)
{
        if (!iso)
                return NULL;
        pthread_mutex_destroy(&iso->lock);
        free(iso->iptables);
        free(iso->chain);
        free(iso->bridge_match);
        free(iso);
        return NULL;
}

int cni_isolation_new(const CniIsolationConfig *c, CniIsolation **ret)
{
        int r = cni_isolation_config_check(c);
        if (r < 0)
                return r;
        CniIsolation *iso = calloc(1, sizeof(CniIsolation));
        if (!iso)
                return -ENOMEM;
        iso->iptables = strdup(cni_isolation_iptables(c));
        iso->chain = strdup(cni_isolation_chain(c));
        iso->bridge_match = strdup(cni_isolation_bridge_match(c));
        r = pthread_mutex_init(&iso->lock, NULL);
        if (r != 0) {
                free(iso->iptables);
                free(iso->chain);
                free(iso->bridge_match);
                free(iso);
                return -r;
        }
        if (!iso->iptables || !iso->chain || !iso->bridge_match) {
                cni_isolation_free(iso);
                return -ENOMEM;
        }
        iso->config = (CniIsolationConfig){.iptables = iso->iptables,
                                           .chain = iso->chain,
                                           .bridge_match = iso->bridge_match,
                                           .timeout_ms = cni_isolation_timeout_ms(c)};
        *ret = iso;
        return 0;
}

/* Sets *ret_error (may be NULL) to "<command line>: <what happened>", unless it is set already. */
static void iso_error(char **ret_error, char *const *argv, const char *what)
{
        if (!ret_error || *ret_error)
                return;
        Buf b = BUF_INIT;
        for (size_t i = 0; argv && argv[i]; i++)
                (void)buf_printf(&b, "%s%s", i ? " " : "", argv[i]);
        (void)buf_printf(&b, ": %s", what);
        *ret_error = buf_steal(&b);
}

/* The first non-empty line of a command's stderr, for a message: iptables says what is wrong there and
 * follows with usage hints. */
static void first_line(const char *text, char ret[static 512])
{
        text += strspn(text, "\n ");
        size_t n = strcspn(text, "\n");
        while (n > 0 && text[n - 1] == ' ')
                n--;
        snprintf(ret, 512, "%.*s", (int)n, text);
}

/* Runs argv. Returns its exit status when it is one of ok_1 or ok_2 (ret_out, may be NULL, then owns its
 * stdout), else < 0 with the message. */
static int iso_exec(CniIsolation *iso, char *const *argv, int ok_1, int ok_2, char **ret_out,
                    char **ret_error)
{
        CniCommandOutcome o;
        int r = cni_command_run(argv, iso->config.timeout_ms, &o);
        if (r < 0) {
                char what[128];
                if (r == -ETIMEDOUT)
                        snprintf(what, sizeof(what), "did not finish within %llu ms, killed",
                                 (unsigned long long)iso->config.timeout_ms);
                else
                        snprintf(what, sizeof(what), "cannot run: %s", strerror(-r));
                iso_error(ret_error, argv, what);
                return r;
        }
        int status = o.status;
        if (status != ok_1 && status != ok_2) {
                char line[512], what[600];
                first_line(o.err, line);
                snprintf(what, sizeof(what), "exit status %d%s%s", status, *line ? ": " : "", line);
                iso_error(ret_error, argv, what);
                /* 4: a resource problem (the xtables lock, the kernel, no privilege); the rest: what we
                 * asked for is wrong */
                r = strstr(o.err, "Permission denied") ? -EPERM
                    : status == 4                      ? -EAGAIN
                    : status == 3                      ? -EPROTONOSUPPORT
                                                       : -EIO;
                cni_command_outcome_done(&o);
                return r;
        }
        if (ret_out)
                *ret_out = TAKE_PTR(o.out);
        cni_command_outcome_done(&o);
        return status;
}

/* 1 when the rule is there, 0 when not. */
static int rule_check(CniIsolation *iso, CniIsolationRule rule, const char *bridge, char **ret_error)
{
        _cleanup_strv_ char **argv = NULL;
        int r = cni_isolation_rule_argv(&iso->config, rule, bridge, 'C', &argv);
        if (r < 0)
                return r;
        r = iso_exec(iso, argv, 0, 1, NULL, ret_error);
        return r < 0 ? r : r == 0;
}

/* Adds the rule (action 'I' on top, 'A' at the end) unless it is there. 1 when added. */
static int rule_ensure(CniIsolation *iso, CniIsolationRule rule, const char *bridge, char action,
                       char **ret_error)
{
        int r = rule_check(iso, rule, bridge, ret_error);
        if (r != 0)
                return r < 0 ? r : 0;
        _cleanup_strv_ char **argv = NULL;
        r = cni_isolation_rule_argv(&iso->config, rule, bridge, action, &argv);
        if (r < 0)
                return r;
        r = iso_exec(iso, argv, 0, 0, NULL, ret_error);
        return r < 0 ? r : 1;
}

/* Deletes every copy of the rule. 1 when one was there. */
static int rule_delete(CniIsolation *iso, CniIsolationRule rule, const char *bridge, char **ret_error)
{
        int removed = 0;
        for (int i = 0; i < DELETE_MAX; i++) {
                int r = rule_check(iso, rule, bridge, ret_error);
                if (r <= 0)
                        return r < 0 ? r : removed;
                _cleanup_strv_ char **argv = NULL;
                r = cni_isolation_rule_argv(&iso->config, rule, bridge, 'D', &argv);
                if (r >= 0)
                        r = iso_exec(iso, argv, 0, 0, NULL, ret_error);
                if (r < 0)
                        return r;
                removed = 1;
        }
        return removed;
}

/* Runs "-N/-F/-X/-S <chain>". For 'S', *ret_listing gets the listing. Returns 1 when it did it, 0 when
 * iptables answered 1 (no such chain; for 'N': the chain exists). */
static int chain_do(CniIsolation *iso, char action, char **ret_listing, char **ret_error)
{
        _cleanup_strv_ char **argv = NULL;
        int r = cni_isolation_chain_argv(&iso->config, action, &argv);
        if (r < 0)
                return r;
        r = iso_exec(iso, argv, 0, 1, ret_listing, ret_error);
        if (r == 1 && ret_listing) {
                free(*ret_listing);
                *ret_listing = NULL;
        }
        return r < 0 ? r : r == 0;
}

static int ensure_locked(CniIsolation *iso, const char *bridge, char **ret_error)
{
        _cleanup_free_ char *listing = NULL;
        int r = chain_do(iso, 'S', &listing, ret_error);
        if (r < 0)
                return r;
        int changed = 0;
        if (r == 0) {
                r = chain_do(iso, 'N', NULL, ret_error);
                if (r < 0)
                        return r;
                changed = 1;
        }
        /* the chain is whole before the jump sends traffic into it: the RETURNs on top, the space's DROP
         * appended below them */
        static const struct {
                CniIsolationRule rule;
                char action;
        } steps[] = {
                {CNI_ISOLATION_RULE_ESTABLISHED, 'I'},
                {CNI_ISOLATION_RULE_BRIDGE, 'I'},
                {CNI_ISOLATION_RULE_DROP, 'A'},
                {CNI_ISOLATION_RULE_JUMP, 'I'},
        };
        for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
                r = rule_ensure(iso, steps[i].rule, bridge, steps[i].action, ret_error);
                if (r < 0)
                        return r;
                changed |= r;
        }
        return changed;
}

static int remove_all_locked(CniIsolation *iso, char **ret_error)
{
        /* No chain, no jump: iptables refuses a jump to a missing chain, and a chain that is jumped to
         * cannot be deleted (nor can -C even name the jump's target then). */
        _cleanup_free_ char *listing = NULL;
        int r = chain_do(iso, 'S', &listing, ret_error);
        if (r <= 0)
                return r;
        r = rule_delete(iso, CNI_ISOLATION_RULE_JUMP, NULL, ret_error);
        if (r >= 0)
                r = chain_do(iso, 'F', NULL, ret_error);
        if (r >= 0)
                r = chain_do(iso, 'X', NULL, ret_error);
        return r < 0 ? r : 1;
}

static int list_locked(CniIsolation *iso, char ***ret, size_t *ret_n, char **ret_error)
{
        _cleanup_free_ char *listing = NULL;
        int r = chain_do(iso, 'S', &listing, ret_error);
        if (r < 0)
                return r;
        return cni_isolation_parse_bridges(&iso->config, listing ? listing : "", ret, ret_n);
}

static int remove_locked(CniIsolation *iso, const char *bridge, char **ret_error)
{
        /* the DROP first: a bridge is never left dropped from without its RETURN */
        int removed = rule_delete(iso, CNI_ISOLATION_RULE_DROP, bridge, ret_error);
        if (removed < 0)
                return removed;
        int r0 = rule_delete(iso, CNI_ISOLATION_RULE_BRIDGE, bridge, ret_error);
        if (r0 < 0)
                return r0;
        removed |= r0;
        _cleanup_strv_ char **left = NULL;
        size_t n = 0;
        int r = list_locked(iso, &left, &n, ret_error);
        if (r < 0)
                return r;
        if (n > 0)
                return removed;
        /* the last space is gone: nothing of ours stays behind */
        r = remove_all_locked(iso, ret_error);
        return r < 0 ? r : removed | r;
}

/* Runs one operation under the lock. bridges: LIST's result. */
static int iso_run(CniIsolation *iso, CniIsolationOp op, const char *bridge, char ***ret_bridges,
                   size_t *ret_n, char **ret_error)
{
        if (ret_error)
                *ret_error = NULL;
        if (!iso || ((op == CNI_ISOLATION_ENSURE || op == CNI_ISOLATION_REMOVE) &&
                     !cni_isolation_bridge_is_valid(&iso->config, bridge)))
                return -EINVAL;
        int r;
        pthread_mutex_lock(&iso->lock);
        switch (op) {
        case CNI_ISOLATION_ENSURE:
                r = ensure_locked(iso, bridge, ret_error);
                break;
        case CNI_ISOLATION_REMOVE:
                r = remove_locked(iso, bridge, ret_error);
                break;
        case CNI_ISOLATION_LIST:
                r = list_locked(iso, ret_bridges, ret_n, ret_error);
                break;
        case CNI_ISOLATION_REMOVE_ALL:
                r = remove_all_locked(iso, ret_error);
                break;
        default:
                r = -EINVAL;
        }
        pthread_mutex_unlock(&iso->lock);
        return r;
}

int cni_isolation_ensure(CniIsolation *iso, const char *bridge, char **ret_error)
{
        return iso_run(iso, CNI_ISOLATION_ENSURE, bridge, NULL, NULL, ret_error);
}

int cni_isolation_remove(CniIsolation *iso, const char *bridge, char **ret_error)
{
        return iso_run(iso, CNI_ISOLATION_REMOVE, bridge, NULL, NULL, ret_error);
}

int cni_isolation_list(CniIsolation *iso, char ***ret, size_t *ret_n, char **ret_error)
{
        return iso_run(iso, CNI_ISOLATION_LIST, NULL, ret, ret_n, ret_error);
}

int cni_isolation_remove_all(CniIsolation *iso, char **ret_error)
{
        return iso_run(iso, CNI_ISOLATION_REMOVE_ALL, NULL, NULL, NULL, ret_error);
}

/* ---- on the loop's thread pool ---- */

typedef struct IsolationWork {
        uv_work_t req;
        CniIsolation *iso;
        CniIsolationOp op;
        char *bridge;
        int r;
        char *message;
        char **bridges;
        cni_isolation_cb cb;
        void *userdata;
} IsolationWork;

static void on_isolation_work(uv_work_t *req)
{
        IsolationWork *w = req->data;
        w->r = iso_run(w->iso, w->op, w->bridge, &w->bridges, NULL, &w->message);
}

static void on_isolation_done(uv_work_t *req, int status)
{
        IsolationWork *w = req->data;
        if (status < 0)
                w->r = status; /* UV_ECANCELED: uv_cancel() before it ran */
        const char *message = w->r < 0 && w->message ? w->message : w->r < 0 ? strerror(-w->r) : "";
        w->cb(w->r, message, w->r >= 0 ? w->bridges : NULL, w->userdata);
        cni_strv_free(w->bridges);
        free(w->message);
        free(w->bridge);
        free(w);
}

int cni_isolation_submit(uv_loop_t *loop, CniIsolation *iso, CniIsolationOp op, const char *bridge,
                         cni_isolation_cb cb, void *userdata)
{
        if (!loop || !iso || !cb || (int)op < 0 || (int)op >= _CNI_ISOLATION_OP_MAX)
                return -EINVAL;
        if ((op == CNI_ISOLATION_ENSURE || op == CNI_ISOLATION_REMOVE) &&
            !cni_isolation_bridge_is_valid(&iso->config, bridge))
                return -EINVAL;
        IsolationWork *w = calloc(1, sizeof(IsolationWork));
        if (!w)
                return -ENOMEM;
        if (bridge && !(w->bridge = strdup(bridge))) {
                free(w);
                return -ENOMEM;
        }
        w->req.data = w;
        w->iso = iso;
        w->op = op;
        w->cb = cb;
        w->userdata = userdata;
        int r = uv_queue_work(loop, &w->req, on_isolation_work, on_isolation_done);
        if (r < 0) {
                free(w->bridge);
                free(w);
        }
        return r;
}
