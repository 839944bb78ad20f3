/*
 * Content-coding negotiation: the Accept-Encoding request field (RFC 9110 12.5.3).
 *
 * Contract
 * - gw_accept_encoding_parse reads one field value (call it once per field line: several lines
 *   are one list, RFC 9110 5.3) into the preferences, a pure function over (value, len): no
 *   allocation, never reads outside the value. Elements it cannot read (a bad qvalue, an empty
 *   coding) are skipped, as the rest of the list still says what the client wants.
 * - gw_accept_encoding_choose picks what to send among the codings offered: the acceptable one
 *   (q > 0) with the highest q, brotli before gzip when equal, and a coding before identity when
 *   equal; identity when no offered coding is acceptable or the client names identity with a
 *   higher q. (Identity is never refused: when the client excludes it and no coding fits, the
 *   answer still goes unencoded, which RFC 9110 12.5.3 allows.)
 */
#ifndef GW_HTTP1_ACCEPT_ENCODING_H
#define GW_HTTP1_ACCEPT_ENCODING_H

#include <stddef.h>

enum gw_coding {
    GW_CODING_IDENTITY = 0,
    GW_CODING_GZIP = 1,
    GW_CODING_BR = 2,
};

/* Bits of the offered set. */
#define GW_CODING_BIT(c) (1u << (c))

#define GW_QVALUE_UNSET (-1)

/* What the client said, as qvalues in thousandths (0..1000), GW_QVALUE_UNSET when not named. */
struct gw_accept_encoding {
    int gzip;     /* "gzip" or "x-gzip" */
    int br;       /* "br" */
    int identity; /* "identity" */
    int star;     /* "*": every coding not named */
};

/* Starts an empty preference set (as for a request without the field). */
void gw_accept_encoding_init(struct gw_accept_encoding *p);

/* Adds the elements of one Accept-Encoding field value. A coding named twice keeps its last q. */
void gw_accept_encoding_parse(struct gw_accept_encoding *p, const char *v, size_t n);

/* The coding to send among `offered` (GW_CODING_BIT set, identity always allowed). */
enum gw_coding gw_accept_encoding_choose(const struct gw_accept_encoding *p, unsigned offered);

#endif
