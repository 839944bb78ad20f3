/*
 * DNS discovery in the config schema (src/discovery/, README "DNS discovery"): a service's
 * "discovery" ("dns": every A/AAAA address of a target's host name is a target; "dns_srv": the
 * SRV records of the target's host name give host, port and weight), and the gateway's
 * "discovery" section (the resolver to ask and how often).
 */
#include "config/internal.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define DC(field) offsetof(struct gw_discovery_conf, field)

const struct gw__cfg_enum gw__cfg_discovery_kinds[] = {
    {"none", GW_DISCOVERY_NONE},
    {"dns", GW_DISCOVERY_DNS},
    {"dns_srv", GW_DISCOVERY_DNS_SRV},
    {NULL, 0},
};

/* "ADDR" or "ADDR:PORT", an IPv4 address (res_nquery's server list holds IPv4 addresses). */
static bool check_resolver(struct gw__cfg_ctx *ctx, char **s)
{
    char host[32];
    unsigned char buf[4];
    const char *colon = strchr(*s, ':');
    size_t n = colon ? (size_t)(colon - *s) : strlen(*s);
    bool ok = n < sizeof host;
    if (ok) {
        memcpy(host, *s, n);
        host[n] = '\0';
        ok = inet_pton(AF_INET, host, buf) == 1;
    }
    if (ok && colon) {
        char *end = NULL;
        long v = strtol(colon + 1, &end, 10);
        ok = colon[1] >= '0' && colon[1] <= '9' && *end == '\0' && v >= 1 && v <= 65535;
    }
    if (!ok)
        gw__cfg_error(ctx, "expected the IPv4 address of a DNS server, with an optional port, "
                           "such as \"127.0.0.1:53\" (an address, not a name)");
    return ok;
}

static const struct gw__cfg_range interval_range = {1000, 3600000};
static const struct gw__cfg_range timeout_range = {100, 60000};

static const struct gw__cfg_field discovery_fields[] = {
    {.name = "resolver",
     .type = &gw__cfg_string_type,
     .offset = DC(resolver),
     .arg = &(const struct gw__cfg_str){check_resolver}},
    {.name = "interval",
     .type = &gw__cfg_duration_type,
     .offset = DC(interval_ms),
     .arg = &interval_range,
     .def = "10s"},
    {.name = "timeout",
     .type = &gw__cfg_duration_type,
     .offset = DC(timeout_ms),
     .arg = &timeout_range,
     .def = "2s"},
};

const struct gw__cfg_object gw__cfg_discovery_obj = {
    .what = "discovery",
    ROWS(discovery_fields),
};
