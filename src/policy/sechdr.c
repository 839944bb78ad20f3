/*
 * Security headers: HSTS, X-Content-Type-Options, X-Frame-Options, Referrer-Policy, CSP,
 * Permissions-Policy, the Cross-Origin-* policies and Server, on every answer of a request —
 * the upstream's response and gantry's own answers — and on gantry's answers before any
 * service is chosen.
 *
 * How. Everything is compiled when the snapshot is built into a few immutable sets (struct
 * gw_sechdr_set), each holding its lines as one ready block. The headers are added by the answer
 * hook (policy/answer.h), which the upstream response's rewrite (upstream/rewrite.c) and the
 * downstream's own answers (conn/conn.c) call: it takes the request's set — its service's, or
 * the gateway's without a service — and appends it. The stage (a row of the chain) runs only
 * for services with rules: it picks the rule's set while the normalised path is there and keeps
 * the choice in its state for the hook.
 *
 * Cost. The headers are on by default, so every proxied response pays for them: a service
 * without rules costs a request no stage at all; the upstream's fields the set replaces, hides
 * or keeps are found while rewrite.c copies them (the answer filter of policy/answer.h: one
 * test of each name's length and first letter), a Server to hide is left out of the copy, and
 * when the upstream sent none of the set's headers the block goes in one copy (joined with
 * CORS's lines, for a service with CORS and no rules).
 */
#include "policy/sechdr.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn/request-t.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "policy/answer.h"
#include "policy/chain.h"
#include "policy/fieldname.h"
#include "policy/policy.h"
#include "policy/stages.h"

static const struct {
    const char *name;
    const char *lower; /* for the case-insensitive compare */
    size_t len;
} names[GW_SECHDR__COUNT] = {
    [GW_SECHDR_HSTS] = {"Strict-Transport-Security", "strict-transport-security", 25},
    [GW_SECHDR_XCTO] = {"X-Content-Type-Options", "x-content-type-options", 22},
    [GW_SECHDR_XFO] = {"X-Frame-Options", "x-frame-options", 15},
    [GW_SECHDR_REFERRER] = {"Referrer-Policy", "referrer-policy", 15},
    [GW_SECHDR_CSP] = {"Content-Security-Policy", "content-security-policy", 23},
    [GW_SECHDR_PERMISSIONS] = {"Permissions-Policy", "permissions-policy", 18},
    [GW_SECHDR_COOP] = {"Cross-Origin-Opener-Policy", "cross-origin-opener-policy", 26},
    [GW_SECHDR_CORP] = {"Cross-Origin-Resource-Policy", "cross-origin-resource-policy", 28},
    [GW_SECHDR_COEP] = {"Cross-Origin-Embedder-Policy", "cross-origin-embedder-policy", 28},
    [GW_SECHDR_SERVER] = {"Server", "server", 6},
};

/* The headers whose names have n bytes (n < 32; no name is longer): a name is compared only
 * with these. */
#define BIT(id) (1u << (id))
static const uint32_t by_len[32] = {
    [6] = BIT(GW_SECHDR_SERVER),       [15] = BIT(GW_SECHDR_XFO) | BIT(GW_SECHDR_REFERRER),
    [18] = BIT(GW_SECHDR_PERMISSIONS), [22] = BIT(GW_SECHDR_XCTO),
    [23] = BIT(GW_SECHDR_CSP),         [25] = BIT(GW_SECHDR_HSTS),
    [26] = BIT(GW_SECHDR_COOP),        [28] = BIT(GW_SECHDR_CORP) | BIT(GW_SECHDR_COEP),
};

#define HSTS_BIT (1u << GW_SECHDR_HSTS)

_Static_assert(GW_SECHDR__COUNT <= 32, "a bit per header");

const char *gw_sechdr_name(enum gw_sechdr_id id)
{
    return (unsigned)id < GW_SECHDR__COUNT ? names[id].name : "";
}

/* ---- compiling ------------------------------------------------------------------------------- */

/* One header after inheritance. */
struct resolved {
    int state; /* enum gw_sechdr_state */
    int mode;  /* the header's own, or GW_SECHDR_MODE_INHERIT: the most specific level's */
    const char *value;
};

/* Lays level c over out: each header it sets replaces the inherited one, with its own mode;
 * its "mode" (when given) becomes the level mode. */
