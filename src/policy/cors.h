/*
 * The browser policies of a snapshot, compiled from the config: CORS (policy/cors.c, two rows of
 * the chain) and the CSRF Origin check (policy/csrf.c). docs/cors.md explains the behaviour.
 *
 * The config gives each at three levels (gateway, service, rule; config/config-t.h); here each
 * service's levels are merged once, when the snapshot is built, into one effective setting per
 * service and per rule, with its origin patterns parsed and its constant header lines rendered,
 * so a request only picks the setting that applies and compares origins.
 */
#ifndef GW_POLICY_CORS_H
#define GW_POLICY_CORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config-t.h"
#include "http1/parser.h"
#include "policy/origin.h"

struct gw_policy;
struct gw_answer_filter;

/* Merges a level into the one above it: every key src wrote (src->set) replaces dst's, and dst
 * records it as written. Strings are shared, not copied. */
void gw_cors_conf_overlay(struct gw_cors_conf *dst, const struct gw_cors_conf *src);
void gw_csrf_conf_overlay(struct gw_csrf_conf *dst, const struct gw_csrf_conf *src);

/* The method a CORS preflight asks about, for routing: when m is an OPTIONS request with Origin
 * and Access-Control-Request-Method, that method's id (GW_METHOD_OTHER for a token gantry does
 * not know); otherwise m's own method. */
enum gw_http_method gw_cors_route_method(const struct gw_http1_message *m);

struct gw_cors_set;

/*
 * What the answers of a request get from CORS (policy/cors.c): the head of the stage's state.
 * The common requests need nothing of their own — an actual request from an exact origin, from
 * any origin under "*", or with no allowed origin (only Vary) — so each set holds those picks
 * ready (shared: never written nor freed), and the stage's slot points to one of them instead
 * of state from the arena; the answer hook of policy/answer.h then adds their lines when no
 * stage took arena state (else the chain's on_response does, in row order, as for any stage).
 */
struct gw_cors_pick {
    const struct gw_cors_set *set;
    /* every CORS line of an actual answer when the upstream sent no Vary, prepared with the
     * set (one copy); NULL: built from the pieces below */
    const char *lines;
    size_t lines_len;
    const char *origin; /* the allowed origin's bytes */
    uint16_t origin_len;
    bool preflight; /* OPTIONS with Origin and Access-Control-Request-Method */
    bool allowed;   /* the origin is allowed: the answer gets CORS headers */
    bool shared;    /* one of the set's picks (not the request's) */
    /* A shared pick's lines followed by the security headers of joined_set (the service's, when
     * it has no security-header rules), over plain HTTP [0] and TLS [1]: every line the answer
     * hooks add to an upstream answer that has none of the fields they look for (policy/answer.h).
     * joined[0] NULL: none prepared. Owned. */
    char *joined[2];
    size_t joined_len[2];
    const struct gw_sechdr_set *joined_set;
    const struct gw_answer_filter *joined_filter[2]; /* the answer's, with joined_set and CORS */
};

