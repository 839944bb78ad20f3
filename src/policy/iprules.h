/*
 * IP rules (policy/iprules.c): the allow and deny lists the snapshot compiles from "ip_rules".
 * The stage functions are in policy/stages.h.
 */
#ifndef GW_POLICY_IPRULES_H
#define GW_POLICY_IPRULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config-t.h"

struct gw_cidr_set;
struct gw_policy;
struct gw_snapshot;

/* The lists one request is checked against (NULL: no such list). */
struct gw_iprules_lists {
    const struct gw_cidr_set *allow;
    const struct gw_cidr_set *deny;
};

/* One service's lists, and its rules' (the longest matching prefix wins). */
struct gw_iprules_svc {
    struct gw_iprules_lists base;
    size_t nrules;
    struct gw_iprules_svc_rule {
        const struct gw_match_conf *match;
        struct gw_iprules_lists lists;
    } * rules;
    bool any; /* some list applies to some request: the stage runs for the service */
};

/* Per snapshot (gw_iprules_build in policy/policy.h: a service's lists inherit the gateway's
 * key by key, a rule's the service's): per service index, and the compiled sets they point to
 * (owned). */
struct gw_iprules_policy {
    struct gw_iprules_svc *svc;
    size_t nsvc;
    struct gw_cidr_set **sets;
    size_t nsets;
};

/* The decision for an address (family and addr as net/addr.h gives them; known false when the
 * client address is not an IP address): deny wins over allow, and an allow list lets through
 * only what it holds. True when the request may pass. */
bool gw_iprules_allows(const struct gw_iprules_lists *l, bool known, int family,
                       const uint8_t *addr);

#endif
