/*
 * CORS (the Fetch standard's CORS protocol), as two rows of the chain sharing one state:
 *
 *   - "cors" (the first row, before every stage that may answer): picks the setting that
 *     applies (a rule's or the service's; a preflight matches rules by the method it asks
 *     about), decides whether the request's Origin is allowed, and takes the state, so that
 *     every answer of the request gets its CORS headers from on_response: the upstream's, and
 *     gantry's own (a 429 from a limit, a 401, a 503), which a browser may then read;
 *   - "cors-preflight" (after the limits that need no identity, before authentication: a
 *     preflight carries no credentials, so it must never meet a 401): answers a preflight
 *     itself, 204 with the Access-Control-Allow-* headers, or the setting's denied_status when
 *     the origin, the method or a header is not allowed. The upstream never sees a preflight
 *     of a service with CORS.
 *
 * on_response replaces the upstream's own Access-Control-* headers (two sets would disagree)
 * and adds "Origin" to Vary on every answer, allowed origin or not, merged into the upstream's
 * Vary, so a cache never serves one origin's answer to another.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "http1/names.h"
#include "policy/answer.h"
#include "policy/chain.h"
#include "policy/cors.h"
#include "policy/policy.h"
#include "policy/stages.h"

/* Per-request state (the slot of GW_STAGE_CORS, shared by the two rows) when the request needs
 * its own: a preflight, or an origin allowed by a pattern. Otherwise the slot points to one of
 * the set's shared picks (struct gw_cors_pick, the head of this state) and no arena is taken. */
struct cors_state {
    struct gw_cors_pick pick;
    char *preflight_lines; /* a 204's Access-Control-Allow-Methods/-Headers/-Max-Age (heap) */
    char *reason;          /* why a preflight was refused (taken from the arena when needed) */
    char origin_buf[];     /* pick.origin_len bytes when allowed by a pattern */
};
#define REASON_MAX 96
_Static_assert(sizeof(struct cors_state) + GW_ORIGIN_MAX + REASON_MAX <= GW_STAGE_STATE_MAX,
               "CORS state too large");

bool gw_cors_applies(const struct gw_snapshot *s, size_t i)
{
    const struct gw_policy *p = s->policy;
    return p && p->cors && p->cors[i].base.enabled;
}

/* The preflight row runs when a row between it and the CORS decision does (IP rules, limits):
 * a preflight must meet them first. Without any, the decision's row answers preflights itself
 * (gw_cors_on_request), at the same point of the chain and with one row less per request. */
bool gw_cors_preflight_applies(const struct gw_snapshot *s, size_t i)
{
    return gw_cors_applies(s, i) &&
           gw_policy_rows_apply(s, i, GW_STAGE_CORS + 1, GW_STAGE_CORS_PREFLIGHT);
}

static inline uint64_t load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* a[0..n) equals b[0..n): a word at a time for n >= 8 (the last word overlaps the one before;
 * nothing outside either is read). Origins are short: no call to memcmp. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
    if (n < 8) { /* "null", or a short host: byte by byte (no call: the caller stays a leaf) */
        for (size_t i = 0; i < n; i++) {
            if (a[i] != b[i])
                return false;
        }
        return true;
    }
    size_t i = 0;
    for (; i + 8 < n; i += 8) {
        if (load64(a + i) != load64(b + i))
            return false;
    }
    return load64(a + n - 8) == load64(b + n - 8);
}

/* gw_cors_exact_origin, inline: most sets have one or two exact origins, which differ from
 * another origin in length or in their last bytes (the host's end) more often than not. */
static inline const struct gw_cors_text *exact_origin(const struct gw_cors_set *s, const char *v,
                                                      size_t n)
{
    for (size_t i = 0; i < s->nexact; i++) {
        const struct gw_cors_text *e = &s->exact[i];
        if (e->n == n && e->s[n - 1] == v[n - 1] && same_bytes(e->s, v, n))
            return e;
    }
    return NULL;
}

static enum gw_stage_result cors_decide(struct gw_request *r, void **slot, struct gw_answer *a,
                                        const struct gw_cors_service *cs, int oi);
static enum gw_stage_result cors_request(struct gw_request *r, void **slot, struct gw_answer *a,
                                         const struct gw_cors_set *set,
                                         const struct gw_http1_header *h,
                                         const struct gw_cors_text *exact, bool preflight);