static void overlay(struct resolved out[GW_SECHDR__COUNT], int *level_mode,
                    const struct gw_sechdr_conf *c)
{
    for (size_t k = 0; k < GW_SECHDR__COUNT; k++) {
        const struct gw_sechdr_value *h = &c->h[k];
        if (h->state != GW_SECHDR_INHERIT)
            out[k] = (struct resolved){h->state, h->mode, h->value};
    }
    if (c->mode != GW_SECHDR_MODE_INHERIT)
        *level_mode = c->mode;
}

static void set_free(struct gw_sechdr_set *set)
{
    if (set == NULL)
        return;
    free(set->block[0]);
    free(set->block[1]);
    for (size_t k = 0; k < GW_SECHDR__COUNT; k++)
        free(set->lines[k].text);
    free(set);
}

/* The set for these headers: *out NULL when it would do nothing. 0 or GW_ENOMEM. */
static int set_new(const struct resolved res[GW_SECHDR__COUNT], int level_mode,
                   struct gw_sechdr_set **out)
{
    struct gw_sechdr_set *set = calloc(1, sizeof *set);
    size_t total = 0;
    *out = NULL;
    if (set == NULL)
        return GW_ENOMEM;
    for (size_t k = 0; k < GW_SECHDR__COUNT; k++) {
        int mode = res[k].mode != GW_SECHDR_MODE_INHERIT ? res[k].mode : level_mode;
        if (res[k].state == GW_SECHDR_HIDE) {
            set->drop |= 1u << k;
        } else if (res[k].state == GW_SECHDR_SET) {
            size_t vlen = strlen(res[k].value);
            size_t n = names[k].len + 2 + vlen + 2;
            char *t = malloc(n + 1);
            if (t == NULL)
                goto fail;
            memcpy(t, names[k].name, names[k].len);
            memcpy(t + names[k].len, ": ", 2);
            memcpy(t + names[k].len + 2, res[k].value, vlen);
            memcpy(t + n - 2, "\r\n", 3);
            set->lines[k].text = t;
            set->lines[k].len = n;
            total += n;
            if (mode == GW_SECHDR_OVERRIDE)
                set->drop |= 1u << k;
            else
                set->keep |= 1u << k;
        }
    }
    if (total == 0 && set->drop == 0) {
        set_free(set);
        return 0;
    }
    for (int tls = 0; tls < 2; tls++) {
        char *b = malloc(total + 1);
        size_t at = 0;
        if (b == NULL)
            goto fail;
        for (size_t k = 0; k < GW_SECHDR__COUNT; k++) {
            if (k == GW_SECHDR_HSTS && !tls)
                continue; /* RFC 6797 7.2: not over non-secure transport */
            memcpy(b + at, set->lines[k].text ? set->lines[k].text : "", set->lines[k].len);
            at += set->lines[k].len;
        }
        b[at] = '\0';
        set->block[tls] = b;
        set->block_len[tls] = at;
    }
    *out = set;
    return 0;
fail:
    set_free(set);
    return GW_ENOMEM;
}

static bool same_set(const struct gw_sechdr_set *a, const struct gw_sechdr_set *b)
{
    return a->drop == b->drop && a->keep == b->keep && a->block_len[1] == b->block_len[1] &&
           memcmp(a->block[1], b->block[1], a->block_len[1]) == 0;
}

/* The set for res, shared with an equal one already built (most services inherit the
 * gateway's unchanged): *out NULL when it would do nothing. 0 or GW_ENOMEM. */
static int intern_set(struct gw_sechdr_policy *sp, size_t cap, const struct resolved *res,
                      int level_mode, const struct gw_sechdr_set **out)
{
    struct gw_sechdr_set *set;
    int rc = set_new(res, level_mode, &set);
    *out = NULL;
    if (rc < 0 || set == NULL)
        return rc;
    for (size_t i = 0; i < sp->nsets; i++) {
        if (same_set(sp->sets[i], set)) {
            set_free(set);
            *out = sp->sets[i];
            return 0;
        }
    }
    if (sp->nsets == cap) { /* cannot happen: cap counts every level */
        set_free(set);
        return GW_ENOMEM;
    }
    set->index = (uint32_t)sp->nsets;
    sp->sets[sp->nsets++] = set;
    *out = set;
    return 0;
}

/* by_len and the names agree, and same_name may read 4 bytes of every name (checked once per
 * snapshot: a name added without its by_len bit would never be found). */
static bool tables_agree(void)
{
    for (size_t k = 0; k < GW_SECHDR__COUNT; k++) {
        size_t n = names[k].len;
        if (n < 4 || n >= 32 || strlen(names[k].name) != n || strlen(names[k].lower) != n ||
            !(by_len[n] & (1u << k)) || strcasecmp(names[k].name, names[k].lower) != 0)
            return false;
    }
    return true;
}

