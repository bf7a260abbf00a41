#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ipv4.h"

uint32_t ipv4_prefix_mask(unsigned prefix)
{
        return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

int ipv4_cidr_parse(const char *s, Ipv4Cidr *ret)
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
        *ret = (Ipv4Cidr){.addr = ntohl(in.s_addr), .prefix = prefix};
        return 0;
}

bool ipv4_cidr_is_network(const Ipv4Cidr *c)
{
        return (c->addr & ~ipv4_prefix_mask(c->prefix)) == 0;
}

bool ipv4_cidr_overlap(const Ipv4Cidr *a, const Ipv4Cidr *b)
{
        uint32_t mask = ipv4_prefix_mask(a->prefix < b->prefix ? a->prefix : b->prefix);
        return (a->addr & mask) == (b->addr & mask);
}

void ipv4_format(uint32_t addr, char ret[static IPV4_ADDR_MAX])
{
        snprintf(ret, IPV4_ADDR_MAX, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
                 addr & 0xff);
}

void ipv4_cidr_format(const Ipv4Cidr *c, char ret[static IPV4_CIDR_MAX])
{
        char ip[IPV4_ADDR_MAX];
        ipv4_format(c->addr, ip);
        snprintf(ret, IPV4_CIDR_MAX, "%s/%u", ip, c->prefix);
}