enum gw_stage_result gw_cors_on_request(struct gw_request *r, void **slot, struct gw_answer *a)
{
    const struct gw_http1_message *m = &r->msg;
    size_t svc = (size_t)(r->svc - r->snap->services);
    const struct gw_cors_service *cs = &r->snap->policy->cors[svc];
    /* The parser found the Origin (-1 none, -2 more than one: no origin a browser sends). */
    int oi = m->origin_index;
    if (cs->plain && m->method_id != GW_METHOD_OPTIONS) {
        /* the common case, an actual request to a service without rules or "*": an exact
         * origin's shared pick, or the disallow one without an Origin; no arena (the answer
         * hook or the chain's on_response adds its lines) */
        const struct gw_cors_pick *pick = &cs->base.disallow;
        if (oi >= 0) {
            /* the first exact origin here (no loop: no registers to save); any other origin
             * goes the general way */
            const struct gw_http1_header *h = &m->headers[oi];
            const struct gw_cors_text *e = cs->base.exact;
            if (cs->base.nexact == 0 || e->n != h->value_len ||
                !same_bytes(e->s, h->value, h->value_len))
                return cors_decide(r, slot, a, cs, oi);
            pick = &e->pick;
        }
        *slot = (void *)(uintptr_t)pick; /* read only: shared by every request */
        return GW_STAGE_CONTINUE;
    }
    return cors_decide(r, slot, a, cs, oi);
}

/* The rest of gw_cors_on_request (preflights, rules, "*"), out of line: the common case above
 * needs no stack frame. */
__attribute__((noinline)) static enum gw_stage_result cors_decide(struct gw_request *r, void **slot,
                                                                  struct gw_answer *a,
                                                                  const struct gw_cors_service *cs,
                                                                  int oi)
{
    const struct gw_http1_message *m = &r->msg;
    /* two Origin lines make a refused preflight (no origin is allowed), never a forwarded one */
    bool preflight = m->method_id == GW_METHOD_OPTIONS && oi != -1 &&
                     gw_http1_find_header(m, "access-control-request-method", 29) >= 0;
    int method = preflight ? (int)gw_cors_route_method(m) : (int)m->method_id;
    const struct gw_cors_set *set =
        cs->nrules ? gw_cors_select(cs, r->npath, r->npath_len, method) : &cs->base;
    if (!set->enabled)
        return GW_STAGE_CONTINUE; /* a rule turned CORS off here: the upstream's own headers */
    const struct gw_http1_header *h = oi >= 0 ? &m->headers[oi] : NULL;
    const struct gw_cors_text *exact = h ? exact_origin(set, h->value, h->value_len) : NULL;
    if (exact && !preflight && !set->star_lines) {
        /* an exact origin's shared pick, no arena (the answer hook or the chain's on_response
         * adds its lines) */
        *slot = (void *)(uintptr_t)&exact->pick; /* read only: shared by every request */
        return GW_STAGE_CONTINUE;
    }
    return cors_request(r, slot, a, set, h, exact, preflight);
}

/* The rest: a pick of the set's without an exact origin, or state of the request's own. */
__attribute__((noinline)) static enum gw_stage_result
cors_request(struct gw_request *r, void **slot, struct gw_answer *a, const struct gw_cors_set *set,
             const struct gw_http1_header *h, const struct gw_cors_text *exact, bool preflight)
{
    bool allowed = exact || (h && gw_cors_origin_value_allowed(set, h->value, h->value_len));
    if (!preflight && (!allowed || exact || set->star_lines)) {
        /* nothing of its own: one of the set's picks, no arena */
        const struct gw_cors_pick *pick = !allowed          ? &set->disallow
                                          : set->star_lines ? &set->star
                                                            : &exact->pick;
        *slot = (void *)(uintptr_t)pick; /* read only: shared by every request */
        return GW_STAGE_CONTINUE;
    }
    /* a preflight, or an origin allowed by a pattern (echoed: kept in the state; it was parsed,
     * so at most GW_ORIGIN_MAX bytes) */
    size_t keep = allowed && !exact ? h->value_len : 0;
    struct cors_state *st = *slot = gw_stage_alloc(r, sizeof *st + keep);
    if (st == NULL) {
        gw_answer_init(a, GW_ENOMEM);
        return GW_STAGE_RESPOND;
    }
    st->pick.set = set;
    st->pick.preflight = preflight;
    st->pick.allowed = allowed; /* no Origin (same-origin, or not a browser): only Vary */
    if (allowed) {
        st->pick.origin = exact ? exact->s : st->origin_buf;
        st->pick.origin_len = (uint16_t)h->value_len;
        if (!exact)
            memcpy(st->origin_buf, h->value, keep);
    }
    if (preflight && !(r->svc->stages & (1u << GW_STAGE_CORS_PREFLIGHT)))
        return gw_cors_preflight_on_request(r, slot, a); /* no row between: answered here */
    return GW_STAGE_CONTINUE;
}

