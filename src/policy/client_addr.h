/*
 * The client's address as the policies see it: the peer's, or behind trusted proxies
 * (rate_limit.trusted_proxies) the address they report in X-Forwarded-For. Every stage that
 * keys or decides on the client (rate limits by IP, IP allow and deny lists) uses this one
 * resolution, done at most once per request.
 */
#ifndef GW_POLICY_CLIENT_ADDR_H
#define GW_POLICY_CLIENT_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_cidr;
struct gw_request;

/* Sets r->client_ip (text) unless a stage already did: the peer, unless the peer is a trusted
 * proxy; then the right-most entry of X-Forwarded-For that is not itself a trusted proxy
 * (entries left of it could be forged). An entry that is not an address stops the walk: the
 * last address vouched for stays. Reads the request head (r->msg), so it must run before the
 * head is handed to the proxy. Worker thread. */
void gw_policy_client_ip(struct gw_request *r);

/* One X-Forwarded-For value v[0..n), walked from its right end: each entry that is an address
 * is written to out (cap bytes, NUL-terminated, truncated to fit) until one is not among the
 * trusted blocks set[0..nset). False when the walk stops here (an untrusted entry, or one that
 * is not an address: out then keeps the last address vouched for); true when every entry was a
 * trusted proxy and an earlier line must be walked. Pure: the parser gw_policy_client_ip runs. */
bool gw_xff_walk(const char *v, size_t n, const struct gw_cidr *set, size_t nset, char *out,
                 size_t cap);

/* The client address in binary (resolving it first when needed; without trusted proxies the
 * peer's, read in place, r->client_ip left as it is): *family AF_INET or AF_INET6, IPv4-mapped
 * IPv6 as AF_INET (net/addr.h). False when it is not an IP address (an unknown peer). */
bool gw_client_addr(struct gw_request *r, int *family, uint8_t addr[16]);

#endif
