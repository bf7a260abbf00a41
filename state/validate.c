/* Manifest validation: names, identity against the path, and the rules of each kind. The first problem
 * is reported, positioned at the field it concerns (or the nearest field that exists). */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "common/buf.h"
#include "common/ipv4.h"
#include "state/document.h"
#include "state/schema.h"

typedef struct Validator {
        const char *file;
        const YNode *root;
        Diag *diag;
} Validator;

static int vfail(Validator *v, const char *path, const char *fmt, ...) _printf_(3, 4);
static int vfail(Validator *v, const char *path, const char *fmt, ...)
{
        const YNode *n = v->root ? ynode_lookup(v->root, path) : NULL;
        va_list ap;
        va_start(ap, fmt);
        int r = diag_setv(v->diag, -EINVAL, v->file, n ? n->line : 0, n ? n->col : 0, path, fmt, ap);
        va_end(ap);
        return r;
}

/* Formats a field path into buf (truncated when absurdly long) and returns buf. */
static char *pathf(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);
static char *pathf(char *buf, size_t size, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        return buf;
}
#define PATHF(buf, ...) pathf(buf, sizeof(buf), __VA_ARGS__)

static int check_name(Validator *v, const char *path, const char *what, const char *name)
{
        if (!name || !*name)
                return vfail(v, path, "required field is missing");
        if (!name_is_valid(name))
                return vfail(v, path,
                             "%s name \"%s\" is invalid: expected a DNS-1123 label (lowercase letters, "
                             "digits and "
                             "'-', starting and ending with a letter or digit, at most 63 bytes)",
                             what, name);
        if (name_is_reserved(name))
                return vfail(v, path, "%s name \"%s\" is reserved", what, name);
        return 0;
}

static int check_parent(Validator *v, const char *path, const char *value, const char *expected,
                        const char *level)
{
        if (value && !streq(value, expected))
                return vfail(v, path, "\"%s\" does not match the %s \"%s\" where the manifest is", value,
                             level, expected);
        return 0;
}

static bool label_key_is_valid(const char *k)
{
        size_t n = strlen(k);
        if (n == 0 || n > 253)
                return false;
        for (const char *p = k; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr("._-/", *p)))
                        return false;
        return true;
}

static int check_metadata(Validator *v, const Document *d, const ResourceId *id)
{
        int r = check_name(v, "metadata.name", kind_to_noun(d->kind), d->metadata.name);
        if (r < 0)
                return r;
        if (!streq(d->metadata.name, id->name))
                return vfail(v, "metadata.name", "\"%s\" does not match the name \"%s\" its path gives",
                             d->metadata.name, id->name);
        char path[320];
        for (size_t i = 0; i < d->metadata.labels.n; i++) {
                const StrPair *p = &d->metadata.labels.items[i];
                if (!label_key_is_valid(p->key))
                        return vfail(v, PATHF(path, "metadata.labels.%s", p->key),
                                     "invalid label key: expected letters, digits, '.', '_', '-' or '/'");
                if (strlen(p->value) > 63)
                        return vfail(v, PATHF(path, "metadata.labels.%s", p->key),
                                     "label values are at most 63 bytes");
        }
        for (size_t i = 0; i < d->metadata.annotations.n; i++)
                if (!label_key_is_valid(d->metadata.annotations.items[i].key))
                        return vfail(
                                v,
                                PATHF(path, "metadata.annotations.%s", d->metadata.annotations.items[i].key),
                                "invalid annotation key: expected letters, digits, '.', '_', '-' or '/'");
        return 0;
}

static bool is_abs_path(const char *p)
{
        return p && p[0] == '/' && !strstr(p, "/../") &&
               !(strlen(p) >= 3 && streq(p + strlen(p) - 3, "/.."));
}

static int check_cidr(Validator *v, const char *path, const char *s, unsigned min_prefix,
                      unsigned max_prefix)
{
        Ipv4Cidr c;
        if (ipv4_cidr_parse(s, &c) < 0)
                return vfail(v, path, "\"%s\" is not an IPv4 CIDR such as 10.88.1.0/24", s);
        if (c.prefix < min_prefix || c.prefix > max_prefix)
                return vfail(v, path, "prefix /%u is out of range (/%u to /%u)", c.prefix, min_prefix,
                             max_prefix);
        if (!ipv4_cidr_is_network(&c))
                return vfail(v, path, "\"%s\" has host bits set: expected the network address", s);
        return 0;
}

