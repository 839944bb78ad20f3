/*
 * Security headers (policy/sechdr.c): what the snapshot compiles from "security_headers", and
 * the hook that puts the gateway's headers on gantry's own answers. The stage functions are in
 * policy/stages.h.
 */
#ifndef GW_POLICY_SECHDR_H
#define GW_POLICY_SECHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config-t.h"
#include "core/buf.h"

struct gw_policy;
struct gw_request;
struct gw_snapshot;

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
    /* Bit n: a header of drop | keep has a name of n bytes (a cheap filter for the scan). */
    uint64_t len_mask;
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

/* Per snapshot: the gateway's set (gantry's answers before a service is chosen), each
 * service's, and the distinct sets they point to (owned). */
struct gw_sechdr_policy {
    const struct gw_sechdr_set *gateway;
    struct gw_sechdr_svc *svc; /* per service index */
    size_t nsvc;
    struct gw_sechdr_set **sets;
    size_t nsets;
};

/* Compiles s->cfg's security headers into p->sechdr (services' inherit the gateway's key by
 * key, rules' the service's). Control thread, while the snapshot is built. 0 or GW_ENOMEM. */
int gw_sechdr_build(struct gw_policy *p, const struct gw_snapshot *s);
void gw_sechdr_free(struct gw_sechdr_policy *sp);

/* The header name of a security header ("X-Frame-Options"). */
const char *gw_sechdr_name(enum gw_sechdr_id id);

/* The answer hook (policy/answer.h): appends the headers of the set that applies to an answer
 * the stage did not see — before a service was chosen (r NULL, or r->svc NULL: the gateway's
 * set), or for a routed request answered before the stage ran (the service's, or its rule's).
 * 0 or GW_ENOMEM. */
int gw_sechdr_answer_headers(const struct gw_policy *p, struct gw_request *r, bool secure,
                             struct gw_buf *head);

/* Appends set's headers to the head of an upstream response (head: its rewritten head; m: the
 * upstream's parsed head, whose headers the set may replace, keep or hide), as the stage does.
 * Exposed for the unit tests. 0 or GW_ENOMEM. */
int gw_sechdr_apply(const struct gw_sechdr_set *set, const struct gw_http1_message *m, bool secure,
                    struct gw_buf *head);

#endif
