/*
 * DNS answers through libresolv's parser (dns_answer.h). The message parser checks the
 * framing and expands names; what is checked here is each record's data length for its type,
 * so that a truncated or lying record is refused rather than read past.
 */
#include "discovery/dns_answer.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

int gw_dns_answer_parse(const unsigned char *msg, size_t len, int type, struct gw_dns_rr *out,
                        size_t cap, size_t *n, uint32_t *min_ttl)
{
    ns_msg h;
    *n = 0;
    *min_ttl = UINT32_MAX;
    if (len > 65535 || ns_initparse(msg, (int)len, &h) < 0)
        return GW_EINVAL;
    int count = ns_msg_count(h, ns_s_an);
    for (int i = 0; i < count; i++) {
        ns_rr rr;
        if (ns_parserr(&h, ns_s_an, i, &rr) < 0)
            return GW_EINVAL;
        if ((int)ns_rr_type(rr) != type || ns_rr_class(rr) != ns_c_in)
            continue; /* a CNAME on the way, another class */
        const unsigned char *d = ns_rr_rdata(rr);
        size_t dl = ns_rr_rdlen(rr);
        struct gw_dns_rr one;
        memset(&one, 0, sizeof one);
        one.type = type;
        one.ttl = ns_rr_ttl(rr);
        if (type == ns_t_a || type == ns_t_aaaa) {
            size_t want = type == ns_t_a ? 4 : 16;
            if (dl != want || inet_ntop(type == ns_t_a ? AF_INET : AF_INET6, d, one.text,
                                        sizeof one.text) == NULL)
                return GW_EINVAL;
        } else if (type == ns_t_srv) {
            if (dl < 7)
                return GW_EINVAL;
            one.priority = get16(d);
            one.weight = get16(d + 2);
            one.port = get16(d + 4);
            /* The target is a (possibly compressed) name inside the message. */
            int used = dn_expand(ns_msg_base(h), ns_msg_end(h), d + 6, one.text, sizeof one.text);
            if (used < 0 || (size_t)used != dl - 6)
                return GW_EINVAL;
            size_t tl = strlen(one.text);
            if (tl > 0 && one.text[tl - 1] == '.')
                one.text[tl - 1] = '\0';
        } else {
            return GW_EINVAL;
        }
        if (one.ttl < *min_ttl)
            *min_ttl = one.ttl;
        if (*n < cap)
            out[(*n)++] = one;
    }
    return 0;
}
