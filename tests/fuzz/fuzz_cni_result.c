/* drivers/cni/proto.c: what a CNI plugin printed, read as cni_exec_*() read it: a result (ADD), a
 * VERSION answer, or an error object with a non-zero exit.
 *
 * Input: one control byte, then the plugin's stdout. The control byte picks the command (bits 0-1), a
 * non-zero exit status (bit 2), a signal (bit 3), a timeout (bit 4), and whether stderr holds the same
 * bytes as stdout (bit 5) for the message's stderr tail.
 *
 * Invariants: the result is 0 with no message, or negative with a message naming the plugin; JSON comes
 * back only for a successful ADD or VERSION; an address cni_result_ipv4() reports is a dotted quad with
 * a prefix of at most 32 and a gateway that is empty or one. A result that is an object also goes through
 * the conflist checks of the same file (cni_conflist_check_shape(), cni_plugin_config()). */
#include <arpa/inet.h>

#include "drivers/cni/cni-internal.h"
#include "tests/fuzz/fuzz.h"

static void check_ipv4(const json_t *result, const char *ifname)
{
        char ip[CNI_IP_MAX], gw[CNI_IP_MAX];
        unsigned prefix = 99;
        struct in_addr in;
        if (cni_result_ipv4(result, ifname, ip, &prefix, gw) < 0)
                return;
        FUZZ_CHECK(inet_pton(AF_INET, ip, &in) == 1 && prefix <= 32, "address \"%s\" prefix %u", ip, prefix);
        FUZZ_CHECK(!*gw || inet_pton(AF_INET, gw, &in) == 1, "gateway \"%s\"", gw);
}

/* A JSON object taken for a conflist: when its shape passes, every plugin's configuration carries the
 * list's name and cniVersion and its own type. */
static void check_conflist(const json_t *conflist)
{
        char *why = NULL;
        if (cni_conflist_check_shape(conflist, &why) < 0) {
                free(why);
                return;
        }
        const json_t *plugins = json_object_get(conflist, "plugins");
        for (size_t i = 0; i < json_array_size(plugins); i++) {
                json_t *c = NULL;
                if (cni_plugin_config(conflist, i, conflist, conflist, &c) < 0)
                        continue; /* -ENOMEM */
                FUZZ_CHECK(json_equal(json_object_get(c, "name"), json_object_get(conflist, "name")) &&
                                   json_equal(json_object_get(c, "cniVersion"),
                                              json_object_get(conflist, "cniVersion")) &&
                                   json_equal(json_object_get(c, "type"),
                                              json_object_get(json_array_get(plugins, i), "type")),
                           "plugin %zu's configuration", i);
                json_decref(c);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        unsigned ctl = data[0];
        CniCommand cmd = (CniCommand)(ctl & 3);
        CniProcOutcome o = {
                .exit_status = (ctl & 4) ? 1 : 0,
                .term_signal = (ctl & 8) ? 9 : 0,
                .timed_out = (ctl & 16) != 0,
                .out = (const char *)data + 1,
                .out_len = size - 1,
                .err = (ctl & 32) ? (const char *)data + 1 : "",
                .err_len = (ctl & 32) ? size - 1 : 0,
        };
        json_t *j = NULL;
        char *msg = NULL;
        int r = cni_outcome_parse("bridge", cmd, 5000, &o, &j, &msg);
        if (r == -ENOMEM) {
                free(msg);
                json_decref(j);
                return 0;
        }
        if (r < 0)
                FUZZ_CHECK(msg && strncmp(msg, "bridge: ", 8) == 0 && !j, "r=%d message \"%s\"", r,
                           strempty(msg));
        else
                FUZZ_CHECK(r == 0 && !msg && (!j || cmd == CNI_CMD_ADD || cmd == CNI_CMD_VERSION),
                           "r=%d message \"%s\"", r, strempty(msg));
        if (j) {
                FUZZ_CHECK(json_is_object(j), "a result that is not an object");
                check_ipv4(j, NULL);
                check_ipv4(j, "net1");
                (void)cni_version_supported(j, "1.0.0");
                check_conflist(j);
        }
        free(msg);
        json_decref(j);
        return 0;
}
