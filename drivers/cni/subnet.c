/* Space subnets: IPv4 CIDR arithmetic and the allocation from the pool. Pure: the inputs are what the
 * spaces' statuses record, so an allocation survives restarts and is released when its space goes. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "drivers/cni/cni-internal.h"

#define SUBNET_MIN_PREFIX 8
#define SUBNET_MAX_PREFIX 28 /* 16 addresses: network, gateway, 13 cells, broadcast */
#define POOL_BLOCK_PREFIX 24

int cni_subnet_gateway(const char *subnet, char ret[static CNI_IP_MAX])
{
        Ipv4Cidr c;
        if (ipv4_cidr_parse(subnet, &c) < 0 || c.prefix > 30)
                return -EINVAL;
        ipv4_format((c.addr & ipv4_prefix_mask(c.prefix)) + 1, ret);
        return 0;
}

static int fail(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(char **ret_error, int r, const char *fmt, ...)
{
        if (ret_error) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0) {
                        *ret_error = NULL;
                        r = -ENOMEM;
                }
                va_end(ap);
        }
        return r;
}

/* The first record of a space other than realm/space whose subnet overlaps c, or NULL. */
static const CniSpaceRecord *find_overlap(const Ipv4Cidr *c, const char *realm, const char *space,
                                          const CniSpaceRecord *records, size_t n_records)
{
        for (size_t i = 0; i < n_records; i++) {
                const CniSpaceRecord *r = &records[i];
                Ipv4Cidr other;
                if (streq_ptr(r->realm, realm) && streq_ptr(r->space, space))
                        continue;
                if (ipv4_cidr_parse(r->subnet, &other) < 0 || !ipv4_cidr_is_network(&other))
                        continue;
                if (ipv4_cidr_overlap(c, &other))
                        return r;
        }
        return NULL;
}

static int check_requested(const char *requested, const char *realm, const char *space,
                           const CniSpaceRecord *records, size_t n_records, char ret[static CNI_SUBNET_MAX],
                           char **ret_error)
{
        Ipv4Cidr c;
        if (ipv4_cidr_parse(requested, &c) < 0)
                return fail(ret_error, -EINVAL, "subnet \"%s\" is not an IPv4 CIDR such as 10.88.1.0/24",
                            requested);
        if (!ipv4_cidr_is_network(&c))
                return fail(ret_error, -EINVAL,
                            "subnet \"%s\" has host bits set: expected the network address", requested);
        if (c.prefix < SUBNET_MIN_PREFIX || c.prefix > SUBNET_MAX_PREFIX)
                return fail(ret_error, -EINVAL, "subnet \"%s\": prefix /%u is out of range (/%d to /%d)",
                            requested, c.prefix, SUBNET_MIN_PREFIX, SUBNET_MAX_PREFIX);
        const CniSpaceRecord *o = find_overlap(&c, realm, space, records, n_records);
        if (o)
                return fail(ret_error, -EADDRINUSE, "subnet %s overlaps %s of space %s/%s", requested,
                            o->subnet, o->realm, o->space);
        ipv4_cidr_format(&c, ret);
        return 0;
}

/* The space's own recorded subnet, when it is still free of overlaps. */
static bool recorded_subnet(const char *realm, const char *space, const CniSpaceRecord *records,
                            size_t n_records, char ret[static CNI_SUBNET_MAX])
{
        for (size_t i = 0; i < n_records; i++) {
                const CniSpaceRecord *r = &records[i];
                Ipv4Cidr c;
                if (!streq_ptr(r->realm, realm) || !streq_ptr(r->space, space))
                        continue;
                if (ipv4_cidr_parse(r->subnet, &c) < 0 || !ipv4_cidr_is_network(&c) ||
                    c.prefix < SUBNET_MIN_PREFIX || c.prefix > SUBNET_MAX_PREFIX)
                        continue;
                if (find_overlap(&c, realm, space, records, n_records))
                        continue;
                ipv4_cidr_format(&c, ret);
                return true;
        }
        return false;
}

int cni_subnet_allocate(const char *pool, const char *realm, const char *space, const char *requested,
                        const CniSpaceRecord *records, size_t n_records, char ret[static CNI_SUBNET_MAX],
                        char **ret_error)
{
        if (ret_error)
                *ret_error = NULL;
        if (requested)
                return check_requested(requested, realm, space, records, n_records, ret, ret_error);
        if (recorded_subnet(realm, space, records, n_records, ret))
                return 0;

        pool = pool ? pool : CNI_DEFAULT_SUBNET_POOL;
        Ipv4Cidr p;
        if (ipv4_cidr_parse(pool, &p) < 0 || !ipv4_cidr_is_network(&p) || p.prefix > POOL_BLOCK_PREFIX)
                return fail(
                        ret_error, -EINVAL,
                        "subnet pool \"%s\" is not an IPv4 network of /%d or larger such as 10.88.0.0/16",
                        pool, POOL_BLOCK_PREFIX);

        uint64_t blocks = (uint64_t)1 << (POOL_BLOCK_PREFIX - p.prefix);
        for (uint64_t i = 0; i < blocks; i++) {
                Ipv4Cidr c = {.addr = p.addr + (uint32_t)(i << (32 - POOL_BLOCK_PREFIX)),
                              .prefix = POOL_BLOCK_PREFIX};
                if (!find_overlap(&c, realm, space, records, n_records)) {
                        ipv4_cidr_format(&c, ret);
                        return 0;
                }
        }
        return fail(ret_error, -ENOSPC, "subnet pool %s has no free /%d left", pool, POOL_BLOCK_PREFIX);
}