/* One effective CORS setting (a service's, or one of its rules'). */
struct gw_cors_set {
    bool enabled;
    bool any_origin; /* "*" */
    struct gw_origin_pattern *origins;
    size_t norigins;
    struct gw_cors_text {
        char *s;
        size_t n;
        /* what an actual answer to this origin adds when its head has no Vary of its own:
         * "Access-Control-Allow-Origin: <s>\r\n" and actual_tail, as one string */
        char *lines;
        size_t lines_len;
        struct gw_cors_pick pick; /* an actual request from this origin (shared) */
    } * exact; /* the exact origins serialized as browsers send them: compared as bytes */
    size_t nexact;
    bool credentials;
    uint32_t methods;     /* (1u << enum gw_http_method) bits, or GW_CORS_ANY_METHOD */
    bool any_header;      /* "headers": "*": any requested header is allowed and echoed */
    char *const *headers; /* allowed request headers (the config's strings, any case) */
    size_t nheaders;
    char *allow_methods; /* "Access-Control-Allow-Methods: ...\r\n" (NULL with any method) */
    char *allow_headers; /* "Access-Control-Allow-Headers: ...\r\n" (NULL: any, or none) */
    char *max_age;       /* "Access-Control-Max-Age: N\r\n", or NULL */
    const char *credentials_line; /* "Access-Control-Allow-Credentials: true\r\n", or "" */
    size_t credentials_len;
    char *actual;      /* what an actual (not preflight) answer adds: the expose line, or NULL */
    size_t actual_len; /* its length (0 with NULL) */
    /* What follows the allowed origin on an actual answer whose head has no Vary of its own, as
     * one string: "\r\n", the credentials line, the actual lines, "Vary: Origin\r\n" */
    char *actual_tail;
    size_t actual_tail_len;
    /* The same lines for "*" without credentials (any origin gets "*"), or NULL */
    char *star_lines;
    size_t star_lines_len;
    struct gw_cors_pick star;     /* an actual request under "*" without credentials (shared) */
    struct gw_cors_pick disallow; /* no Origin, or one not allowed: only Vary (shared) */
    uint32_t denied_status;
};

struct gw_cors_rule {
    const struct gw_match_conf *match;
    struct gw_cors_set set;
};

/* A service's CORS: its own setting and its rules', in order. */
struct gw_cors_service {
    struct gw_cors_set base;
    struct gw_cors_rule *rules;
    size_t nrules;
    /* no rule, base enabled and without "*": an actual request's pick is the base's exact
     * origin's or its disallow (policy/cors.c, the short way) */
    bool plain;
};

/* One effective CSRF setting. */
struct gw_csrf_set {
    bool enabled;
    struct gw_origin_pattern *origins;
    size_t norigins;
    bool refuse_no_origin;
};

struct gw_csrf_rule {
    const struct gw_match_conf *match;
    struct gw_csrf_set set;
};

struct gw_csrf_service {
    struct gw_csrf_set base;
    struct gw_csrf_rule *rules;
    size_t nrules;
};

struct gw_sechdr_set;

/* Prepares the joined blocks of the shared picks (struct gw_cors_pick) of every service whose
 * security headers have no rules, with that service's set. Called by gw_policy_answer_build,
 * once p->cors and p->sechdr are built. 0 or GW_ENOMEM. */
int gw_cors_join(struct gw_policy *p);

/* Compiles p->cors and p->csrf (one per service of cfg; NULL when no service has the policy)
 * and sets the CORS answer hook's bit. Called from gw_policy_build. 0, or a negative code with
 * why. */
int gw_cors_build(struct gw_policy *p, const struct gw_config *cfg, char *why, size_t why_cap);
void gw_cors_free(struct gw_policy *p);

/* The setting that applies to a request of service cs: its first rule whose match takes the
 * path and method, else the service's. */
const struct gw_cors_set *gw_cors_select(const struct gw_cors_service *cs, const char *path,
                                         size_t n, int method_id);
const struct gw_csrf_set *gw_csrf_select(const struct gw_csrf_service *cs, const char *path,
                                         size_t n, int method_id);

/* True when origin o is one set s allows (never for a disabled set). */
bool gw_cors_origin_allowed(const struct gw_cors_set *s, const struct gw_origin *o);

/* The same for an Origin header's value v[0..n): an exact origin as browsers send it is found
 * by comparing bytes; anything else is parsed and matched. */
bool gw_cors_origin_value_allowed(const struct gw_cors_set *s, const char *v, size_t n);

/* The exact origin of enabled set s whose bytes are v[0..n) (with its prepared lines), or NULL:
 * the first step of gw_cors_origin_value_allowed. */
const struct gw_cors_text *gw_cors_exact_origin(const struct gw_cors_set *s, const char *v,
                                                size_t n);

#endif