/* ---- preflights -------------------------------------------------------------------------------
 */

static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_tchar(s[i]))
            return false;
    }
    return true;
}

static bool header_allowed(const struct gw_cors_set *set, const char *name, size_t n)
{
    for (size_t i = 0; i < set->nheaders; i++) {
        if (strlen(set->headers[i]) == n && strncasecmp(set->headers[i], name, n) == 0)
            return true;
    }
    return false;
}

/* Refuses the preflight: "<what> <name> is not allowed", or what alone when name is NULL. */
static enum gw_stage_result deny(struct gw_request *r, struct cors_state *st, const char *what,
                                 const char *name, size_t name_len, struct gw_answer *a)
{
    if (name_len > 48)
        name_len = 48;
    st->reason = gw_stage_alloc(r, REASON_MAX); /* within the stage's budget (asserted) */
    if (st->reason == NULL) {
        gw_answer_init(a, GW_ENOMEM);
        return GW_STAGE_RESPOND;
    }
    if (name)
        snprintf(st->reason, REASON_MAX, "%s %.*s is not allowed", what, (int)name_len, name);
    else
        snprintf(st->reason, REASON_MAX, "%s", what);
    st->pick.allowed = false; /* a refused preflight gets no CORS headers */
    gw_log_info("request %s: %s %s: CORS preflight refused: %s", r->id, r->method, r->path,
                st->reason);
    gw_answer_init(a, GW_ECORSDENIED);
    a->status = (int)st->pick.set->denied_status;
    a->reason = st->reason;
    a->empty = a->status == 204;
    return GW_STAGE_RESPOND;
}

/* Appends s[0..n) to the growing line buffer; false when out of memory. */
static bool put(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = (*len + n + 1) * 2;
        char *nb = realloc(*buf, ncap);
        if (nb == NULL)
            return false;
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return true;
}

#define PUT_LIT(lit) put(&buf, &len, &cap, (lit), sizeof(lit) - 1)

enum gw_stage_result gw_cors_preflight_on_request(struct gw_request *r, void **slot,
                                                  struct gw_answer *a)
{
    const struct gw_cors_pick *pick = *slot;
    if (pick == NULL || !pick->preflight)
        return GW_STAGE_CONTINUE; /* a shared pick is never a preflight's */
    struct cors_state *st = *slot;
    const struct gw_cors_set *set = st->pick.set;
    const struct gw_http1_message *m = &r->msg;
    if (!st->pick.allowed)
        return deny(r, st, "origin is not allowed", NULL, 0, a);

    /* the method it asks about */
    int mi = gw_http1_find_header(m, "access-control-request-method", 29);
    const char *mv = m->headers[mi].value;
    size_t ml = m->headers[mi].value_len;
    enum gw_http_method method = gw_http_method_id(mv, ml);
    if (!is_token(mv, ml))
        return deny(r, st, "method", mv, ml, a);
    if (!(set->methods & GW_CORS_ANY_METHOD) &&
        (method == GW_METHOD_OTHER || !(set->methods & (1u << method))))
        return deny(r, st, "method", mv, ml, a);

    /* the headers it asks about: a comma-separated list of names (Fetch: each a token) */
    int hi = gw_http1_find_header(m, "access-control-request-headers", 30);
    const char *hv = hi >= 0 ? m->headers[hi].value : "";
    size_t hl = hi >= 0 ? m->headers[hi].value_len : 0;
    bool any_requested = false;
    for (size_t at = 0; at < hl;) {
        size_t end = at;
        while (end < hl && hv[end] != ',')
            end++;
        size_t b = at, e = end;
        while (b < e && (hv[b] == ' ' || hv[b] == '\t'))
            b++;
        while (e > b && (hv[e - 1] == ' ' || hv[e - 1] == '\t'))
            e--;
        at = end + 1;
        if (b == e)
            continue;
        if (!is_token(hv + b, e - b) || (!set->any_header && !header_allowed(set, hv + b, e - b)))
            return deny(r, st, "header", hv + b, e - b, a);
        any_requested = true;
    }

