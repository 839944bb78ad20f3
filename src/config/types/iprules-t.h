/*
 * The "ip_rules" sections' types (config_iprules.c): allow and deny lists of the gateway, a
 * service and its rules.
 */
#ifndef GW_CONFIG_TYPES_IPRULES_T_H
#define GW_CONFIG_TYPES_IPRULES_T_H

#include <stdbool.h>
#include <stddef.h>

#include "config/types/match-t.h"

struct gw_cidr; /* net/addr.h */

/* Where a setting of a level (gateway, service, rule) comes from. */
enum gw_iplist_state {
    GW_IPLIST_INHERIT = 0, /* absent: the enclosing level's list applies */
    GW_IPLIST_OFF,         /* false: no list at this level (an inherited one is dropped) */
    GW_IPLIST_SET,         /* a list of addresses and CIDR blocks */
};

struct gw_iplist_conf {
    int state; /* enum gw_iplist_state */
    struct gw_cidr *items;
    size_t n;
};

/* A service's IP rule ("ip_rules.rules[]"): other lists for the requests it matches. */
struct gw_iprule_conf {
    struct gw_match_conf match;
    struct gw_iplist_conf allow;
    struct gw_iplist_conf deny;
};

/* "ip_rules" of the gateway (rules unused) or of a service. */
struct gw_iprules_conf {
    bool enabled; /* a service's "ip_rules": false: no list applies to it */
    struct gw_iplist_conf allow;
    struct gw_iplist_conf deny;
    struct gw_iprule_conf *rules; /* services only; the longest matching prefix wins */
    size_t nrules;
};

#endif
