/*
 * Extended CONNECT (RFC 8441) as an HTTP/1.1 WebSocket handshake: the checks and the fields the
 * session (h2/session.c finish_head) adds to a stream's head. Pure code over a stream.
 */
#include <string.h>
#include <strings.h>

#include "h2/internal.h"

#include "core/random.h"

static bool token_is(const char *p, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(p, lit, n) == 0;
}

/* An extended CONNECT (RFC 8441 4): ":method" CONNECT with ":protocol", and then ":scheme" and
 * ":path" MUST be there (RFC 8441 4, unlike a plain CONNECT, RFC 9113 8.5), ":authority" too;
 * the DATA frames are the tunnel's bytes, so a content-length cannot be (malformed, RFC 9113
 * 8.1.1). nghttp2 checked most of it; this is the part a request of ours depends on. 0, or -1:
 * malformed. */
int gw__h2_ext_connect_check(struct gw_h2_stream *st)
{
    if (!token_is(st->method, st->method_len, "CONNECT") || st->protocol_len == 0)
        return -1;
    if (!st->path || st->path_len == 0 || st->path[0] != '/' || !st->authority ||
        st->authority_len == 0 || !st->scheme ||
        !(token_is(st->scheme, st->scheme_len, "http") ||
          token_is(st->scheme, st->scheme_len, "https")))
        return -1;
    if (st->has_cl)
        return -1;
    /* The protocol is an HTTP Upgrade token (RFC 9110 7.8): a tchar run. */
    for (size_t i = 0; i < st->protocol_len; i++) {
        unsigned char ch = (unsigned char)st->protocol[i];
        if (ch <= ' ' || ch >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", ch))
            return -1;
    }
    st->ext_connect = token_is(st->protocol, st->protocol_len, "websocket") ? GW_H2_EXT_WEBSOCKET
                                                                            : GW_H2_EXT_OTHER;
    st->tunnel = true;
    return 0;
}

/* The HTTP/1.1 handshake fields of an extended CONNECT: Connection and Upgrade, and for
 * websocket a Sec-WebSocket-Key of our own (RFC 8441 5: the key and the accept are not used on
 * HTTP/2; the upstream's HTTP/1.1 handshake needs one, and its accept goes no further). */
int gw__h2_ext_connect_fields(struct gw_h2_stream *st, struct gw_buf *b)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int rc = gw_buf_append_str(b, "connection: upgrade\r\nupgrade: ");
    rc = rc ? rc : gw_buf_append(b, st->protocol, st->protocol_len);
    rc = rc ? rc : gw_buf_append(b, "\r\n", 2);
    if (rc < 0 || st->ext_connect != GW_H2_EXT_WEBSOCKET)
        return rc;
    unsigned char key[18] = {0};
    uint64_t a = gw_random_u64(), z = gw_random_u64();
    memcpy(key, &a, 8);
    memcpy(key + 8, &z, 8);
    char text[25];
    size_t k = 0;
    for (size_t i = 0; i < 18; i += 3) {
        uint32_t v = (uint32_t)key[i] << 16 | (uint32_t)key[i + 1] << 8 | key[i + 2];
        text[k++] = b64[v >> 18 & 63];
        text[k++] = b64[v >> 12 & 63];
        text[k++] = b64[v >> 6 & 63];
        text[k++] = b64[v & 63];
    }
    /* 16 bytes are 22 characters and "==": the last group's two zero bytes became "AA". */
    text[22] = '=';
    text[23] = '=';
    text[24] = '\0';
    rc = gw_buf_append_str(b, "sec-websocket-key: ");
    rc = rc ? rc : gw_buf_append(b, text, 24);
    return rc ? rc : gw_buf_append(b, "\r\n", 2);
}
