/*
 * Hub channel names, access patterns and roles: pure functions, no allocation, no I/O.
 *
 * A channel name is 1-128 characters of [A-Za-z0-9._:/@-]; a client id 1-64 of the same set.
 * Neither needs escaping in JSON or in the Redis wire format (hub/proto.h). A pattern (the
 * "channels" of a "hub.channels" rule) is a channel name that may also hold '*' (any run of
 * characters, also none) and "{client_id}" (the connected client's id).
 */
#ifndef GW_HUB_CHANNEL_H
#define GW_HUB_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>

#define GW_HUB_CHANNEL_MAX 128
#define GW_HUB_CLIENT_ID_MAX 64

/* s[0..n) is a valid channel name. */
bool gw_hub_channel_valid(const char *s, size_t n);

/* s[0..n) is a valid client id. */
bool gw_hub_client_id_valid(const char *s, size_t n);

/* s (NUL-terminated) is a valid pattern: 0, or -1 with *why set to a message for config errors. */
int gw_hub_pattern_check(const char *s, const char **why);

/* Pattern pat (checked) matches channel ch[0..n) for the client client_id (NUL-terminated). */
bool gw_hub_pattern_match(const char *pat, const char *ch, size_t n, const char *client_id);

/* One of roles[0..nroles) is "*" or one of the space-separated roles in have (NULL: none). */
bool gw_hub_roles_allow(char *const *roles, size_t nroles, const char *have);

#endif
