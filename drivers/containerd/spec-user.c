/* process.user: the user string of the container or of the image, resolved the way containerd's Go
 * client does (oci.WithUser, WithUserID, WithUsername, WithAdditionalGIDs), except that the caller hands
 * us the contents of the image's /etc/passwd and /etc/group instead of a mounted rootfs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/containerd/spec-private.h"

/* runc and containerd accept ids up to INT32_MAX. */
#define OCI_ID_MAX 2147483647u

typedef struct Span {
        const char *s;
        size_t n;
} Span;

static bool span_eq(Span a, Span b)
{
        return a.n == b.n && memcmp(a.s, b.s, a.n) == 0;
}

static bool span_eq_str(Span a, const char *s)
{
        return span_eq(a, (Span){s, strlen(s)});
}

/* 0: a decimal id within range; -EINVAL: not a number (a name); -ERANGE: a number out of range. */
static int parse_id(Span sp, uint32_t *ret)
{
        if (sp.n == 0)
                return -EINVAL;
        uint64_t v = 0;
        for (size_t i = 0; i < sp.n; i++) {
                if (sp.s[i] < '0' || sp.s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t)(sp.s[i] - '0');
                if (v > OCI_ID_MAX)
                        return -ERANGE;
        }
        *ret = (uint32_t)v;
        return 0;
}

/* Splits the next line of a passwd/group file into up to max ':'-separated fields. Empty lines and
 * comments are skipped. Returns the number of fields, or 0 at the end of the text. */
static size_t next_entry(const char **p, Span *fields, size_t max)
{
        while (**p) {
                const char *line = *p, *eol = strchrnul(line, '\n');
                *p = *eol ? eol + 1 : eol;
                if (line == eol || line[0] == '#')
                        continue;
                size_t n = 0;
                for (const char *f = line; n < max;) {
                        const char *end = memchr(f, ':', (size_t)(eol - f));
                        if (!end)
                                end = eol;
                        fields[n++] = (Span){f, (size_t)(end - f)};
                        if (end == eol)
                                break;
                        f = end + 1;
                }
                return n;
        }
        return 0;
}

/* passwd(5): name:password:uid:gid:gecos:home:shell. Finds the first entry with that name (when
 * name.s is set) or that uid. Returns 0 or -ENOENT. */
static int passwd_find(const char *passwd, Span name, uint32_t uid, uint32_t *ret_uid, uint32_t *ret_gid,
                       Span *ret_name)
{
        Span f[4];
        for (const char *p = passwd; next_entry(&p, f, ARRAY_SIZE(f)) == 4;) {
                uint32_t u, g;
                if (parse_id(f[2], &u) < 0 || parse_id(f[3], &g) < 0)
                        continue;
                if (name.s ? !span_eq(f[0], name) : u != uid)
                        continue;
                *ret_uid = u;
                *ret_gid = g;
                *ret_name = f[0];
                return 0;
        }
        return -ENOENT;
}

/* group(5): name:password:gid:member,member. Returns 0 or -ENOENT. */
static int group_find(const char *group, Span name, uint32_t *ret_gid)
{
        Span f[3];
        for (const char *p = group; next_entry(&p, f, ARRAY_SIZE(f)) >= 3;)
                if (span_eq(f[0], name) && parse_id(f[2], ret_gid) == 0)
                        return 0;
        return -ENOENT;
}

static bool member_list_has(Span list, Span user)
{
        for (const char *m = list.s, *end = list.s + list.n; m < end;) {
                const char *comma = memchr(m, ',', (size_t)(end - m));
                Span one = {m, (size_t)((comma ? comma : end) - m)};
                if (span_eq(one, user))
                        return true;
                m = comma ? comma + 1 : end;
        }
        return false;
}

