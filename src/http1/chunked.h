/*
 * Resumable decoder for the chunked transfer coding (RFC 9112 section 7.1).
 *
 * Contract
 * - Feed any split of the body bytes; each call consumes a prefix of the input and returns at
 *   most one span of payload data, which points into the input (zero copy).
 * - Returns GW_CHUNKED_DATA with *data and *data_len set (the span ends at buf + *consumed);
 *   GW_CHUNKED_PARTIAL when all input was consumed without producing data (feed more);
 *   GW_CHUNKED_DONE when the last chunk and the trailer section ended (*consumed bytes
 *   belong to the body; what follows is the next message); or a negative GW_E* code.
 * - Chunk extensions are validated and ignored; trailer fields are validated (same rules
 *   as header fields) and discarded, with the trailer section capped at max_trailer_bytes.
 * - Work per byte is constant whatever the split.
 */
#ifndef GW_HTTP1_CHUNKED_H
#define GW_HTTP1_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

enum {
    GW_CHUNKED_DATA = 0,
    GW_CHUNKED_PARTIAL = 1,
    GW_CHUNKED_DONE = 2,
};

#define GW_CHUNKED_DEFAULT_MAX_LINE 4096u     /* chunk-size line with extensions */
#define GW_CHUNKED_DEFAULT_MAX_TRAILER 16384u /* whole trailer section */

struct gw_chunked_decoder {
    uint32_t max_line;
    uint32_t max_trailer_bytes;
    /* private */
    uint8_t state;
    uint8_t ext_state;
    uint64_t remaining; /* payload bytes left in the current chunk */
    uint32_t line_len;  /* bytes of the current size or trailer line seen */
    uint32_t trailer_bytes;
};

/* Resets the decoder; zero limits select the defaults. */
void gw_chunked_init(struct gw_chunked_decoder *d, uint32_t max_line, uint32_t max_trailer);

int gw_chunked_decode(struct gw_chunked_decoder *d, const char *buf, size_t len, size_t *consumed,
                      const char **data, size_t *data_len);

#endif
