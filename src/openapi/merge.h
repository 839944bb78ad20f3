/*
 * Merging the services' OpenAPI 3 documents into one (docs/openapi.md). Pure code on jansson
 * values: no I/O, any thread; fuzzed by fuzz/fuzz_openapi.c.
 *
 * What the merged document holds, for each service whose document is present:
 * - its paths, under the path the gateway serves them at: mount + the document's base path
 *   (the path of its first servers[] URL) + the path key;
 * - its components, each renamed "<service>.<name>" (every "$ref" to "#/components/<kind>/
 *   <name>" inside what is copied is rewritten to match), so that two services' "User"
 *   schemas do not collide; operationIds become "<service>.<id>" for the same reason;
 * - the security gantry enforces, not the upstream's: the upstream's securitySchemes and
 *   security requirements are dropped; a service with JWT (or introspection) gets an HTTP
 *   bearer scheme "<service>.bearer", one with API keys an apiKey scheme "<service>.apiKey" in
 *   gantry's header, and each operation requires one of them (or nothing when auth is
 *   optional);
 * - servers: one, the gateway's URL; operation- and path-level servers are dropped (they name
 *   the upstream).
 */
#ifndef GW_OPENAPI_MERGE_H
#define GW_OPENAPI_MERGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct gw_openapi_service {
    const char *name;  /* the service's name: the namespace of its components */
    const char *mount; /* prepended to its paths ("" or "/api/users" or "/v2/api"), no
                          trailing '/' */
    uint32_t auth;     /* GW_AUTH_* bits (config-t.h) of the methods gantry accepts; 0: none */
    bool auth_required;
    const char *api_key_header; /* when auth has GW_AUTH_API_KEY */
    const json_t *doc;          /* its document (gw_openapi_check passed), or NULL: left out */
};

struct gw_openapi_info {
    const char *title;
    const char *version;
    const char *server_url;
};

/* NULL when doc is an OpenAPI 3.x document this module can merge (an object whose "openapi"
 * is a string starting "3.", whose "paths" and "components", when present, are objects), else
 * why not (static text). */
const char *gw_openapi_check(const json_t *doc);

/* Builds the merged document of the n services (those with a doc) into *out (a new reference).
 * 0 or GW_ENOMEM. */
int gw_openapi_merge(const struct gw_openapi_info *info, const struct gw_openapi_service *svcs,
                     size_t n, json_t **out);

#endif