static int check_resources(Validator *v, const char *path, const Resources *res)
{
        char p[160];
        if (schema_has(&resources_schema, res, "cpuPeriodMicros") &&
            !schema_has(&resources_schema, res, "cpuQuotaMicros"))
                return vfail(v, PATHF(p, "%s.cpuPeriodMicros", path), "only meaningful with cpuQuotaMicros");
        return 0;
}

static int check_capabilities(Validator *v, const char *path, const StrList *l)
{
        static const char *const known[] = {
                "CHOWN",
                "DAC_OVERRIDE",
                "DAC_READ_SEARCH",
                "FOWNER",
                "FSETID",
                "KILL",
                "SETGID",
                "SETUID",
                "SETPCAP",
                "LINUX_IMMUTABLE",
                "NET_BIND_SERVICE",
                "NET_BROADCAST",
                "NET_ADMIN",
                "NET_RAW",
                "IPC_LOCK",
                "IPC_OWNER",
                "SYS_MODULE",
                "SYS_RAWIO",
                "SYS_CHROOT",
                "SYS_PTRACE",
                "SYS_PACCT",
                "SYS_ADMIN",
                "SYS_BOOT",
                "SYS_NICE",
                "SYS_RESOURCE",
                "SYS_TIME",
                "SYS_TTY_CONFIG",
                "MKNOD",
                "LEASE",
                "AUDIT_WRITE",
                "AUDIT_CONTROL",
                "SETFCAP",
                "MAC_OVERRIDE",
                "MAC_ADMIN",
                "SYSLOG",
                "WAKE_ALARM",
                "BLOCK_SUSPEND",
                "AUDIT_READ",
                "PERFMON",
                "BPF",
                "CHECKPOINT_RESTORE",
        };
        char p[160];
        for (size_t i = 0; i < l->n; i++) {
                const char *c = l->items[i];
                if (strcasecmp(c, "ALL") == 0)
                        continue;
                const char *bare = strncasecmp(c, "CAP_", 4) == 0 ? c + 4 : c;
                bool ok = false;
                for (size_t k = 0; k < ARRAY_SIZE(known) && !ok; k++)
                        ok = strcasecmp(bare, known[k]) == 0;
                if (!ok)
                        return vfail(v, PATHF(p, "%s[%zu]", path, i),
                                     "unknown capability \"%s\": expected a name such as NET_ADMIN or ALL",
                                     c);
        }
        return 0;
}

static int check_volumes(Validator *v, const char *path, const ContainerSpec *c)
{
        char p[192];
        for (size_t i = 0; i < c->n_volumes; i++) {
                const Volume *vol = &c->volumes[i];
                if (!vol->target)
                        return vfail(v, PATHF(p, "%s.volumes[%zu].target", path, i),
                                     "required field is missing");
                if (!is_abs_path(vol->target) || streq(vol->target, "/"))
                        return vfail(v, PATHF(p, "%s.volumes[%zu].target", path, i),
                                     "expected an absolute path other than /, found \"%s\"", vol->target);
                for (size_t k = 0; k < i; k++)
                        if (streq_ptr(c->volumes[k].target, vol->target))
                                return vfail(v, PATHF(p, "%s.volumes[%zu].target", path, i),
                                             "\"%s\" is already the target of volumes[%zu]", vol->target, k);
                if (vol->kind == VOLUME_BIND) {
                        if (!vol->source)
                                return vfail(v, PATHF(p, "%s.volumes[%zu].source", path, i),
                                             "required for a bind volume");
                        if (!is_abs_path(vol->source))
                                return vfail(v, PATHF(p, "%s.volumes[%zu].source", path, i),
                                             "expected an absolute path, found \"%s\"", vol->source);
                        if (vol->mode || vol->size_bytes)
                                return vfail(v,
                                             PATHF(p, "%s.volumes[%zu].%s", path, i,
                                                   vol->mode ? "mode" : "sizeBytes"),
                                             "only for tmpfs volumes");
                } else {
                        if (vol->source)
                                return vfail(v, PATHF(p, "%s.volumes[%zu].source", path, i),
                                             "a tmpfs volume takes no source");
                        if (vol->mode && (strlen(vol->mode) < 3 || strlen(vol->mode) > 4 ||
                                          strspn(vol->mode, "01234567") != strlen(vol->mode)))
                                return vfail(v, PATHF(p, "%s.volumes[%zu].mode", path, i),
                                             "expected an octal mode such as \"1777\", found \"%s\"",
                                             vol->mode);
                }
        }
        return 0;
}

