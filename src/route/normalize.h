/*
 * Path normalisation, shared by the router and by authorization so that no spelling of a path
 * reaches a protected service by a different route than the one the policies saw.
 *
 * Rules (docs/routing.md explains each one):
 * - the input starts with '/'; every byte is a VCHAR (0x21-0x7E) other than '\';
 * - '%' must be followed by two hex digits; escapes of unreserved characters
 *   (ALPHA DIGIT - . _ ~) are decoded, other escapes are kept with uppercase hex;
 * - %00, %2F (encoded '/') and %5C (encoded '\') are refused: they let one path mean two;
 * - dot segments are removed after decoding (RFC 3986 5.2.4), so "%2e%2E" is "..";
 *   ".." above the root stays at the root;
 * - a segment that is "." or ".." followed by ';' or "%3B" ("..;/", a Tomcat path parameter)
 *   is refused, since some backends treat it as a dot segment;
 * - runs of '/' collapse to one; a trailing '/' is kept.
 * The result is idempotent: normalising an output gives the same output.
 */
#ifndef GW_ROUTE_NORMALIZE_H
#define GW_ROUTE_NORMALIZE_H

#include <stddef.h>

#include "core/error.h"

/* Normalises the path part of an origin-form request target (no query: the caller splits at the
 * first '?'). Writes to out (capacity >= in_len; the output is never longer than the input);
 * out may equal in (in-place), other overlaps are not allowed. Returns 0 and sets *out_len, or
 * GW_ETARGET (400) for a path that must be refused; out's contents are then unspecified. */
int gw_path_normalize(const char *in, size_t in_len, char *out, size_t *out_len);

#endif
