/*
 * Security headers (policy/sechdr.c): what the snapshot compiles from "security_headers". The
 * answer hook that adds them is declared in policy/answer.h, the stage in policy/stages.h.
 */
#ifndef GW_POLICY_SECHDR_H
#define GW_POLICY_SECHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config-t.h"
#include "core/buf.h"

/* One compiled set of security headers: what the answers of a request get. Immutable. */
struct gw_sechdr_set {
    /* Every line the set sends ("Name: value\r\n"...), in enum gw_sechdr_id order, for an answer
     * over plain HTTP ([0]) and over TLS ([1], with Strict-Transport-Security): the common case
     * is one append. */
    char *block[2];
    size_t block_len[2];
    /* One line per header the set sends (lines[k].len 0: none), for the rare answer that needs
     * some of them left out (an if_absent header the upstream already set). */
    struct {
        char *text;
        size_t len;
    } lines[GW_SECHDR__COUNT];
    /* The upstream headers the set cares about: bit k of drop (replaced or hidden: the
     * upstream's line goes) or keep (if_absent: the upstream's stays, gantry's is not sent). */
    uint32_t drop, keep;
    uint32_t index; /* in gw_sechdr_policy.sets */
};

/* The sets of one service: its own (NULL: no header) and its rules' (the longest matching prefix
 * wins). */
struct gw_sechdr_svc {
    const struct gw_sechdr_set *base;
    size_t nrules;
    struct gw_sechdr_svc_rule {
        const struct gw_match_conf *match;
        const struct gw_sechdr_set *set; /* NULL: no header for the requests it matches */
    } * rules;
    bool any; /* base or a rule has a set: the stage applies to the service */
};

/* Per snapshot (gw_sechdr_build in policy/policy.h: a service's headers inherit the gateway's
 * key by key, a rule's the service's): the gateway's set (gantry's answers before a service is
 * chosen), each service's, and the distinct sets they point to (owned). */
struct gw_sechdr_policy {
    const struct gw_sechdr_set *gateway;
    struct gw_sechdr_svc *svc; /* per service index */
    size_t nsvc;
    struct gw_sechdr_set **sets;
    size_t nsets;
};

struct gw_answer_filter;
struct gw_policy;
struct gw_request;

/* The header name of a security header ("X-Frame-Options"). */
const char *gw_sechdr_name(enum gw_sechdr_id id);

/* Appends set's headers to the head of an answer, as the answer hook does: the headers already
 * there are replaced, kept or hidden as the set says. m: the upstream's parsed head, whose lines
 * head holds after its start line (the fast scan); NULL: every line of head is looked at (a
 * head that a transformation or gantry wrote). Exposed for the unit tests. 0 or GW_ENOMEM. */
int gw_sechdr_apply(const struct gw_sechdr_set *set, const struct gw_http1_message *m, bool secure,
                    struct gw_buf *head);

/* Adds to f the names of the upstream headers set looks at on an answer (over TLS when secure:
 * only there is an upstream's Strict-Transport-Security replaced or kept). */
void gw_sechdr_filter_add(const struct gw_sechdr_set *set, bool secure, struct gw_answer_filter *f);

/* The set of a request's answers: the gateway's before a service was chosen (r NULL, or r->svc
 * NULL), else the service's or its rule's. NULL: no header. */
const struct gw_sechdr_set *gw_sechdr_request_set(const struct gw_policy *p,
                                                  const struct gw_request *r);

#endif