static int check_env(Validator *v, const char *path, const StrList *env)
{
        char p[192];
        for (size_t i = 0; i < env->n; i++) {
                const char *eq = strchr(env->items[i], '=');
                if (!eq || eq == env->items[i])
                        return vfail(v, PATHF(p, "%s.env[%zu]", path, i), "expected KEY=VALUE, found \"%s\"",
                                     env->items[i]);
        }
        return 0;
}

static bool image_ref_is_valid(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 512)
                return false;
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p <= ' ' || *p == 0x7f)
                        return false;
        return s[0] != '-' && s[0] != ':' && s[0] != '/' && s[n - 1] != ':' && s[n - 1] != '/';
}

static int check_container_identity(Validator *v, const char *path, const ContainerSpec *c,
                                    const ResourceId *id)
{
        char p[192];
        int r;
        if ((r = check_parent(v, PATHF(p, "%s.realmId", path), c->realm_id, id->realm, "realm")) < 0 ||
            (r = check_parent(v, PATHF(p, "%s.spaceId", path), c->space_id, id->space, "space")) < 0 ||
            (r = check_parent(v, PATHF(p, "%s.stackId", path), c->stack_id, id->stack, "stack")) < 0)
                return r;
        return check_parent(v, PATHF(p, "%s.cellId", path), c->cell_id, id->cell, "cell");
}

static int check_container(Validator *v, const char *path, const ContainerSpec *c, bool is_root)
{
        const Schema *s = &container_spec_schema;
        char p[192];
        int r;

        if ((r = check_name(v, PATHF(p, "%s.id", path), "container", c->id)) < 0)
                return r;
        if (!is_root && streq(c->id, "root"))
                return vfail(
                        v, PATHF(p, "%s.id", path),
                        "\"root\" is reserved for the root container (its containerd id ends in _root)");
        if (c->containerd_id)
                return vfail(v, PATHF(p, "%s.containerdId", path), "is set by kukeond, not in a manifest");
        if (c->external) {
                static const char *const not_external[] = {"image",
                                                           "command",
                                                           "args",
                                                           "volumes",
                                                           "restartPolicy",
                                                           "restartBackoffSeconds",
                                                           "restartMaxRetries"};
                if (!is_root)
                        return vfail(v, PATHF(p, "%s.external", path),
                                     "only the root container can be external");
                for (size_t i = 0; i < ARRAY_SIZE(not_external); i++)
                        if (schema_has(s, c, not_external[i]))
                                return vfail(v, PATHF(p, "%s.%s", path, not_external[i]),
                                             "an external container takes no %s", not_external[i]);
        } else {
                if (!c->image)
                        return vfail(v, PATHF(p, "%s.image", path), "required field is missing");
                if (!image_ref_is_valid(c->image))
                        return vfail(v, PATHF(p, "%s.image", path), "\"%s\" is not an image reference",
                                     c->image);
        }
        if (c->working_dir && !is_abs_path(c->working_dir))
                return vfail(v, PATHF(p, "%s.workingDir", path), "expected an absolute path, found \"%s\"",
                             c->working_dir);
        if (c->user && (!*c->user || strchr(c->user, ' ')))
                return vfail(v, PATHF(p, "%s.user", path), "expected uid[:gid] or a user name");
        if ((r = check_env(v, path, &c->env)) < 0 || (r = check_volumes(v, path, c)) < 0 ||
            (r = check_resources(v, PATHF(p, "%s.resources", path), &c->resources)) < 0 ||
            (r = check_capabilities(v, PATHF(p, "%s.capabilities.add", path), &c->capabilities.add)) < 0 ||
            (r = check_capabilities(v, PATHF(p, "%s.capabilities.drop", path), &c->capabilities.drop)) < 0)
                return r;
        bool has_policy = schema_has(s, c, "restartPolicy");
        if (schema_has(s, c, "restartBackoffSeconds") && (!has_policy || c->restart_policy == RESTART_NEVER))
                return vfail(v, PATHF(p, "%s.restartBackoffSeconds", path),
                             "only meaningful with restartPolicy always or on-failure");
        if (schema_has(s, c, "restartMaxRetries") &&
            (!has_policy || c->restart_policy != RESTART_ON_FAILURE))
                return vfail(v, PATHF(p, "%s.restartMaxRetries", path),
                             "only meaningful with restartPolicy on-failure");
        return 0;
}

