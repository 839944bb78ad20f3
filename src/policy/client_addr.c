/*
 * The client address after trusted_proxies (policy/client_addr.h).
 */
#include "policy/client_addr.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conn/request-t.h"
#include "control/snapshot-t.h"
#include "net/addr.h"

static bool trusted(const struct gw_cidr *set, size_t n, const char *s, size_t len)
{
    int family;
    uint8_t addr[16];
    if (!gw_addr_parse(s, len, &family, addr))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (gw_cidr_has(&set[i], family, addr))
            return true;
    }
    return false;
}

bool gw_xff_walk(const char *v, size_t n, const struct gw_cidr *set, size_t nset, char *out,
                 size_t cap)
{
    size_t end = n;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && v[start - 1] != ',')
            start--;
        size_t a = start, b = end;
        while (a < b && (v[a] == ' ' || v[a] == '\t'))
            a++;
        while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
            b--;
        end = start > 0 ? start - 1 : 0;
        if (a == b)
            continue;
        int family;
        uint8_t addr[16];
        if (!gw_addr_parse(v + a, b - a, &family, addr))
            return false; /* garbage: keep the last address we could vouch for */
        snprintf(out, cap, "%.*s", (int)(b - a), v + a);
        if (!trusted(set, nset, v + a, b - a))
            return false;
    }
    return true;
}

void gw_policy_client_ip(struct gw_request *r)
{
    if (r->client_ip[0] != '\0')
        return;
    const struct gw_config *cfg = r->snap->cfg;
    const char *peer = r->peer;
    size_t plen = strlen(peer);
    size_t cl = plen < sizeof r->client_ip ? plen : sizeof r->client_ip - 1;
    memcpy(r->client_ip, peer, cl);
    r->client_ip[cl] = '\0';
    const struct gw_cidr *set = cfg->rate_limit.trusted;
    size_t nset = cfg->rate_limit.ntrusted;
    if (nset == 0 || !trusted(set, nset, peer, plen))
        return;
    /* Walk the X-Forwarded-For lines from the last one, each from its right end. */
    const struct gw_http1_message *m = &r->msg;
    for (uint32_t i = m->num_headers; i-- > 0;) {
        const struct gw_http1_header *h = &m->headers[i];
        if (h->name_len != 15 || strncasecmp(h->name, "x-forwarded-for", 15) != 0)
            continue;
        if (!gw_xff_walk(h->value, h->value_len, set, nset, r->client_ip, sizeof r->client_ip))
            return;
    }
}

bool gw_client_addr(struct gw_request *r, int *family, uint8_t addr[16])
{
    /* Without trusted proxies the client is the peer: parse it where it is. */
    if (r->client_ip[0] == '\0' && r->snap->cfg->rate_limit.ntrusted == 0)
        return gw_addr_parse(r->peer, strlen(r->peer), family, addr);
    gw_policy_client_ip(r);
    return gw_addr_parse(r->client_ip, strlen(r->client_ip), family, addr);
}
