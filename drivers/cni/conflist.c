/* A space's conflist as a JSON document: building it, formatting it for disk, reading it back. */
#include <string.h>

#include "drivers/cni/cni-internal.h"

static json_t *bridge_plugin(const CniNetworkConfig *c)
{
        json_t *ipam = json_pack("{s:s, s:[[{s:s}]], s:[{s:s}]}", "type", "host-local", "ranges", "subnet",
                                 c->subnet, "routes", "dst", "0.0.0.0/0");
        if (!ipam)
                return NULL;
        if (c->ipam_data_dir && json_object_set_new(ipam, "dataDir", json_string(c->ipam_data_dir)) < 0) {
                json_decref(ipam);
                return NULL;
        }
        /* "o": the plugin object takes the reference to ipam, also when packing fails */
        return json_pack("{s:s, s:s, s:b, s:b, s:b, s:o}", "type", "bridge", "bridge", c->bridge,
                         "isGateway", 1, "ipMasq", 1, "hairpinMode", 1, "ipam", ipam);
}

int cni_conflist_build(const CniNetworkConfig *c, json_t **ret)
{
        char name[CNI_NETWORK_NAME_MAX];
        Ipv4Cidr subnet;
        if (!c->realm || !*c->realm || !c->space || !*c->space || !cni_ifname_is_valid(c->bridge) ||
            ipv4_cidr_parse(c->subnet, &subnet) < 0 || !ipv4_cidr_is_network(&subnet) ||
            (c->ipam_data_dir && c->ipam_data_dir[0] != '/'))
                return -EINVAL;
        int r = cni_network_name(c->realm, c->space, name, sizeof(name));
        if (r < 0)
                return -EINVAL;

        json_t *bridge = bridge_plugin(c);
        if (!bridge)
                return -ENOMEM;
        /* Port mappings are capability arguments: the runtime hands them over per attachment as
         * runtimeConfig.portMappings; without any the plugin passes the result through. */
        json_t *portmap = json_pack("{s:s, s:{s:b}}", "type", "portmap", "capabilities", "portMappings", 1);
        if (!portmap) {
                json_decref(bridge);
                return -ENOMEM;
        }
        json_t *list = json_pack("{s:s, s:s, s:[o,o]}", "cniVersion", CNI_SPEC_VERSION, "name", name,
                                 "plugins", bridge, portmap);
        if (!list)
                return -ENOMEM;
        *ret = list;
        return 0;
}

char *cni_conflist_format(const json_t *conflist)
{
        _cleanup_free_ char *text = json_dumps(conflist, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (!text)
                return NULL;
        Buf b = BUF_INIT;
        if (buf_puts(&b, text) < 0 || buf_puts(&b, "\n") < 0) {
                buf_done(&b);
                return NULL;
        }
        return buf_steal(&b);
}

int cni_conflist_network(const json_t *conflist, const char **ret_name, const char **ret_bridge,
                         const char **ret_subnet)
{
        const char *name = json_string_value(json_object_get(conflist, "name"));
        json_t *plugins = json_object_get(conflist, "plugins");
        if (!name || !json_is_array(plugins))
                return -EINVAL;

        size_t i;
        json_t *p;
        json_array_foreach (plugins, i, p) {
                if (!streq_ptr(json_string_value(json_object_get(p, "type")), "bridge"))
                        continue;
                const char *bridge = json_string_value(json_object_get(p, "bridge"));
                json_t *ranges = json_object_get(json_object_get(p, "ipam"), "ranges");
                const char *subnet = json_string_value(
                        json_object_get(json_array_get(json_array_get(ranges, 0), 0), "subnet"));
                if (!bridge || !subnet)
                        return -EINVAL;
                *ret_name = name;
                *ret_bridge = bridge;
                *ret_subnet = subnet;
                return 0;
        }
        return -EINVAL;
}