    /* The answer's lines that depend on the request are built here, while its head is still
     * in the input buffer; on_response appends them. */
    char *buf = NULL;
    size_t len = 0, cap = 0;
    bool ok = true;
    if (set->allow_methods) {
        ok = put(&buf, &len, &cap, set->allow_methods, strlen(set->allow_methods));
    } else {
        ok = PUT_LIT("Access-Control-Allow-Methods: ") && put(&buf, &len, &cap, mv, ml) &&
             PUT_LIT("\r\n");
    }
    if (ok && set->any_header && any_requested) {
        ok = PUT_LIT("Access-Control-Allow-Headers: ") && put(&buf, &len, &cap, hv, hl) &&
             PUT_LIT("\r\n");
    } else if (ok && set->allow_headers) {
        ok = put(&buf, &len, &cap, set->allow_headers, strlen(set->allow_headers));
    }
    if (ok && set->max_age)
        ok = put(&buf, &len, &cap, set->max_age, strlen(set->max_age));
    if (!ok) {
        free(buf);
        gw_answer_init(a, GW_ENOMEM);
        return GW_STAGE_RESPOND;
    }
    st->preflight_lines = buf;
    gw_answer_init(a, 0);
    a->status = 204;
    a->empty = true;
    return GW_STAGE_RESPOND;
}

/* ---- every answer -----------------------------------------------------------------------------
 */

/* Case-insensitive equality of a header name (token characters) with a lowercase literal. */
static bool name_is(const char *p, size_t n, const char *lower, size_t ln)
{
    if (n != ln)
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((char)(p[i] | 0x20) != lower[i])
            return false;
    }
    return true;
}

/* True when the Vary value v[0..n) already names Origin, or is "*". */
static bool vary_covers_origin(const char *v, size_t n)
{
    for (size_t at = 0; at < n;) {
        size_t end = at;
        while (end < n && v[end] != ',')
            end++;
        size_t b = at, e = end;
        while (b < e && (v[b] == ' ' || v[b] == '\t'))
            b++;
        while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (name_is(v + b, e - b, "origin", 6) || (e - b == 1 && v[b] == '*'))
            return true;
        at = end + 1;
    }
    return false;
}

/* Removes the Access-Control-* lines already in head (after its start line): gantry's replace
 * the upstream's. Reports where the value of the last Vary line ends (0: no Vary line), whether
 * a Vary line covers Origin, and whether that last value is empty. */
static void scrub(struct gw_buf *head, size_t *vary_end, bool *vary_covers, bool *vary_blank)
{
    char *end = head->data + head->len;
    char *p = memchr(head->data, '\n', head->len);
    *vary_end = 0;
    *vary_covers = false;
    *vary_blank = false;
    if (p == NULL)
        return;
    char *w = ++p;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        char first = (char)(p[0] | 0x20);
        if (first != 'a' && first != 'v') { /* most lines: not ours to look at */
            if (w != p)
                memmove(w, p, n);
            w += n;
            p += n;
            continue;
        }
        const char *colon = memchr(p, ':', n);
        size_t nl_len = colon ? (size_t)(colon - p) : 0;
        if (nl_len > 15 && name_is(p, 15, "access-control-", 15)) {
            p += n;
            continue;
        }
        if (nl_len == 4 && name_is(p, 4, "vary", 4)) {
            const char *v = colon + 1;
            size_t vl = (size_t)(p + n - v);
            while (vl > 0 && (v[vl - 1] == '\n' || v[vl - 1] == '\r'))
                vl--;
            if (vary_covers_origin(v, vl))
                *vary_covers = true;
            size_t b = 0;
            while (b < vl && (v[b] == ' ' || v[b] == '\t'))
                b++;
            *vary_blank = b == vl;
            *vary_end = (size_t)(w - head->data) + (size_t)(v - p) + vl;
        }
        if (w != p)
            memmove(w, p, n);
        w += n;
        p += n;
    }
    head->len = (size_t)(w - head->data);
}

/* Inserts s at offset at of head. */
static int insert(struct gw_buf *head, size_t at, const char *s, size_t n)
{
    int rc = gw_buf_reserve(head, n);
    if (rc < 0)
        return rc;
    memmove(head->data + at + n, head->data + at, head->len - at);
    memcpy(head->data + at, s, n);
    head->len += n;
    return 0;
}

/* True when the upstream response r->rmsg has a header scrub must see (Access-Control-*, Vary):
 * its names are at hand, cheaper to look at than the head's text. Exact, so that common
 * neighbours (Accept-Ranges, Age, Via) do not send every answer through the scan. */
static bool upstream_has_ours(const struct gw_http1_message *m)
{
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const char *n = m->headers[i].name;
        size_t len = m->headers[i].name_len;
        if (len != 4 && len <= 15)
            continue;
        if ((len > 15 && name_is(n, 15, "access-control-", 15)) ||
            (len == 4 && name_is(n, 4, "vary", 4)))
            return true;
    }
    return false;
}

