/*
 * Chunked transfer coding decoder (RFC 9112 7.1), one byte of framing at a time and whole
 * spans of payload at once. The framing is tiny next to the data, so a byte-wise state
 * machine costs nothing measurable and makes every split of the input behave the same.
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 */
#include "http1/chunked.h"

#include <stdbool.h>

#include "core/hex.h"
#include "http1/chars.h"

enum {
    C_SIZE_START = 0, /* first hex digit of a chunk size */
    C_SIZE,           /* more hex digits */
    C_SIZE_BWS,       /* whitespace after the size, before ";" */
    C_EXT,            /* inside chunk extensions (sub-state in ext_state) */
    C_SIZE_LF,        /* CR of the size line seen */
    C_DATA,
    C_DATA_CR,
    C_DATA_LF,
    C_TRAILER_START, /* start of a trailer line or the final CRLF */
    C_TRAILER_NAME,
    C_TRAILER_VALUE,
    C_TRAILER_LF,
    C_FINAL_LF,
    C_DONE,
};

enum {
    E_NAME_START = 0,
    E_NAME,
    E_AFTER_NAME,
    E_VALUE_START,
    E_TOKEN_VALUE,
    E_QUOTED,
    E_QUOTED_PAIR,
    E_AFTER_VALUE,
};

/* Largest chunk size accepted: 2^60 - 1, far above any body limit and safe to add to. */
#define MAX_CHUNK_SIZE ((UINT64_C(1) << 60) - 1)

void gw_chunked_init(struct gw_chunked_decoder *d, uint32_t max_line, uint32_t max_trailer)
{
    *d = (struct gw_chunked_decoder){0};
    d->max_line = max_line ? max_line : GW_CHUNKED_DEFAULT_MAX_LINE;
    d->max_trailer_bytes = max_trailer ? max_trailer : GW_CHUNKED_DEFAULT_MAX_TRAILER;
}

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text (RFC 9110 5.6.4) */
static bool is_qdtext(unsigned char c)
{
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5B) ||
           (c >= 0x5D && c <= 0x7E) || c >= 0x80;
}

