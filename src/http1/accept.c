/*
 * Accept (RFC 9110 12.5.1):
 *
 *   Accept      = #( media-range [ weight ] )
 *   media-range = ( "*" "/" "*" / ( type "/" "*" ) / ( type "/" subtype ) ) parameters
 *   weight      = OWS ";" OWS "q=" qvalue
 *
 * "Media ranges can be overridden by more specific media ranges or specific media types. If
 * more than one media range applies to a given type, the most specific reference has
 * precedence."
 */
#include "http1/accept.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "http1/internal.h"

/* How specific a range is for a type it matches: 3 the type itself, 2 its type with "*", 1 the
 * all-wildcard range; 0 when it does not match. */
static int specificity(const char *range, size_t rn, const char *type)
{
    const char *slash = memchr(range, '/', rn);
    if (slash == NULL)
        return 0;
    size_t tl = (size_t)(slash - range), sl = rn - tl - 1;
    const char *ts = strchr(type, '/');
    size_t ttl = (size_t)(ts - type), tsl = strlen(ts + 1);
    if (tl == 1 && range[0] == '*')
        return sl == 1 && slash[1] == '*' ? 1 : 0;
    if (tl != ttl || strncasecmp(range, type, tl) != 0)
        return 0;
    if (sl == 1 && slash[1] == '*')
        return 2;
    return sl == tsl && strncasecmp(slash + 1, ts + 1, sl) == 0 ? 3 : 0;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* One element e[0..n): its media range in (*range, *rn) and its q; false when unreadable. */
static bool parse_element(const char *e, size_t n, const char **range, size_t *rn, int *q)
{
    size_t i = 0;
    while (i < n && e[i] != ';' && !is_ows(e[i]))
        i++;
    if (i == 0 || memchr(e, '/', i) == NULL)
        return false;
    *range = e;
    *rn = i;
    *q = 1000;
    while (i < n) {
        while (i < n && (is_ows(e[i]) || e[i] == ';'))
            i++;
        size_t ps = i;
        while (i < n && e[i] != ';')
            i++;
        size_t pe = i;
        while (pe > ps && is_ows(e[pe - 1]))
            pe--;
        if (pe - ps >= 2 && (e[ps] == 'q' || e[ps] == 'Q') && e[ps + 1] == '=') {
            *q = gw__http1_qvalue(e + ps + 2, pe - ps - 2);
            if (*q < 0)
                return false;
            break; /* what follows the weight are extension parameters (RFC 7231's accept-ext) */
        }
    }
    return true;
}

/* Scans one field value, raising best_spec[k]/best_q[k] for each offered type k. */
static void scan(const char *v, size_t len, const char *const *offered, size_t n, int *best_spec,
                 int *best_q)
{
    size_t at = 0, s, e;
    while (gw__http1_list_next(v, len, &at, &s, &e)) {
        const char *range;
        size_t rn;
        int q;
        if (!parse_element(v + s, e - s, &range, &rn, &q))
            continue;
        for (size_t k = 0; k < n; k++) {
            int sp = specificity(range, rn, offered[k]);
            if (sp > best_spec[k] || (sp == best_spec[k] && sp > 0 && q > best_q[k])) {
                best_spec[k] = sp;
                best_q[k] = q;
            }
        }
    }
}

#define OFFERED_MAX 8

/* The offered type with the highest q above 0, the earlier on a tie; -1 when none. */
static int pick(size_t n, const int *best_q)
{
    int at = -1, q = 0;
    for (size_t k = 0; k < n; k++) {
        if (best_q[k] > q) {
            q = best_q[k];
            at = (int)k;
        }
    }
    return at;
}

int gw_accept_choose_value(const char *v, size_t len, const char *const *offered, size_t n)
{
    int spec[OFFERED_MAX] = {0}, q[OFFERED_MAX] = {0};
    if (n > OFFERED_MAX)
        n = OFFERED_MAX;
    scan(v, len, offered, n, spec, q);
    return pick(n, q);
}

int gw_accept_choose(const struct gw_http1_message *m, const char *const *offered, size_t n)
{
    int spec[OFFERED_MAX] = {0}, q[OFFERED_MAX] = {0};
    bool any = false;
    if (n > OFFERED_MAX)
        n = OFFERED_MAX;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (h->name_len == 6 && strncasecmp(h->name, "accept", 6) == 0) {
            any = true;
            scan(h->value, h->value_len, offered, n, spec, q);
        }
    }
    if (!any)
        return n > 0 ? 0 : -1;
    return pick(n, q);
}
