/* IPv4 addresses and CIDR subnets, in host byte order. Shared by the manifest validator and the CNI
 * driver, so a subnet means the same thing to both. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define IPV4_ADDR_MAX 16 /* "255.255.255.255" + NUL */
#define IPV4_CIDR_MAX 19 /* "255.255.255.255/32" + NUL */

typedef struct Ipv4Cidr {
        uint32_t addr; /* host byte order */
        unsigned prefix;
} Ipv4Cidr;

/* Parses "a.b.c.d/p" strictly (dotted quad, prefix 0..32 in plain decimal). Host bits may be set: check
 * with ipv4_cidr_is_network(). Returns 0 or -EINVAL. */
int ipv4_cidr_parse(const char *s, Ipv4Cidr *ret);
/* True when no host bits are set. */
bool ipv4_cidr_is_network(const Ipv4Cidr *c);
/* True when the two ranges share an address. */
bool ipv4_cidr_overlap(const Ipv4Cidr *a, const Ipv4Cidr *b);
/* The netmask of a prefix length. */
uint32_t ipv4_prefix_mask(unsigned prefix);
void ipv4_format(uint32_t addr, char ret[static IPV4_ADDR_MAX]);
void ipv4_cidr_format(const Ipv4Cidr *c, char ret[static IPV4_CIDR_MAX]);
