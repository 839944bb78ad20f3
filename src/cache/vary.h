/*
 * Vary (RFC 9110 12.5.5, RFC 9111 4.1): which request fields select a stored variant.
 *
 * Contract
 * - gw_vary_parse reads one Vary field value (call once per line) into a canonical list of
 *   lower-case field names, duplicates dropped; "*" sets star. Pure: no allocation beyond the
 *   caller's struct, never reads outside the value. Invalid members (not a token) make the
 *   list unusable (bad): such a response is not stored, as its variants could not be told
 *   apart.
 * - gw_vary_signature writes what a request says for a list of names: for each name, every
 *   field line of that name joined by "," with the whitespace around commas removed (4.1: "by
 *   combining all field lines with the same name and normalizing"), or a marker for an absent
 *   field (an absent field only matches an absent one). Two requests select the same variant
 *   exactly when their signatures are equal.
 * - Normalisation on request (GW_VARY_NORM_ACCEPT_ENCODING): Accept-Encoding is reduced to the
 *   coding gantry would pick among br and gzip (http1/accept_encoding.h), so "gzip, deflate,
 *   br" and "br;q=1, gzip" share one variant.
 * - The content coding (GW_VARY_CODING, added by gw_vary_add_coding): a pseudo-field no Vary
 *   can name (':' is not a token character) that stands for the coding gantry's compression
 *   picks for the request among the codings GW_VARY_NORM_CODINGS(bits) offers (bits: 1u <<
 *   enum gw_coding; none offered: identity). A service that compresses stores one variant per
 *   coding sent (identity, gzip, br), whatever Vary the upstream sent.
 */
#ifndef GW_CACHE_VARY_H
#define GW_CACHE_VARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http1/parser.h"

#define GW_VARY_MAX_FIELDS 16
#define GW_VARY_NAMES_MAX 512 /* bytes of the canonical name list */

enum {
    GW_VARY_NORM_ACCEPT_ENCODING = 1u << 0,
};

/* The codings offered for GW_VARY_CODING, in the normalize argument's bits 8 and up. */
#define GW_VARY_NORM_CODINGS(bits) ((unsigned)(bits) << 8)

#define GW_VARY_CODING ":coding"

struct gw_vary {
    bool star;
    bool bad;       /* a member that is not a token, or more than the bounds above */
    uint32_t count; /* names in `names` */
    uint32_t len;   /* bytes used in names: "a,b,c" (lower case, comma separated) */
    char names[GW_VARY_NAMES_MAX];
};

/* An empty list. */
void gw_vary_init(struct gw_vary *v);

/* Adds the members of one Vary field value. */
void gw_vary_parse(struct gw_vary *v, const char *s, size_t n);

/* Adds GW_VARY_CODING to the list (bad when the list is full). */
void gw_vary_add_coding(struct gw_vary *v);

/*
 * Writes the signature of request m for the names list (canonical, as in struct gw_vary) into
 * out[0..cap): its length, or -1 when it does not fit (the caller then neither stores nor
 * serves a variant for this request).
 */
long gw_vary_signature(const char *names, size_t names_len, const struct gw_http1_message *m,
                       unsigned normalize, char *out, size_t cap);

#endif