int gw_cors_on_response(struct gw_request *r, void *slot, struct gw_buf *head)
{
    static const char acao[] = "Access-Control-Allow-Origin: ";
    static const char vary[] = "Vary: Origin\r\n";
    const struct gw_cors_pick *st = slot;
    const struct gw_cors_set *set = st->set;
    /* a preflight's 204 lines: only a request's own state has them */
    const char *preflight_lines =
        st->shared ? NULL : ((const struct cors_state *)slot)->preflight_lines;
    size_t vary_end = 0;
    bool vary_covers = false, vary_blank = false;
    /* An upstream's answer is built in r->rhead from the header lines of r->rmsg
     * (upstream/rewrite.c), and this stage's on_response is the first to add to it: when none of
     * those lines can be an Access-Control-* or a Vary, there is nothing to scrub. When the
     * answer hooks' prepare step ran, the copy already left the Access-Control-* fields out and
     * noted a Vary (gw_cors_filter_add): only a Vary to merge into needs the scan. Gantry's own
     * answers (another buffer) are scanned. */
    if (head != &r->rhead ||
        (r->answer_prepared ? (r->answer_prepared & GW_ANSWER_UPSTREAM_VARY) != 0
                            : upstream_has_ours(&r->rmsg)))
        scrub(head, &vary_end, &vary_covers, &vary_blank);
    if (st->lines && vary_end == 0) {
        /* the common case, an actual request's answer with no Vary of the upstream's: the
         * lines prepared with the set for the origin (no Vary line at all: vary_covers is set
         * by Vary lines only) */
        if (gw_buf_reserve(head, st->lines_len) < 0)
            return GW_ENOMEM;
        memcpy(head->data + head->len, st->lines, st->lines_len);
        head->len += st->lines_len;
        return 0;
    }
    /* "*" answers any origin when no credentials go with it (Fetch: a credentialed request
     * needs its own origin echoed, and the config refuses "*" with credentials) */
    const char *origin = st->origin;
    size_t olen = st->origin_len;
    if (set->any_origin && !set->credentials) {
        origin = "*";
        olen = 1;
    }
    const char *more = preflight_lines ? preflight_lines : set->actual;
    size_t more_len = preflight_lines ? strlen(preflight_lines)
                      : st->preflight ? 0
                                      : set->actual_len;
    bool vary_line = !vary_covers && vary_end == 0; /* the common case: one write for all */
    size_t need = (st->allowed ? sizeof acao - 1 + olen + 2 + set->credentials_len + more_len : 0) +
                  (vary_line ? sizeof vary - 1 : 0);
    if (gw_buf_reserve(head, need) < 0)
        return GW_ENOMEM;
    char *p = head->data + head->len;
    if (st->allowed) {
        memcpy(p, acao, sizeof acao - 1);
        p += sizeof acao - 1;
        memcpy(p, origin, olen);
        p += olen;
        memcpy(p, "\r\n", 2);
        p += 2;
        memcpy(p, set->credentials_line, set->credentials_len);
        p += set->credentials_len;
        if (more_len)
            memcpy(p, more, more_len);
        p += more_len;
    }
    if (vary_line) {
        memcpy(p, vary, sizeof vary - 1);
        p += sizeof vary - 1;
    }
    head->len = (size_t)(p - head->data);
    if (vary_covers || vary_end == 0)
        return 0;
    /* merged into the upstream's Vary: one header, not two */
    int rc =
        vary_blank ? insert(head, vary_end, "Origin", 6) : insert(head, vary_end, ", Origin", 8);
    return rc < 0 ? GW_ENOMEM : 0;
}

void gw_cors_cancel(struct gw_request *r, void *slot)
{
    struct cors_state *st = slot;
    (void)r;
    if (st->pick.shared)
        return; /* one of the set's picks: nothing of the request's */
    free(st->preflight_lines);
    st->preflight_lines = NULL;
}

void gw_cors_filter_add(struct gw_answer_filter *f)
{
    /* gantry's Access-Control-* replace the upstream's (two sets would disagree); a Vary is
     * where Origin goes (on_response merges it) */
    gw_answer_filter_add(f, "access-control-", 15, true, true, 0);
    gw_answer_filter_add(f, "vary", 4, false, false, GW_ANSWER_UPSTREAM_VARY);
}

int gw_cors_answer_headers(const struct gw_policy *p, struct gw_request *r, bool secure,
                           struct gw_buf *head)
{
    (void)p;
    (void)secure;
    /* With arena state (a preflight, a pattern's origin, or another stage's), the chain's
     * on_response loop runs and the CORS row, the first, added the lines. */
    if (r == NULL || r->arena_used || r->slot[GW_STAGE_CORS] == NULL)
        return 0;
    return gw_cors_on_response(r, r->slot[GW_STAGE_CORS], head);
}
