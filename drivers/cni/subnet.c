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

static uint32_t prefix_mask(unsigned prefix)
{
        return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

int cni_cidr_parse(const char *s, CniCidr *ret)
{
        if (!s)
                return -EINVAL;
        const char *slash = strchr(s, '/');
        if (!slash || slash == s || (size_t)(slash - s) >= INET_ADDRSTRLEN)
                return -EINVAL;
        char addr[INET_ADDRSTRLEN];
        memcpy(addr, s, (size_t)(slash - s));
        addr[slash - s] = '\0';
        struct in_addr in;
        if (inet_pton(AF_INET, addr, &in) != 1)
                return -EINVAL;

        const char *p = slash + 1;
        size_t digits = strspn(p, "0123456789");
        if (digits == 0 || digits > 2 || p[digits] != '\0' || (digits == 2 && p[0] == '0'))
                return -EINVAL;
        unsigned prefix = (unsigned)atoi(p);
        if (prefix > 32)
                return -EINVAL;
        *ret = (CniCidr){.addr = ntohl(in.s_addr), .prefix = prefix};
        return 0;
}

bool cni_cidr_is_network(const CniCidr *c)
{
        return (c->addr & ~prefix_mask(c->prefix)) == 0;
}

bool cni_cidr_overlap(const CniCidr *a, const CniCidr *b)
{
        uint32_t mask = prefix_mask(a->prefix < b->prefix ? a->prefix : b->prefix);
        return (a->addr & mask) == (b->addr & mask);
}

static void ipv4_format(uint32_t addr, char ret[static CNI_IP_MAX])
{
        snprintf(ret, CNI_IP_MAX, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
                 addr & 0xff);
}

void cni_cidr_format(const CniCidr *c, char ret[static CNI_SUBNET_MAX])
{
        char ip[CNI_IP_MAX];
        ipv4_format(c->addr, ip);
        snprintf(ret, CNI_SUBNET_MAX, "%s/%u", ip, c->prefix);
}

int cni_subnet_gateway(const char *subnet, char ret[static CNI_IP_MAX])
{
        CniCidr c;
        if (cni_cidr_parse(subnet, &c) < 0 || c.prefix > 30)
                return -EINVAL;
        ipv4_format((c.addr & prefix_mask(c.prefix)) + 1, ret);
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
static const CniSpaceRecord *find_overlap(const CniCidr *c, const char *realm, const char *space,
                                          const CniSpaceRecord *records, size_t n_records)
{
        for (size_t i = 0; i < n_records; i++) {
                const CniSpaceRecord *r = &records[i];
                CniCidr other;
                if (streq_ptr(r->realm, realm) && streq_ptr(r->space, space))
                        continue;
                if (cni_cidr_parse(r->subnet, &other) < 0 || !cni_cidr_is_network(&other))
                        continue;
                if (cni_cidr_overlap(c, &other))
                        return r;
        }
        return NULL;
}

static int check_requested(const char *requested, const char *realm, const char *space,
                           const CniSpaceRecord *records, size_t n_records, char ret[static CNI_SUBNET_MAX],
                           char **ret_error)
{
        CniCidr c;
        if (cni_cidr_parse(requested, &c) < 0)
                return fail(ret_error, -EINVAL, "subnet \"%s\" is not an IPv4 CIDR such as 10.88.1.0/24",
                            requested);
        if (!cni_cidr_is_network(&c))
                return fail(ret_error, -EINVAL,
                            "subnet \"%s\" has host bits set: expected the network address", requested);
        if (c.prefix < SUBNET_MIN_PREFIX || c.prefix > SUBNET_MAX_PREFIX)
                return fail(ret_error, -EINVAL, "subnet \"%s\": prefix /%u is out of range (/%d to /%d)",
                            requested, c.prefix, SUBNET_MIN_PREFIX, SUBNET_MAX_PREFIX);
        const CniSpaceRecord *o = find_overlap(&c, realm, space, records, n_records);
        if (o)
                return fail(ret_error, -EADDRINUSE, "subnet %s overlaps %s of space %s/%s", requested,
                            o->subnet, o->realm, o->space);
        cni_cidr_format(&c, ret);
        return 0;
}

/* The space's own recorded subnet, when it is still free of overlaps. */
static bool recorded_subnet(const char *realm, const char *space, const CniSpaceRecord *records,
                            size_t n_records, char ret[static CNI_SUBNET_MAX])
{
        for (size_t i = 0; i < n_records; i++) {
                const CniSpaceRecord *r = &records[i];
                CniCidr c;
                if (!streq_ptr(r->realm, realm) || !streq_ptr(r->space, space))
                        continue;
                if (cni_cidr_parse(r->subnet, &c) < 0 || !cni_cidr_is_network(&c) ||
                    c.prefix < SUBNET_MIN_PREFIX || c.prefix > SUBNET_MAX_PREFIX)
                        continue;
                if (find_overlap(&c, realm, space, records, n_records))
                        continue;
                cni_cidr_format(&c, ret);
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
        CniCidr p;
        if (cni_cidr_parse(pool, &p) < 0 || !cni_cidr_is_network(&p) || p.prefix > POOL_BLOCK_PREFIX)
                return fail(
                        ret_error, -EINVAL,
                        "subnet pool \"%s\" is not an IPv4 network of /%d or larger such as 10.88.0.0/16",
                        pool, POOL_BLOCK_PREFIX);

        uint64_t blocks = (uint64_t)1 << (POOL_BLOCK_PREFIX - p.prefix);
        for (uint64_t i = 0; i < blocks; i++) {
                CniCidr c = {.addr = p.addr + (uint32_t)(i << (32 - POOL_BLOCK_PREFIX)),
                             .prefix = POOL_BLOCK_PREFIX};
                if (!find_overlap(&c, realm, space, records, n_records)) {
                        cni_cidr_format(&c, ret);
                        return 0;
                }
        }
        return fail(ret_error, -ENOSPC, "subnet pool %s has no free /%d left", pool, POOL_BLOCK_PREFIX);
}