static int check_cell(Validator *v, const CellSpec *c, const ResourceId *id)
{
        char p[96];
        int r;
        if (c->n_containers == 0)
                return vfail(v, "spec.containers", "expected at least one container");
        const ContainerSpec *marked = NULL;
        for (size_t i = 0; i < c->n_containers; i++) {
                const ContainerSpec *k = &c->containers[i];
                for (size_t j = 0; j < i && k->id; j++)
                        if (streq_ptr(c->containers[j].id, k->id))
                                return vfail(v, PATHF(p, "spec.containers[%zu].id", i),
                                             "duplicate container id \"%s\" (also spec.containers[%zu])",
                                             k->id, j);
                if (k->root) {
                        if (marked)
                                return vfail(v, PATHF(p, "spec.containers[%zu].root", i),
                                             "only one container can be the root (\"%s\" already is)",
                                             marked->id);
                        marked = k;
                }
        }
        if (c->root_container_id) {
                bool found = false;
                for (size_t i = 0; i < c->n_containers && !found; i++)
                        found = streq_ptr(c->containers[i].id, c->root_container_id);
                if (!found)
                        return vfail(v, "spec.rootContainerId", "no container has the id \"%s\"",
                                     c->root_container_id);
                if (marked && !streq_ptr(marked->id, c->root_container_id))
                        return vfail(v, "spec.rootContainerId",
                                     "\"%s\" disagrees with the container marked root: true (\"%s\")",
                                     c->root_container_id, marked->id);
        }
        const ContainerSpec *root = cell_root_container(c);
        for (size_t i = 0; i < c->n_containers; i++) {
                const ContainerSpec *k = &c->containers[i];
                if ((r = check_container(v, PATHF(p, "spec.containers[%zu]", i), k, k == root)) < 0 ||
                    (r = check_container_identity(v, PATHF(p, "spec.containers[%zu]", i), k, id)) < 0)
                        return r;
                if (k->host_network != c->containers[0].host_network)
                        return vfail(
                                v, PATHF(p, "spec.containers[%zu].hostNetwork", i),
                                "must be the same for every container of a cell (they share one network "
                                "namespace)");
        }
        return check_resources(v, "spec.resources", &c->resources);
}