int gw_sechdr_build(struct gw_policy *p, const struct gw_snapshot *s)
{
    assert(tables_agree());
    const struct gw_config *cfg = s->cfg;
    struct gw_sechdr_policy *sp = calloc(1, sizeof *sp);
    int rc = GW_ENOMEM;
    if (sp == NULL)
        return GW_ENOMEM;
    p->sechdr = sp;
    size_t cap = 1;
    for (size_t i = 0; i < cfg->nservices; i++)
        cap += 1 + cfg->services[i].security_headers.nrules;
    sp->sets = calloc(cap, sizeof *sp->sets);
    sp->svc = calloc(cfg->nservices ? cfg->nservices : 1, sizeof *sp->svc);
    if (sp->sets == NULL || sp->svc == NULL)
        return GW_ENOMEM;
    sp->nsvc = cfg->nservices;

    /* The gateway's: every header off when "security_headers" is false. */
    struct resolved gw[GW_SECHDR__COUNT];
    int gw_mode = GW_SECHDR_IF_ABSENT;
    memset(gw, 0, sizeof gw);
    if (cfg->security_headers.enabled)
        overlay(gw, &gw_mode, &cfg->security_headers);
    rc = intern_set(sp, cap, gw, gw_mode, &sp->gateway);
    if (rc < 0)
        return rc;

    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct gw_sechdr_conf *sc = &cfg->services[i].security_headers;
        struct gw_sechdr_svc *sv = &sp->svc[i];
        if (!sc->enabled)
            continue;
        struct resolved svc[GW_SECHDR__COUNT];
        int svc_mode = gw_mode;
        memcpy(svc, gw, sizeof svc);
        overlay(svc, &svc_mode, sc);
        rc = intern_set(sp, cap, svc, svc_mode, &sv->base);
        if (rc < 0)
            return rc;
        sv->any = sv->base != NULL;
        if (sc->nrules == 0)
            continue;
        sv->rules = calloc(sc->nrules, sizeof *sv->rules);
        if (sv->rules == NULL)
            return GW_ENOMEM;
        sv->nrules = sc->nrules;
        for (size_t k = 0; k < sc->nrules; k++) {
            const struct gw_sechdr_rule_conf *rc_conf = &sc->rules[k];
            sv->rules[k].match = &rc_conf->match;
            if (!rc_conf->set.enabled)
                continue;
            struct resolved rule[GW_SECHDR__COUNT];
            int rule_mode = svc_mode;
            memcpy(rule, svc, sizeof rule);
            overlay(rule, &rule_mode, &rc_conf->set);
            rc = intern_set(sp, cap, rule, rule_mode, &sv->rules[k].set);
            if (rc < 0)
                return rc;
            sv->any = sv->any || sv->rules[k].set != NULL;
        }
    }
    /* The hook runs when some answer has headers to get: the gateway's, or a service's. */
    bool any = sp->gateway != NULL;
    for (size_t i = 0; i < cfg->nservices && !any; i++)
        any = sp->svc[i].any;
    if (any)
        p->answer_hooks |= 1u << GW_ANSWER_SECHDR;
    return 0;
}

void gw_sechdr_free(struct gw_sechdr_policy *sp)
{
    if (sp == NULL)
        return;
    for (size_t i = 0; i < sp->nsets; i++)
        set_free(sp->sets[i]);
    for (size_t i = 0; sp->svc && i < sp->nsvc; i++)
        free(sp->svc[i].rules);
    free(sp->sets);
    free(sp->svc);
    free(sp);
}

/* ---- applying -------------------------------------------------------------------------------- */

/* The upstream headers set looks at (an upstream's HSTS over plain HTTP is not ours to judge). */
static inline uint32_t interest_of(const struct gw_sechdr_set *set, bool secure)
{
    uint32_t interest = set->drop | set->keep;
    return secure ? interest : interest & ~HSTS_BIT;
}

static inline bool same_name(const char *name, const char *lower, size_t n)
{
    return gw_fieldname_eq(name, lower, n);
}

/* Of the headers in mask, the one named name[0..n) (ASCII case-insensitive), as a bit; 0 when
 * none. by_len leaves at most two names to compare, and none for almost every name. */
