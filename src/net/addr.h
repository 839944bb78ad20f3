/*
 * IP addresses and CIDR blocks: parsing, matching one block, and compiled sets of blocks whose
 * lookup costs O(log n) however many blocks they hold (IP allow and deny lists of thousands of
 * entries). Pure code: no I/O, no allocation except in gw_cidr_set_new.
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are IPv4 addresses here: gw_addr_parse returns
 * them as AF_INET, and a set built from "::ffff:10.0.0.0/104" holds 10.0.0.0/8. So a client that
 * reaches a dual-stack listener over IPv4 is matched by the IPv4 entries.
 */
#ifndef GW_NET_ADDR_H
#define GW_NET_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An address or a CIDR block: the network part only (host bits are zero). */
struct gw_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    uint8_t bits; /* prefix length: 0..32 or 0..128 */
};

/* Parses an IPv4 or IPv6 address s[0..n) (no brackets, no zone, no surrounding spaces) into
 * *family and addr (4 or 16 bytes used); an IPv4-mapped IPv6 address comes back as AF_INET.
 * False when s is not an address. */
bool gw_addr_parse(const char *s, size_t n, int *family, uint8_t addr[16]);

/* Parses "10.0.0.0/8", "192.0.2.7", "::1", "fd00::/8" (s[0..n)) into *out: an address without a
 * length is a block of one address; host bits past the length are cleared ("10.1.2.3/8" is
 * 10.0.0.0/8). IPv4-mapped IPv6 blocks stay AF_INET6 (gw_cidr_unmap turns them into IPv4).
 * 0, or GW_EINVAL with *why set ("is not an IP address or CIDR block", ...). */
int gw_cidr_parse(const char *s, size_t n, struct gw_cidr *out, const char **why);

/* A block inside ::ffff:0:0/96 (IPv4-mapped, written "::ffff:10.0.0.0/104") becomes the IPv4
 * block it maps (10.0.0.0/8); any other block is left as it is. */
void gw_cidr_unmap(struct gw_cidr *c);

/* Whether the address (family, addr as gw_addr_parse gives it) lies in block c. A block of one
 * family never holds an address of the other. */
bool gw_cidr_has(const struct gw_cidr *c, int family, const uint8_t *addr);

/* Writes c as "address/bits" (NUL-terminated) into out; the length written, or 0 when cap is
 * too small (64 bytes always suffice). */
size_t gw_cidr_format(const struct gw_cidr *c, char *out, size_t cap);

/* A compiled set of blocks: sorted, merged ranges per family, searched by bisection. Immutable
 * once built, so any number of threads may read it. */
struct gw_cidr_set;

/* Builds a set holding every block of items[0..n) (mapped IPv6 blocks unmapped first). n may
 * be 0 (a set that holds nothing). 0 or GW_ENOMEM. */
int gw_cidr_set_new(const struct gw_cidr *items, size_t n, struct gw_cidr_set **out);

/* Whether the address lies in some block of s. */
bool gw_cidr_set_has(const struct gw_cidr_set *s, int family, const uint8_t *addr);

/* Ranges left after merging, per family (for tests and logs). */
size_t gw_cidr_set_ranges(const struct gw_cidr_set *s, int family);

void gw_cidr_set_free(struct gw_cidr_set *s);

#endif
