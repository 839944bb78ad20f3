/*
 * Media-type negotiation: the Accept request field (RFC 9110 12.5.1), for the few answers
 * gantry itself offers in several formats (its metrics: Prometheus text or JSON).
 *
 * Contract: gw_accept_choose reads the request's Accept field lines (several lines are one
 * list, RFC 9110 5.3) and picks among the offered media types ("type/subtype", lower case, in
 * the server's order of preference) the one the client accepts with the highest q: the q of an
 * offered type is that of the most specific range that matches it (the type itself over its
 * type with a wildcard subtype over the all-wildcard range; parameters other than q are not
 * compared); on equal q the earlier
 * offered wins. A request without Accept accepts anything: the first offered. When the client
 * accepts none of them (every match has q=0, or nothing matches) the answer is -1, and the
 * caller may answer with its default anyway (RFC 9110 12.5.1 allows "disregarding the header
 * field"). Elements that cannot be read (a bad qvalue, no "/") are skipped. Pure: no
 * allocation, never reads outside the field values.
 */
#ifndef GW_HTTP1_ACCEPT_H
#define GW_HTTP1_ACCEPT_H

#include <stddef.h>

#include "http1/parser.h"

/* The index in offered[0..n) of the type to send, or -1 (none acceptable). */
int gw_accept_choose(const struct gw_http1_message *m, const char *const *offered, size_t n);

/* The same over one field value v[0..len) (for tests and fuzzing). */
int gw_accept_choose_value(const char *v, size_t len, const char *const *offered, size_t n);

#endif