static inline uint32_t named(uint32_t mask, const char *name, size_t n)
{
    if (n >= 32)
        return 0;
    for (uint32_t m = mask & by_len[n]; m; m &= m - 1) {
        unsigned k = (unsigned)__builtin_ctz(m);
        if (same_name(name, names[k].lower, n))
            return 1u << k;
    }
    return 0;
}

/* The bit of the header in mask whose line starts at p (up to end), or 0: each candidate's
 * name length says where its colon must be, so no search for the colon. */
static inline uint32_t line_named(uint32_t mask, const char *p, const char *end)
{
    for (uint32_t m = mask; m; m &= m - 1) {
        unsigned k = (unsigned)__builtin_ctz(m);
        size_t n = names[k].len;
        if ((size_t)(end - p) > n && p[n] == ':' && same_name(p, names[k].lower, n))
            return 1u << k;
    }
    return 0;
}

/* Removes from head (after its start line) the first `count` lines whose header is in mask:
 * the lines the scan found in the upstream's head, which rewrite.c copied in order. The walk
 * stops at the last of them (a Server header usually comes first). */
static void drop_lines(struct gw_buf *head, uint32_t mask, unsigned count)
{
    char *end = head->data + head->len;
    char *p = memchr(head->data, '\n', head->len);
    if (p == NULL)
        return;
    p++;
    while (count > 0 && p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *next = nl ? nl + 1 : end;
        if (line_named(mask, p, next)) {
            memmove(p, next, (size_t)(end - next));
            end -= next - p;
            count--;
        } else {
            p = next;
        }
    }
    head->len = (size_t)(end - head->data);
}

/* The slow scan: every line of head after its start line, for the headers in interest (their
 * bits come back); the lines of the headers in drop are removed as they are found. */
static uint32_t scan_lines(struct gw_buf *head, uint32_t interest, uint32_t drop)
{
    uint32_t present = 0;
    char *end = head->data + head->len;
    char *p = memchr(head->data, '\n', head->len);
    if (p == NULL || interest == 0)
        return 0;
    p++;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *next = nl ? nl + 1 : end;
        const char *colon = memchr(p, ':', (size_t)(next - p));
        uint32_t hit = colon ? named(interest, p, (size_t)(colon - p)) : 0;
        present |= hit;
        if (hit & drop) {
            memmove(p, next, (size_t)(end - next));
            end -= next - p;
        } else {
            p = next;
        }
    }
    head->len = (size_t)(end - head->data);
    return present;
}

