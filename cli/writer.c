/* What the writing verbs share: opening the store, writing a manifest unless it is unchanged, and
 * creating missing parents with default specs. */
#include <limits.h>
#include <stdio.h>

#include "cli/cli.h"

int writer_open_store(const Cli *cli, Store **ret)
{
        int r = store_open(cli->run_path, true, ret);
        if (r < 0)
                return log_error_errno(r, "cannot open the run path %s: %m", cli->run_path);
        return 0;
}

bool writer_spec_exists(Store *s, const ResourceId *id)
{
        char rel[PATH_MAX];
        return store_spec_path(id, rel, sizeof(rel)) >= 0 && store_exists(s, rel);
}

/* 1 when the manifest on disk has digest, 0 when it differs or does not decode, <0 on read errors. */
static int spec_has_digest(Store *s, const ResourceId *id, const char *digest)
{
        _cleanup_document_ Document *old = NULL;
        _cleanup_(diag_done) Diag diag = DIAG_INIT;
        char old_digest[72];
        int r = store_read_spec(s, id, &old, &diag);
        if (r == -EINVAL || r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = document_digest(old, id, old_digest);
        if (r < 0)
                return r;
        return streq(old_digest, digest);
}

int writer_put_spec(Store *s, const ResourceId *id, const Document *d, char ret_digest[static 72])
{
        char q[QNAME_MAX], rel[PATH_MAX];
        int r = document_digest(d, id, ret_digest);
        if (r < 0)
                return log_error_errno(r, "%s \"%s\": cannot compute its digest: %m",
                                       kind_to_string(id->kind), resource_id_qualified(id, q));
        bool exists = writer_spec_exists(s, id);
        if (exists) {
                r = spec_has_digest(s, id, ret_digest);
                if (r < 0)
                        return log_error_errno(r, "%s \"%s\": cannot read the current manifest: %m",
                                               kind_to_string(id->kind), resource_id_qualified(id, q));
                if (r > 0)
                        return 2;
        }
        r = store_write_spec(s, id, d);
        if (r < 0) {
                if (store_spec_path(id, rel, sizeof(rel)) < 0)
                        snprintf(rel, sizeof(rel), "%s", resource_id_qualified(id, q));
                return log_error_errno(r, "cannot write %s/%s: %m", store_run_path(s), rel);
        }
        return exists ? 1 : 0;
}

int writer_ensure_parents(Store *s, const ResourceId *id, WaitList *wl)
{
        ResourceId chain[4];
        size_t n = 0;
        for (ResourceId cur = *id; n < ARRAY_SIZE(chain) && resource_id_parent(&cur, &chain[n]) >= 0; n++)
                cur = chain[n];

        char q[QNAME_MAX], suffix[QNAME_MAX + 32], digest[72];
        snprintf(suffix, sizeof(suffix), "(parent of %s \"%s\")", kind_to_string(id->kind),
                 resource_id_qualified(id, q));
        while (n-- > 0) {
                const ResourceId *p = &chain[n];
                _cleanup_document_ Document *d = NULL;
                if (writer_spec_exists(s, p))
                        continue;
                int r = doc_new_default(p, &d);
                if (r < 0)
                        return log_error_errno(r, "out of memory");
                r = writer_put_spec(s, p, d, digest);
                if (r < 0)
                        return r;
                print_result(p, "created", suffix);
                r = wait_list_add(wl, p, digest, doc_run_state(d));
                if (r < 0)
                        return log_error_errno(r, "out of memory");
        }
        return 0;
}

int writer_wait_existing(Store *s, const ResourceId *id, WaitList *wl)
{
        _cleanup_document_ Document *d = NULL;
        _cleanup_(diag_done) Diag diag = DIAG_INIT;
        char digest[72];
        int r = store_read_spec(s, id, &d, &diag);
        if (r == -EINVAL || r == -ENOENT)
                return 0; /* nothing to wait for: kukeond reports the bad manifest itself */
        if (r >= 0)
                r = document_digest(d, id, digest);
        if (r >= 0)
                r = wait_list_add(wl, id, digest, doc_run_state(d));
        if (r < 0) {
                char q[QNAME_MAX];
                return log_error_errno(r, "%s \"%s\": cannot read its manifest: %m",
                                       kind_to_string(id->kind), resource_id_qualified(id, q));
        }
        return 0;
}
