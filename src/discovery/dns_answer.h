/*
 * The records of a DNS answer that DNS discovery uses (A, AAAA, SRV), read with libresolv's
 * message parser (ns_initparse / ns_parserr). Pure: no I/O, no allocation; fuzzed
 * (fuzz/fuzz_dns_answer.c).
 */
#ifndef GW_DISCOVERY_DNS_ANSWER_H
#define GW_DISCOVERY_DNS_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#define GW_DNS_NAME_MAX 256

/* One record of the answer section: an address (A, AAAA: text form, no brackets), or an SRV
 * record (its target host name, port, weight, priority). */
struct gw_dns_rr {
    int type;                   /* ns_t_a, ns_t_aaaa or ns_t_srv */
    char text[GW_DNS_NAME_MAX]; /* the address, or the SRV target (without the final dot) */
    uint16_t port, weight, priority;
    uint32_t ttl;
};

/* Reads the records of type (ns_t_a, ns_t_aaaa or ns_t_srv) in the answer section of
 * msg[0..len) into out[0..cap) (the others are skipped; beyond cap they are dropped), *n of
 * them, and the least TTL among them in *min_ttl (UINT32_MAX when none). Returns 0, or
 * GW_EINVAL when msg is not a DNS message or a record of that type is malformed. */
int gw_dns_answer_parse(const unsigned char *msg, size_t len, int type, struct gw_dns_rr *out,
                        size_t cap, size_t *n, uint32_t *min_ttl);

#endif
