/* Pure helpers of the container and task operations: identity labels, containerd filter strings, the
 * runc shim's options, the shim group annotation, signal names. No I/O. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/macro.h"
#include "drivers/containerd/ctrd-tasks-internal.h"

#include "github.com/containerd/containerd/runtime/v2/runc/options/oci.pb-c.h"

size_t ctrd_identity_labels(const CtrdIdentity *id, CtrdLabel labels[static CTRD_IDENTITY_LABELS_MAX])
{
        const CtrdLabel all[CTRD_IDENTITY_LABELS_MAX] = {
                {CTRD_LABEL_REALM, id->realm},         {CTRD_LABEL_SPACE, id->space},
                {CTRD_LABEL_STACK, id->stack},         {CTRD_LABEL_CELL, id->cell},
                {CTRD_LABEL_CONTAINER, id->container}, {CTRD_LABEL_SPEC_DIGEST, id->spec_digest},
        };
        size_t n = 0;
        for (size_t i = 0; i < ARRAY_SIZE(all); i++)
                if (all[i].value)
                        labels[n++] = all[i];
        return n;
}

const char *ctrd_label_get(const CtrdLabel *labels, size_t n, const char *key)
{
        for (size_t i = 0; i < n; i++)
                if (streq(labels[i].key, key))
                        return labels[i].value;
        return NULL;
}

int ctrd_container_labels(const CtrdLabel *labels, size_t n, const char *group, const char *stop_signal,
                          CtrdLabel **ret, size_t *ret_n)
{
        CtrdLabel *all = calloc(n + 2, sizeof(*all));
        if (!all)
                return -ENOMEM;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
                all[k++] = labels[i];
        if (group)
                all[k++] = (CtrdLabel){CTRD_LABEL_RUNC_GROUP, group};
        if (stop_signal)
                all[k++] = (CtrdLabel){CTRD_LABEL_STOP_SIGNAL, stop_signal};
        for (size_t i = 0; i < k; i++) {
                /* A map: a repeated key would silently keep one of the values. */
                bool is_bad =
                        !all[i].key || !*all[i].key || !all[i].value || ctrd_label_get(all, i, all[i].key);
                if (is_bad) {
                        free(all);
                        return -EINVAL;
                }
        }
        *ret = all;
        *ret_n = k;
        return 0;
}

/* A Go-syntax quoted string, as containerd's filter parser reads it (filters/quote.go). */
static int filter_quote(Buf *b, const char *s)
{
        int r = buf_puts(b, "\"");
        for (const unsigned char *p = (const unsigned char *)s; r >= 0 && *p; p++) {
                if (*p == '"' || *p == '\\')
                        r = buf_printf(b, "\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                        r = buf_printf(b, "\\x%02x", *p);
                else
                        r = buf_append(b, p, 1);
        }
        return r < 0 ? r : buf_puts(b, "\"");
}

char *ctrd_filter_labels(const CtrdLabel *labels, size_t n)
{
        if (n == 0)
                return NULL;
        Buf b = BUF_INIT;
        int r = 0;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = buf_puts(&b, i > 0 ? ",labels." : "labels.");
                if (r >= 0)
                        r = filter_quote(&b, labels[i].key);
                if (r >= 0)
                        r = buf_puts(&b, "==");
                if (r >= 0)
                        r = filter_quote(&b, labels[i].value);
        }
        if (r < 0) {
                buf_done(&b);
                return NULL;
        }
        return buf_steal(&b);
}

char *ctrd_filter_task_events(const char *ns)
{
        Buf b = BUF_INIT;
        int r = buf_puts(&b, "namespace==");
        if (r >= 0)
                r = filter_quote(&b, ns);
        if (r >= 0)
                r = buf_puts(&b, ",topic~=\"^/tasks/\"");
        if (r < 0) {
                buf_done(&b);
                return NULL;
        }
        return buf_steal(&b);
}

int ctrd_runc_options_pack(const CtrdRuncOptions *o, uint8_t **ret, size_t *ret_len)
{
        Containerd__Runc__V1__Options opts = CONTAINERD__RUNC__V1__OPTIONS__INIT;
        if (o->root)
                opts.root = (char *)o->root;
        if (o->binary_name)
                opts.binary_name = (char *)o->binary_name;
        opts.systemd_cgroup = o->systemd_cgroup;
        size_t len = containerd__runc__v1__options__get_packed_size(&opts);
        uint8_t *data = NULL;
        if (len > 0) {
                data = malloc(len);
                if (!data)
                        return -ENOMEM;
                containerd__runc__v1__options__pack(&opts, data);
        }
        *ret = data;
        *ret_len = len;
        return 0;
}

int ctrd_spec_set_group(const char *spec_json, const char *group, char **ret)
{
        json_t *spec = json_loads(spec_json, 0, NULL);
        if (!spec || !json_is_object(spec)) {
                json_decref(spec);
                return -EINVAL;
        }
        int r = 0;
        json_t *annotations = json_object_get(spec, "annotations");
        if (!annotations) {
                annotations = json_object();
                if (!annotations || json_object_set_new(spec, "annotations", annotations) < 0)
                        r = -ENOMEM;
        } else if (!json_is_object(annotations)) {
                r = -EINVAL;
        }
        if (r >= 0 && json_object_set_new(annotations, CTRD_LABEL_RUNC_GROUP, json_string(group)) < 0)
                r = -ENOMEM;
        char *text = r >= 0 ? json_dumps(spec, JSON_COMPACT) : NULL;
        json_decref(spec);
        if (r < 0)
                return r;
        if (!text)
                return -ENOMEM;
        *ret = text;
        return 0;
}

int ctrd_signal_from_string(const char *s)
{
        if (!s || !*s)
                return -EINVAL;
        if (isdigit((unsigned char)s[0])) {
                char *end;
                errno = 0;
                long n = strtol(s, &end, 10);
                if (errno || *end || n < 1 || n >= NSIG)
                        return -EINVAL;
                return (int)n;
        }
        const char *name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
        for (int sig = 1; sig < NSIG; sig++) {
                const char *abbrev = sigabbrev_np(sig);
                if (abbrev && strcasecmp(abbrev, name) == 0)
                        return sig;
        }
        return -EINVAL;
}
