/*
 * DNS discovery's types (config_discovery.c, src/discovery/): a service's "discovery" and the
 * gateway's "discovery" section.
 */
#ifndef GW_CONFIG_TYPES_DISCOVERY_T_H
#define GW_CONFIG_TYPES_DISCOVERY_T_H

#include <stdint.h>

/* "services[].discovery" (config_discovery.c) */
enum gw_discovery_kind {
    GW_DISCOVERY_NONE = 0,
    GW_DISCOVERY_DNS,     /* "dns": every A/AAAA address of a target's host is a target */
    GW_DISCOVERY_DNS_SRV, /* "dns_srv": the SRV records of a target's host give the targets */
};

/* "discovery": how names of services with discovery are resolved (src/discovery/) */
struct gw_discovery_conf {
    char *resolver;       /* "resolver": "ADDR[:PORT]"; NULL: the system's (/etc/resolv.conf) */
    uint64_t interval_ms; /* "interval": resolve again this often (sooner when TTLs say), 10s */
    uint64_t timeout_ms;  /* "timeout": per query, 2s */
};

#endif
