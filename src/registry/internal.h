/*
 * Internals of src/registry/: shared by its files and its unit tests only.
 */
#ifndef GW_REGISTRY_INTERNAL_H
#define GW_REGISTRY_INTERNAL_H

#include "registry/registry.h"

/* registry.c: stores e (owned) in place of the registration with its id. Returns the one it
 * replaced (detached, owned by the caller), NULL when e is new, or e itself when out of memory
 * (nothing changed). */
struct gw_registration *gw__registry_swap(struct gw_registry *reg, struct gw_registration *e);

/* registry.c: the file's document given to gw_registry_set_file_doc (borrowed), or NULL. */
json_t *gw__registry_file_doc(const struct gw_registry *reg);

/* registry_put.c: "/a/b/" -> "/a/b" in place ("/" stays). */
void gw__registry_trim_prefix(char *p);

/* registry_put.c: the TTL of a request body: a number of seconds or a duration string ("30s",
 * "500ms", "5m", "1h"). True with *ms set, or false. */
bool gw__registry_parse_ttl(json_t *v, uint64_t *ms);

#endif
