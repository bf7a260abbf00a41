/* kuke: global options, the verb table and usage. */
#include <stdio.h>

#include "cli/cli.h"

typedef struct Verb {
        const char *name;
        int (*run)(Cli *cli, int argc, char **argv);
} Verb;

static const Verb verbs[] = {
        {"init", verb_init},       {"apply", verb_apply},           {"create", verb_create},
        {"get", verb_get},         {"delete", verb_delete},         {"start", verb_runstate},
        {"stop", verb_runstate},   {"kill", verb_runstate},         {"restart", verb_runstate},
        {"version", verb_version}, {"completion", verb_completion}, {"digest", verb_digest},
        {"__digest", verb_digest}, {"doctor", verb_doctor},         {"logs", verb_logs},
        {"status", verb_status},
};

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: kuke [--run-path PATH] [--state-dir DIR] VERB [ARGS...]\n"
                "\n"
                "kuke writes manifests under the run path and reads the status files kukeond writes next "
                "to\n"
                "them. It never talks to containerd or to the daemon.\n"
                "\n"
                "Verbs:\n"
                "  init                           write the default hierarchy and the system realm\n"
                "  apply -f FILE|DIR|-            create or update resources from manifests\n"
                "  create KIND NAME               create a realm, space, stack or cell from flags\n"
                "  get KIND [NAME]                list or show resources (-o table|wide|yaml|json)\n"
                "  delete KIND NAME | -f FILE     delete resources (--cascade for children)\n"
                "  start|stop|kill|restart NAME   change a cell's run state\n"
                "  logs CELL [-f] [--tail N]      print a container's log (-c CONTAINER; default the root)\n"
                "  status                         report kukeond, containerd and the resources per state\n"
                "  version                        print the version and whether kukeond runs\n"
                "  doctor                         check the host prerequisites, with remedies\n"
                "  completion bash|zsh            print a shell completion script\n"
                "  digest FILE                    print the observedDigest of a manifest\n"
                "\n"
                "KIND: realm, space, stack, cell, container, image (plurals and r, sp, st, ce, co, img "
                "too).\n"
                "\n"
                "Global options (before or after the verb):\n"
                "      --run-path PATH    run path (default $KUKEON_RUN_PATH or " KUKE_DEFAULT_RUN_PATH ")\n"
                "      --state-dir DIR    kukeond's state directory (default $KUKEON_STATE_DIR "
                "or " KUKE_DEFAULT_STATE_DIR ")\n"
                "  -h, --help             help (also after a verb)\n"
                "\n"
                "Writers (init, apply, create, delete, start, stop, kill, restart) wait until kukeond has\n"
                "settled what they wrote: --wait[=true|false] (default true), --timeout DURATION (default "
                "2m).\n"
                "Exit codes: 0 ok, 1 failure, 2 usage error.\n");
}

static void cli_init_from_env(Cli *cli)
{
        const char *e = getenv("KUKEON_RUN_PATH");
        cli->run_path = e && *e ? e : KUKE_DEFAULT_RUN_PATH;
        e = getenv("KUKEON_STATE_DIR");
        cli->state_dir = e && *e ? e : KUKE_DEFAULT_STATE_DIR;
}

int main(int argc, char **argv)
{
        static const struct option options[] = {CLI_OPTIONS_GLOBAL, {}};
        Cli cli;
        int c;
        cli_init_from_env(&cli);
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:h", options, NULL)) >= 0) {
                if (option_common(&cli, NULL, NULL, c, optarg) > 0)
                        continue;
                if (c == 'h') {
                        usage(stdout);
                        return EXIT_OK;
                }
                return option_error(NULL, c, argv);
        }
        if (optind >= argc) {
                usage(stderr);
                return EXIT_USAGE;
        }
        const char *verb = argv[optind];
        if (streq(verb, "help")) {
                usage(stdout);
                return EXIT_OK;
        }
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                if (streq(verbs[i].name, verb))
                        return verbs[i].run(&cli, argc - optind, argv + optind);
        return log_usage(NULL, "unknown verb \"%s\"", verb);
}
