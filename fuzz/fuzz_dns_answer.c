/*
 * libFuzzer target for discovery/dns_answer.c: arbitrary bytes as a DNS answer, read for the
 * record type chosen by the first byte (A, AAAA or SRV). Invariants (any violation traps):
 *   - the parser returns 0 or GW_EINVAL, and never more records than it was given room for;
 *   - every record is of the type asked, its text NUL-terminated within its buffer; an A or
 *     AAAA record's text is an address inet_pton reads back; the least TTL is the least of
 *     the records' (UINT32_MAX when there is none).
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "discovery/dns_answer.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int types[] = {ns_t_a, ns_t_aaaa, ns_t_srv};
    struct gw_dns_rr rr[8];
    unsigned char buf[16];
    if (size == 0)
        return 0;
    int type = types[data[0] % 3];
    size_t n = 99;
    uint32_t ttl = 0;
    int rc = gw_dns_answer_parse(data + 1, size - 1, type, rr, 8, &n, &ttl);
    CHECK(rc == 0 || rc == GW_EINVAL);
    CHECK(n <= 8);
    uint32_t least = UINT32_MAX;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        CHECK(rr[i].type == type);
        CHECK(memchr(rr[i].text, '\0', sizeof rr[i].text) != NULL);
        if (type != ns_t_srv)
            CHECK(inet_pton(type == ns_t_a ? AF_INET : AF_INET6, rr[i].text, buf) == 1);
        if (rr[i].ttl < least)
            least = rr[i].ttl;
    }
    CHECK(rc != 0 || n == 0 || ttl <= least);
    CHECK(rc != 0 || n > 0 || ttl == UINT32_MAX || ttl <= least);
    return 0;
}