static int gids_add(OciUser *u, uint32_t gid)
{
        for (size_t i = 0; i < u->n_gids; i++)
                if (u->gids[i] == gid)
                        return 0;
        uint32_t *n = realloc(u->gids, (u->n_gids + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        u->gids = n;
        u->gids[u->n_gids++] = gid;
        return 0;
}

/* The primary gid, then every group that lists the user as a member (not counting a group named like
 * the user), as WithAdditionalGIDs + ensureAdditionalGids do. */
static int collect_gids(OciUser *u, const char *group, Span username)
{
        int r = gids_add(u, u->gid);
        if (r < 0 || !group || !username.s)
                return r;
        Span f[4];
        for (const char *p = group; next_entry(&p, f, ARRAY_SIZE(f)) == 4;) {
                uint32_t g;
                if (span_eq(f[0], username) || !member_list_has(f[3], username) || parse_id(f[2], &g) < 0)
                        continue;
                if ((r = gids_add(u, g)) < 0)
                        return r;
        }
        return 0;
}

/* The uid part: a number, or a name looked up in passwd ("root" is 0 without one). Sets *ret_gid to the
 * entry's primary gid (0 when there is no entry) and *ret_name to the user's name when known. */
static int resolve_uid(Span part, const char *user, const char *field, const char *passwd, uint32_t *ret_uid,
                       uint32_t *ret_gid, Span *ret_name, char **ret_error)
{
        int r = parse_id(part, ret_uid);
        if (r == -ERANGE)
                return oci_fail(ret_error, "%s: uid in \"%s\" is out of range (at most %u)", field, user,
                                OCI_ID_MAX);
        *ret_gid = 0;
        *ret_name = (Span){0};
        if (r == 0) {
                uint32_t u;
                if (passwd)
                        (void)passwd_find(passwd, (Span){0}, *ret_uid, &u, ret_gid, ret_name);
                return 0;
        }
        if (!passwd && span_eq_str(part, "root")) {
                *ret_uid = 0;
                *ret_name = part;
                return 0;
        }
        if (!passwd)
                return oci_fail(ret_error,
                                "%s: \"%s\" names a user; resolving it needs the image's /etc/passwd, or "
                                "use a numeric uid[:gid]",
                                field, user);
        if (passwd_find(passwd, part, 0, ret_uid, ret_gid, ret_name) < 0)
                return oci_fail(ret_error, "%s: no user \"%.*s\" in the image's /etc/passwd", field,
                                (int)part.n, part.s);
        return 0;
}

static int resolve_gid(Span part, const char *user, const char *field, const char *group, uint32_t *ret_gid,
                       char **ret_error)
{
        int r = parse_id(part, ret_gid);
        if (r == -ERANGE)
                return oci_fail(ret_error, "%s: gid in \"%s\" is out of range (at most %u)", field, user,
                                OCI_ID_MAX);
        if (r == 0)
                return 0;
        if (!group && span_eq_str(part, "root")) {
                *ret_gid = 0;
                return 0;
        }
        if (!group)
                return oci_fail(ret_error,
                                "%s: \"%s\" names a group; resolving it needs the image's /etc/group, or "
                                "use a numeric uid[:gid]",
                                field, user);
        if (group_find(group, part, ret_gid) < 0)
                return oci_fail(ret_error, "%s: no group \"%.*s\" in the image's /etc/group", field,
                                (int)part.n, part.s);
        return 0;
}

/* Splits "u" or "u:g" (ret_g->s is NULL without a ':'). False on an empty part or a second ':'. */
static bool user_split(const char *user, Span *ret_u, Span *ret_g)
{
        const char *colon = strchr(user, ':');
        *ret_u = (Span){user, colon ? (size_t)(colon - user) : strlen(user)};
        *ret_g = colon ? (Span){colon + 1, strlen(colon + 1)} : (Span){0};
        return ret_u->n > 0 && (!colon || (ret_g->n > 0 && !strchr(colon + 1, ':')));
}

int oci_user_resolve(const char *user, const char *field, const char *passwd, const char *group,
                     OciUser *ret, char **ret_error)
{
        OciUser u = {0};
        Span upart, gpart, username;
        int r;

        if (!user || !*user)
                user = "0";
        if (!user_split(user, &upart, &gpart))
                return oci_fail(ret_error, "%s: \"%s\" is not uid, uid:gid, name or name:group", field,
                                user);
        if ((r = resolve_uid(upart, user, field, passwd, &u.uid, &u.gid, &username, ret_error)) < 0 ||
            (gpart.s && (r = resolve_gid(gpart, user, field, group, &u.gid, ret_error)) < 0))
                return r;
        /* uid 0 with no passwd entry: "root", whose groups containerd looks up when no user is given */
        if (!username.s && u.uid == 0)
                username = (Span){"root", 4};
        if ((r = collect_gids(&u, group, username)) < 0) {
                oci_user_done(&u);
                return r;
        }
        *ret = u;
        return 0;
}

void oci_user_done(OciUser *u)
{
        free(u->gids);
        *u = (OciUser){0};
}

bool oci_user_has_names(const char *user)
{
        Span parts[2];
        uint32_t id;
        if (!user || !*user)
                return false;
        (void)user_split(user, &parts[0], &parts[1]);
        for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
                if (parts[i].n > 0 && parse_id(parts[i], &id) == -EINVAL && !span_eq_str(parts[i], "root"))
                        return true;
        return false;
}