/* One byte of chunk extensions. Returns the next main state or a negative error. */
static int step_extension(struct gw_chunked_decoder *d, unsigned char c)
{
    switch (d->ext_state) {
    case E_NAME_START:
        if (is_ws(c))
            return C_EXT;
        if (gw__is_tchar(c)) {
            d->ext_state = E_NAME;
            return C_EXT;
        }
        return GW_ECHUNKEXT;
    case E_NAME:
    case E_TOKEN_VALUE:
    case E_AFTER_NAME:
    case E_AFTER_VALUE:
        if (d->ext_state != E_AFTER_NAME && d->ext_state != E_AFTER_VALUE && gw__is_tchar(c))
            return C_EXT;
        if (is_ws(c)) {
            d->ext_state = (d->ext_state == E_NAME || d->ext_state == E_AFTER_NAME) ? E_AFTER_NAME
                                                                                    : E_AFTER_VALUE;
            return C_EXT;
        }
        if (c == '=' && (d->ext_state == E_NAME || d->ext_state == E_AFTER_NAME)) {
            d->ext_state = E_VALUE_START;
            return C_EXT;
        }
        if (c == ';') {
            d->ext_state = E_NAME_START;
            return C_EXT;
        }
        if (c == '\r')
            return C_SIZE_LF;
        return GW_ECHUNKEXT;
    case E_VALUE_START:
        if (is_ws(c))
            return C_EXT;
        if (c == '"') {
            d->ext_state = E_QUOTED;
            return C_EXT;
        }
        if (gw__is_tchar(c)) {
            d->ext_state = E_TOKEN_VALUE;
            return C_EXT;
        }
        return GW_ECHUNKEXT;
    case E_QUOTED:
        if (c == '"') {
            d->ext_state = E_AFTER_VALUE;
            return C_EXT;
        }
        if (c == '\\') {
            d->ext_state = E_QUOTED_PAIR;
            return C_EXT;
        }
        return is_qdtext(c) ? C_EXT : GW_ECHUNKEXT;
    case E_QUOTED_PAIR:
        /* quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
        if (c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7F)) {
            d->ext_state = E_QUOTED;
            return C_EXT;
        }
        return GW_ECHUNKEXT;
    default:
        return GW_EINVAL;
    }
}

/* One byte of framing (anything but chunk data). Returns the next state or an error. */
static int step(struct gw_chunked_decoder *d, unsigned char c)
{
    int hv;
    switch (d->state) {
    case C_SIZE_START:
        hv = gw_hex_digit(c);
        if (hv < 0)
            return GW_ECHUNKSIZE;
        d->remaining = (uint64_t)hv;
        return C_SIZE;
    case C_SIZE:
        hv = gw_hex_digit(c);
        if (hv >= 0) {
            if (d->remaining > (MAX_CHUNK_SIZE >> 4))
                return GW_ECHUNKOVERFLOW;
            d->remaining = (d->remaining << 4) | (uint64_t)hv;
            return C_SIZE;
        }
        if (c == '\r')
            return C_SIZE_LF;
        if (c == ';') {
            d->ext_state = E_NAME_START;
            return C_EXT;
        }
        if (is_ws(c))
            return C_SIZE_BWS;
        return GW_ECHUNKSIZE;
    case C_SIZE_BWS:
        if (is_ws(c))
            return C_SIZE_BWS;
        if (c == ';') {
            d->ext_state = E_NAME_START;
            return C_EXT;
        }
        return GW_ECHUNKSIZE;
    case C_EXT:
        return step_extension(d, c);
    case C_SIZE_LF:
        if (c != '\n')
            return GW_ECHUNKSIZE;
        d->line_len = 0;
        return d->remaining == 0 ? C_TRAILER_START : C_DATA;
    case C_DATA_CR:
        return c == '\r' ? C_DATA_LF : GW_ECHUNKCRLF;
    case C_DATA_LF:
        return c == '\n' ? C_SIZE_START : GW_ECHUNKCRLF;
    case C_TRAILER_START:
        if (c == '\r')
            return C_FINAL_LF;
        return gw__is_tchar(c) ? C_TRAILER_NAME : GW_ETRAILER;
    case C_TRAILER_NAME:
        if (gw__is_tchar(c))
            return C_TRAILER_NAME;
        return c == ':' ? C_TRAILER_VALUE : GW_ETRAILER;
    case C_TRAILER_VALUE:
        if (c == '\r')
            return C_TRAILER_LF;
        return gw__is_fvalue(c) ? C_TRAILER_VALUE : GW_ETRAILER;
    case C_TRAILER_LF:
        return c == '\n' ? C_TRAILER_START : GW_ETRAILER;
    case C_FINAL_LF:
        return c == '\n' ? C_DONE : GW_ETRAILER;
    default:
        return GW_EINVAL;
    }
}

int gw_chunked_decode(struct gw_chunked_decoder *d, const char *buf, size_t len, size_t *consumed,
                      const char **data, size_t *data_len)
{
    size_t i = 0;
    *consumed = 0;
    if (d->state == C_DONE)
        return GW_EINVAL;
    while (i < len) {
        if (d->state == C_DATA) {
            size_t avail = len - i;
            size_t take = d->remaining < avail ? (size_t)d->remaining : avail;
            *data = buf + i;
            *data_len = take;
            d->remaining -= take;
            if (d->remaining == 0)
                d->state = C_DATA_CR;
            *consumed = i + take;
            return GW_CHUNKED_DATA;
        }
        uint8_t prev = d->state;
        int next = step(d, (unsigned char)buf[i++]);
        if (next < 0)
            return next;
        if (prev <= C_SIZE_LF && next <= C_SIZE_LF && ++d->line_len > d->max_line)
            return prev == C_EXT ? GW_ECHUNKEXT : GW_ECHUNKSIZE;
        if (prev >= C_TRAILER_START && ++d->trailer_bytes > d->max_trailer_bytes)
            return GW_ETRAILERTOOLARGE;
        d->state = (uint8_t)next;
        if (next == C_DONE) {
            *consumed = i;
            return GW_CHUNKED_DONE;
        }
    }
    *consumed = len;
    return GW_CHUNKED_PARTIAL;
}