static int check_space(Validator *v, const SpaceSpec *s)
{
        char p[96];
        int r;
        if (s->network.subnet && (r = check_cidr(v, "spec.network.subnet", s->network.subnet, 8, 28)) < 0)
                return r;
        const Egress *e = &s->network.egress;
        for (size_t i = 0; i < e->n_allow; i++) {
                const EgressRule *rule = &e->allow[i];
                if (!!rule->host == !!rule->cidr)
                        return vfail(v, PATHF(p, "spec.network.egress.allow[%zu]", i),
                                     "expected exactly one of host and cidr");
                if (rule->cidr && (r = check_cidr(v, PATHF(p, "spec.network.egress.allow[%zu].cidr", i),
                                                  rule->cidr, 0, 32)) < 0)
                        return r;
                if (rule->host &&
                    (!*rule->host ||
                     strspn(rule->host, "abcdefghijklmnopqrstuvwxyz"
                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != strlen(rule->host)))
                        return vfail(v, PATHF(p, "spec.network.egress.allow[%zu].host", i),
                                     "expected a DNS name, found \"%s\"", rule->host);
                for (size_t k = 0; k < rule->ports.n; k++)
                        for (size_t j = 0; j < k; j++)
                                if (rule->ports.items[j] == rule->ports.items[k])
                                        return vfail(
                                                v,
                                                PATHF(p, "spec.network.egress.allow[%zu].ports[%zu]", i, k),
                                                "duplicate port %lld", (long long)rule->ports.items[k]);
        }
        if (s->cni_config_path) {
                size_t n = strlen(s->cni_config_path);
                if (!is_abs_path(s->cni_config_path) || n < 10 ||
                    !streq(s->cni_config_path + n - 9, ".conflist"))
                        return vfail(v, "spec.cniConfigPath",
                                     "expected an absolute path ending in .conflist");
        }
        const ContainerDefaults *cd = &s->defaults.container;
        if ((r = check_capabilities(v, "spec.defaults.container.capabilities.add", &cd->capabilities.add)) <
                    0 ||
            (r = check_capabilities(v, "spec.defaults.container.capabilities.drop",
                                    &cd->capabilities.drop)) < 0 ||
            (r = check_resources(v, "spec.defaults.container.resources", &cd->resources)) < 0)
                return r;
        return check_resources(v, "spec.resources", &s->resources);
}

static bool namespace_is_valid(const char *s)
{
        size_t n = strlen(s);
        if (n == 0 || n > 76)
                return false;
        bool prev_sep = true;
        for (const char *p = s; *p; p++) {
                bool alnum =
                        (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
                bool sep = *p == '.' || *p == '_' || *p == '-';
                if (!alnum && !sep)
                        return false;
                if (sep && prev_sep)
                        return false;
                prev_sep = sep;
        }
        return !prev_sep;
}

static int check_realm(Validator *v, const RealmSpec *s)
{
        char p[96];
        if (s->namespace && !namespace_is_valid(s->namespace))
                return vfail(
                        v, "spec.namespace",
                        "\"%s\" is not a containerd namespace: expected letters and digits joined by single "
                        "'.', '_' or '-', at most 76 bytes",
                        s->namespace);
        for (size_t i = 0; i < s->n_registry_credentials; i++) {
                const RegistryCredential *c = &s->registry_credentials[i];
                if (!c->server_address || !*c->server_address)
                        return vfail(v, PATHF(p, "spec.registryCredentials[%zu].serverAddress", i),
                                     "required field is missing");
                for (size_t k = 0; k < i; k++)
                        if (streq_ptr(s->registry_credentials[k].server_address, c->server_address))
                                return vfail(v, PATHF(p, "spec.registryCredentials[%zu].serverAddress", i),
                                             "duplicate server \"%s\"", c->server_address);
                if (!c->username != !c->password)
                        return vfail(v,
                                     PATHF(p, "spec.registryCredentials[%zu].%s", i,
                                           c->username ? "password" : "username"),
                                     "username and password go together");
        }
        return check_resources(v, "spec.resources", &s->resources);
}

static int check_image(Validator *v, const ImageSpec *s)
{
        if (!s->reference)
                return vfail(v, "spec.reference", "required field is missing");
        if (!image_ref_is_valid(s->reference))
                return vfail(v, "spec.reference", "\"%s\" is not an image reference", s->reference);
        if (s->source) {
                const char *path = NULL;
                if (strncmp(s->source, "oci-archive:", 12) == 0)
                        path = s->source + 12;
                else if (strncmp(s->source, "docker-archive:", 15) == 0)
                        path = s->source + 15;
                if (!path || !is_abs_path(path))
                        return vfail(v, "spec.source",
                                     "expected oci-archive:/path/to/image.tar or "
                                     "docker-archive:/path/to/image.tar, "
                                     "found \"%s\"",
                                     s->source);
        }
        return 0;
}

static int check_identity(Validator *v, const Document *d, const ResourceId *id)
{
        int r = 0;
        switch (d->kind) {
        case KIND_SPACE:
                return check_parent(v, "spec.realmId", d->spec.space.realm_id, id->realm, "realm");
        case KIND_STACK:
                if ((r = check_parent(v, "spec.id", d->spec.stack.id, id->name, "stack")) < 0 ||
                    (r = check_parent(v, "spec.realmId", d->spec.stack.realm_id, id->realm, "realm")) < 0)
                        return r;
                return check_parent(v, "spec.spaceId", d->spec.stack.space_id, id->space, "space");
        case KIND_CELL:
                if ((r = check_parent(v, "spec.id", d->spec.cell.id, id->name, "cell")) < 0 ||
                    (r = check_parent(v, "spec.realmId", d->spec.cell.realm_id, id->realm, "realm")) < 0 ||
                    (r = check_parent(v, "spec.spaceId", d->spec.cell.space_id, id->space, "space")) < 0)
                        return r;
                return check_parent(v, "spec.stackId", d->spec.cell.stack_id, id->stack, "stack");
        case KIND_IMAGE:
                return check_parent(v, "spec.realmId", d->spec.image.realm_id, id->realm, "realm");
        default:
                return 0;
        }
}

int document_validate(const Document *d, const ResourceId *id, const char *file, const YNode *root,
                      Diag *diag)
{
        Validator v = {.file = file, .root = root, .diag = diag};
        int r;

        if (d->kind == KIND_CONTAINER)
                return vfail(&v, "kind",
                             "Container documents are written by kukeond: put containers in a Cell's "
                             "spec.containers");
        if ((r = check_metadata(&v, d, id)) < 0 || (r = check_identity(&v, d, id)) < 0)
                return r;
        switch (d->kind) {
        case KIND_REALM:
                return check_realm(&v, &d->spec.realm);
        case KIND_SPACE:
                return check_space(&v, &d->spec.space);
        case KIND_STACK:
                return check_resources(&v, "spec.resources", &d->spec.stack.resources);
        case KIND_CELL:
                return check_cell(&v, &d->spec.cell, id);
        case KIND_IMAGE:
                return check_image(&v, &d->spec.image);
        default:
                return vfail(&v, "kind", "unsupported kind");
        }
}
