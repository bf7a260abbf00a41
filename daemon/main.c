/* kukeond: the reconciler. This build only reports its version; the event loop lands with the
 * drivers. */
#include <getopt.h>
#include <stdio.h>

int main(int argc, char **argv)
{
        static const struct option options[] = {
                {"version", no_argument, NULL, 'V'},
                {"help", no_argument, NULL, 'h'},
                {},
        };
        int c;
        while ((c = getopt_long(argc, argv, "hV", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        printf("Usage: kukeond [--version]\n\nThe Kukeon reconciler daemon.\n");
                        return 0;
                case 'V':
                        break;
                default:
                        return 2;
                }
        }
        printf("kukeond %s\n", KUKEON_VERSION);
        return 0;
}
