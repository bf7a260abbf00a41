/* kuke digest FILE (also __digest): the observedDigest kukeond reports once it has acted on each
 * document of a manifest. For tests and scripts that play the daemon or compare states. */
#include <limits.h>
#include <stdio.h>

#include "cli/cli.h"

/* The identity of a document: from its place when the file lies in the run path, else what it names. */
static int digest_identity(const Cli *cli, const char *file, const Document *d, ResourceId *ret, Diag *diag)
{
        _cleanup_free_ char *abs = realpath(file, NULL), *root = realpath(cli->run_path, NULL);
        size_t n = root ? strlen(root) : 0;
        FileRole role;
        if (abs && root && strncmp(abs, root, n) == 0 && abs[n] == '/' &&
            store_classify_path(abs + n + 1, ret, &role) >= 0 && role == FILE_SPEC)
                return 0;
        return document_identity(d, NULL, ret, diag);
}

static int digest_file(const Cli *cli, const Input *in)
{
        int r = 0;
        for (size_t i = 0; i < in->stream.n; i++) {
                const ParsedDoc *pd = &in->stream.docs[i];
                _cleanup_(diag_done) Diag diag = DIAG_INIT;
                ResourceId id;
                char digest[72];
                if (diag_is_set(&pd->diag) || !pd->doc) {
                        log_diag(&pd->diag);
                        r = -EINVAL;
                        continue;
                }
                if (digest_identity(cli, in->file, pd->doc, &id, &diag) < 0) {
                        log_diag(&diag);
                        r = -EINVAL;
                        continue;
                }
                int k = document_digest(pd->doc, &id, digest);
                if (k < 0) {
                        r = log_error_errno(k, "%s: cannot compute the digest: %m", in->file);
                        continue;
                }
                printf("%s\n", digest);
        }
        return r;
}

int verb_digest(Cli *cli, int argc, char **argv)
{
        static const struct option options[] = {CLI_OPTIONS_GLOBAL, {}};
        _cleanup_(inputs_done) InputList in = {0};
        int c, r = 0;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                if (option_common(cli, NULL, NULL, c, optarg) > 0)
                        continue;
                if (c == 'h') {
                        printf("Usage: kuke digest FILE|-\n"
                               "\n"
                               "Prints the observedDigest of each document of a manifest, one per line.\n");
                        return EXIT_OK;
                }
                return option_error("digest", c, argv);
        }
        if (argc - optind < 1)
                return log_usage("digest", "expected FILE");
        for (int i = optind; i < argc; i++) {
                size_t first = in.n;
                if (inputs_add(&in, argv[i]) < 0)
                        return EXIT_FAIL;
                for (size_t k = first; k < in.n; k++)
                        if (digest_file(cli, &in.items[k]) < 0)
                                r = -EINVAL;
        }
        return r < 0 ? EXIT_FAIL : EXIT_OK;
}
