/*
 * "tls.redirect_http": a plain-HTTP request for a host served over HTTPS gets a 308 to the same
 * path on the HTTPS listener (RFC 9110 15.4.9: 308 keeps the method and body, unlike 301).
 * Probes and the metrics path are answered before this, so health checks keep working on the
 * plain port.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "config/config-t.h"
#include "conn/internal.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "policy/chain.h"

/* The Location header must fit gantry's answer buffer whole; longer targets are sent to the
 * host's root instead of a cut URL. */
#define LOCATION_MAX 640

static bool host_matches(const struct gw_tls_conf *tc, const char *host, size_t n)
{
    if (tc->redirect_all)
        return true;
    for (size_t i = 0; i < tc->nredirect_hosts; i++) {
        const char *p = tc->redirect_hosts[i];
        size_t pn = strlen(p);
        if (p[0] == '*' && p[1] == '.') {
            /* "*.example.com": one more label in front of ".example.com" */
            const char *dot = memchr(host, '.', n);
            size_t rest = dot ? n - (size_t)(dot + 1 - host) : 0;
            if (dot && dot != host && rest == pn - 2 && memcmp(dot + 1, p + 2, rest) == 0)
                return true;
        } else if (pn == n && memcmp(p, host, n) == 0) {
            return true;
        }
    }
    return false;
}

bool gw__request_https_redirect(struct gw_request *r, const char *host, size_t host_len,
                                const char *path, size_t path_len, const char *query,
                                size_t query_len)
{
    const struct gw_tls_conf *tc = &r->snap->cfg->tls;
    char name[256];
    size_t n = 0;
    if (r->secure || !tc->enabled || (!tc->redirect_all && tc->nredirect_hosts == 0) || !host)
        return false;
    /* The host without its port, lowercased ("[::1]" keeps its brackets). */
    size_t end = host_len;
    if (host_len > 0 && host[0] == '[') {
        const char *rb = memchr(host, ']', host_len);
        end = rb ? (size_t)(rb - host) + 1 : host_len;
    } else {
        const char *colon = memchr(host, ':', host_len);
        if (colon)
            end = (size_t)(colon - host);
    }
    if (end == 0 || end >= sizeof name)
        return false;
    for (; n < end; n++)
        name[n] = (char)tolower((unsigned char)host[n]);
    /* "a.test." (a fully qualified name, one trailing dot) is the host "a.test", as SNI takes
     * it (tls/ctx.c); the Location names it without the dot. */
    if (n > 1 && name[n - 1] == '.' && name[n - 2] != '.')
        n--;
    name[n] = '\0';
    if (!host_matches(tc, name, n))
        return false;
    char port[8] = "";
    if (tc->listen_port != 443)
        snprintf(port, sizeof port, ":%u", (unsigned)tc->listen_port);
    char hdr[LOCATION_MAX + 32];
    /* query starts with its "?" */
    int len = snprintf(hdr, sizeof hdr, "Location: https://%s%s%.*s%.*s\r\n", name, port,
                       (int)path_len, path, (int)query_len, query ? query : "");
    if (len < 0 || (size_t)len >= sizeof hdr)
        snprintf(hdr, sizeof hdr, "Location: https://%s%s/\r\n", name, port);
    struct gw_answer a;
    gw_answer_init(&a, GW_EHTTPSREDIRECT);
    a.headers = hdr;
    gw__request_answer(r, &a);
    return true;
}
