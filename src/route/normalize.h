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
 *
 * One pass can also give the client's own spelling of the same path (the segments kept,
 * escapes as sent): routing, auth rules and limits use the normalised form, the upstream
 * gets the spelling, so signed URLs survive the gateway.
 */
#ifndef GW_ROUTE_NORMALIZE_H
#define GW_ROUTE_NORMALIZE_H

#include <stddef.h>
#include <string.h>

#include "core/error.h"

/* Normalises the path part of an origin-form request target (no query: the caller splits at the
 * first '?'). Writes to out (capacity >= in_len; the output is never longer than the input);
 * out may equal in (in-place), other overlaps are not allowed. Returns 0 and sets *out_len, or
 * GW_ETARGET (400) for a path that must be refused; out's contents are then unspecified. */
int gw_path_normalize(const char *in, size_t in_len, char *out, size_t *out_len);

/*
 * gw_path_normalize, plus the client's own spelling of the result, which is what a gateway
 * forwards (as nginx and HAProxy do: a signed URL must reach the backend byte for byte).
 * out gets exactly what gw_path_normalize gives. spell gets the segments normalisation keeps,
 * each byte for byte as in the input (escapes neither decoded nor re-cased), joined by one
 * '/', with a trailing '/' exactly where out has one. It drops what out drops: empty segments
 * ("//"), "." and ".." however spelled ("%2e"), and the segment each ".." removes. So spell
 * has as many segments as out, in the same order, segment k of spell normalises to segment k
 * of out, and gw_path_normalize(spell) gives out. A path out refuses is refused (GW_ETARGET;
 * out and spell are then unspecified); in particular "%2F" is no separator for either.
 * spell's capacity >= in_len (it is never longer than the input). in, out and spell must not
 * overlap.
 */
int gw_path_normalize_spelled(const char *in, size_t in_len, char *out, size_t *out_len,
                              char *spell, size_t *spell_len);

/*
 * strip_prefix on the spelling: norm and spell from one gw_path_normalize_spelled call (or
 * from gw_path_normalize_packed and gw_path_packed_spelling, where spell may be norm
 * itself), prefix_len a prefix of norm that ends on a segment boundary (norm[prefix_len] is
 * '/' or the end; gw_router_match's prefix_len). Returns the offset in spell after as many
 * segments as norm[0..prefix_len) holds: spell[offset] is '/' or offset == spell_len, and
 * spell + offset spells norm + prefix_len. 0 for prefix_len 0 or 1 (the prefix "/").
 */
size_t gw_path_spelled_prefix(const char *norm, size_t prefix_len, const char *spell,
                              size_t spell_len);

/*
 * Both forms in one buffer, for a request that keeps one pointer to its path: buf (capacity
 * >= 2 * in_len + 1) gets the normalised path in buf[0..*norm_len), then either a NUL, when
 * the spelling is the normalised path itself (the path has no '%': the common case, no
 * second copy), or the spelling of gw_path_normalize_spelled and a NUL. Returns 0 or
 * GW_ETARGET. in and buf must not overlap. Read the spelling back with
 * gw_path_packed_spelling.
 */
int gw_path_normalize_packed(const char *in, size_t in_len, char *buf, size_t *norm_len);

/* The spelling packed by gw_path_normalize_packed: buf itself (length norm_len) when it is
 * the normalised path, otherwise buf + norm_len. Sets *spell_len. */
static inline const char *gw_path_packed_spelling(const char *buf, size_t norm_len,
                                                  size_t *spell_len)
{
    if (buf[norm_len] == '\0') {
        *spell_len = norm_len;
        return buf;
    }
    *spell_len = strlen(buf + norm_len);
    return buf + norm_len;
}

#endif
