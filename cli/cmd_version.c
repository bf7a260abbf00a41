/* kuke version: our version, and whether kukeond holds its lock. */
#include <stdio.h>

#include "common/pidlock.h"
#include "cli/cli.h"

#ifndef KUKEON_VERSION
#define KUKEON_VERSION "0.0.0"
#endif

int verb_version(Cli *cli, int argc, char **argv)
{
        static const struct option options[] = {CLI_OPTIONS_GLOBAL, {}};
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
                int r = option_common(cli, NULL, NULL, c, optarg);
                if (r > 0)
                        continue;
                if (c == 'h') {
                        printf("Usage: kuke version [--state-dir DIR]\n"
                               "\n"
                               "Prints the version of kuke and whether kukeond is running.\n");
                        return EXIT_OK;
                }
                return option_error("version", c, argv);
        }
        if (optind < argc)
                return log_usage("version", "unexpected argument \"%s\"", argv[optind]);
        printf("kuke version %s\n", KUKEON_VERSION);
        pid_t pid = 0;
        int r = pidlock_test(cli->state_dir, &pid);
        if (r > 0 && pid > 0)
                printf("kukeond: running (pid %d)\n", (int)pid);
        else if (r > 0)
                printf("kukeond: running\n");
        else if (r == 0)
                printf("kukeond: not running\n");
        else
                printf("kukeond: unknown (%s/kukeond.pid: %s)\n", cli->state_dir, strerror(-r));
        return EXIT_OK;
}