/* Appends set's lines but those in skip (if_absent headers the answer already has). */
static int append_lines(const struct gw_sechdr_set *set, uint32_t skip, bool secure,
                        struct gw_buf *head)
{
    if (skip == 0)
        return gw_buf_append(head, set->block[secure], set->block_len[secure]);
    for (size_t k = 0; k < GW_SECHDR__COUNT; k++) {
        if (set->lines[k].len == 0 || (skip & (1u << k)) || (k == GW_SECHDR_HSTS && !secure))
            continue;
        int rc = gw_buf_append(head, set->lines[k].text, set->lines[k].len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int gw_sechdr_apply(const struct gw_sechdr_set *set, const struct gw_http1_message *m, bool secure,
                    struct gw_buf *head)
{
    uint32_t interest = interest_of(set, secure);
    uint32_t present = 0;
    if (m == NULL) {
        present = scan_lines(head, interest, set->drop);
    } else {
        /* One pass over the upstream's header names: by_len lets almost every one go at once. */
        unsigned ndrop = 0;
        for (uint32_t i = 0; interest && i < m->num_headers; i++) {
            uint32_t hit = named(interest, m->headers[i].name, m->headers[i].name_len);
            present |= hit;
            ndrop += (hit & set->drop) != 0;
        }
        if (ndrop)
            drop_lines(head, present & set->drop, ndrop);
    }
    return append_lines(set, present & set->keep, secure, head);
}

/* ---- the stage and the hook ------------------------------------------------------------------ */

/* The stage's choice for a request of a service with rules (its slot; NULL until it ran). */
struct sechdr_state {
    const struct gw_sechdr_set *set; /* NULL: the rule turned the headers off */
};
_Static_assert(sizeof(struct sechdr_state) <= GW_STAGE_STATE_MAX, "sechdr state too large");

static size_t service_index(const struct gw_request *r)
{
    return (size_t)(r->svc - r->snap->services);
}

/* The set for a routed request: that of the rule whose match accepts it with the longest
 * prefix (the first of equals), else its service's. Rules are matched on the normalised path,
 * so only while r->npath is there (before the request is forwarded). */
static const struct gw_sechdr_set *select_set(const struct gw_sechdr_svc *sv,
                                              const struct gw_request *r)
{
    const struct gw_sechdr_set *set = sv->base;
    size_t best = 0, len;
    bool found = false;
    for (size_t i = 0; r->npath && i < sv->nrules; i++) {
        if (gw_policy_match_len(sv->rules[i].match, r->npath, r->npath_len, r->msg.method_id,
                                &len) &&
            (!found || len > best)) {
            found = true;
            best = len;
            set = sv->rules[i].set;
        }
    }
    return set;
}

bool gw_sechdr_applies(const struct gw_snapshot *s, size_t i)
{
    const struct gw_sechdr_policy *sp = s->policy ? s->policy->sechdr : NULL;
    /* Without rules the service's set is known from the service alone: no stage needed. */
    return sp && i < sp->nsvc && sp->svc[i].any && sp->svc[i].nrules > 0;
}

enum gw_stage_result gw_sechdr_on_request(struct gw_request *r, void **slot, struct gw_answer *a)
{
    const struct gw_sechdr_svc *sv = &r->snap->policy->sechdr->svc[service_index(r)];
    struct sechdr_state *st = gw_stage_alloc(r, sizeof *st);
    if (st == NULL) {
        gw_answer_init(a, GW_ENOMEM);
        return GW_STAGE_RESPOND;
    }
    st->set = select_set(sv, r);
    *slot = st;
    return GW_STAGE_CONTINUE;
}

/* The set of the request's answers: the gateway's before a service was chosen, else the
 * service's or its rule's (the stage's choice, or chosen here when the answer comes before the
 * stage ran). NULL: no header. */
static inline __attribute__((always_inline)) const struct gw_sechdr_set *
request_set(const struct gw_sechdr_policy *sp, const struct gw_request *r)
{
    if (r == NULL || r->svc == NULL)
        return sp->gateway;
    const struct gw_sechdr_svc *sv = &sp->svc[service_index(r)];
    const struct sechdr_state *st = r->slot[GW_STAGE_SECHDR];
    if (st) /* the stage chose (a service with rules) */
        return st->set;
    if (sv->nrules)
        return select_set(sv, r); /* answered before the stage ran */
    return sv->base;
}

const struct gw_sechdr_set *gw_sechdr_request_set(const struct gw_policy *p,
                                                  const struct gw_request *r)
{
    return p->sechdr ? request_set(p->sechdr, r) : NULL;
}

void gw_sechdr_filter_add(const struct gw_sechdr_set *set, bool secure, struct gw_answer_filter *f)
{
    for (uint32_t m = interest_of(set, secure); m; m &= m - 1) {
        unsigned k = (unsigned)__builtin_ctz(m);
        /* a header gantry replaces or hides goes; an if_absent one it finds is noted */
        gw_answer_filter_add(f, names[k].lower, names[k].len, false, (set->drop >> k) & 1u,
                             set->keep & (1u << k));
    }
}

/* The bits of r->answer_prepared that are ours: the if_absent headers the upstream sent. */
#define FOUND_MASK ((1u << GW_SECHDR__COUNT) - 1u)
_Static_assert(GW_SECHDR__COUNT < 30, "a bit per header below the answer hooks' flags");

int gw_sechdr_answer_headers(const struct gw_policy *p, struct gw_request *r, bool secure,
                             struct gw_buf *head)
{
    const struct gw_sechdr_set *set = request_set(p->sechdr, r);
    uint32_t prepared = r && head == &r->rhead ? r->answer_prepared : 0;
    if (set == NULL)
        return 0;
    /* Response transformations ran before (their stage's on_response) and may have set some
     * of these headers: then every line of the head is looked at, not only the upstream's. */
    /* (response lines live in the transformation's state: none without arena state) */
    bool transformed = r && r->arena_used && gw_transform_adds_response_lines(r);
    if (prepared && !transformed) /* the copy of the upstream's fields left out what goes */
        return append_lines(set, prepared & FOUND_MASK, secure, head);
    /* The upstream's response is rewritten into r->rhead (upstream/rewrite.c); any other head
     * is gantry's own answer, which carries none of these headers unless transformed. */
    if (r && head == &r->rhead)
        return gw_sechdr_apply(set, transformed ? NULL : &r->rmsg, secure, head);
    if (transformed)
        return gw_sechdr_apply(set, NULL, secure, head);
    return gw_buf_append(head, set->block[secure], set->block_len[secure]);
}
