/*
 * One-shot asynchronous HTTP/1.1 client on a libuv loop, for the requests gantry makes itself
 * (JWKS documents, token introspection, OpenAPI documents): resolve, connect (and, for an
 * https:// URL when the caller allows it, a verified TLS handshake: net/fetch_tls.c), send one
 * request with "Connection: close", read one response with gantry's own parser, close.
 *
 * Contract
 * - gw_fetch_start copies everything it needs from the request; the caller's strings and body
 *   may go away as soon as it returns. Except a body marked body_borrowed: that one is sent from
 *   the caller's memory, which must stay valid and unchanged until cb has run or
 *   gw_fetch_cancel has returned (a large body is not copied: trace exports).
 * - When gw_fetch_start returns 0, cb runs exactly once, from the loop and never from inside
 *   gw_fetch_start, unless gw_fetch_cancel is called first. When it returns a negative code,
 *   cb never runs and *handle is not written.
 * - err 0 means a complete response arrived, whatever its status: judging the status is the
 *   caller's business. Otherwise err is GW_EFETCH (DNS, connect, send or receive failure, an
 *   invalid or truncated response), GW_EFETCHTIMEOUT (timeout_ms elapsed, DNS and connect
 *   included), GW_EFETCHTOOLARGE (the body would pass max_body) or GW_ENOMEM; resp->why
 *   says more.
 * - The handle is valid until cb has returned or gw_fetch_cancel has been called. Memory and
 *   libuv handles are released asynchronously: run the loop for them to go away before
 *   uv_loop_close. Everything runs on the loop's thread.
 */
#ifndef GW_NET_FETCH_H
#define GW_NET_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Used when the request leaves timeout_ms or max_body at 0. */
#define GW_FETCH_DEFAULT_TIMEOUT_MS 10000u
#define GW_FETCH_DEFAULT_MAX_BODY (1024u * 1024u)

/* Longest URL and extra header block gw_fetch_start accepts (a method: 32 bytes). */
#define GW_FETCH_MAX_URL 8192u
#define GW_FETCH_MAX_HEADERS 8192u

/* Response head bytes read at most (status line and fields, interim responses included). */
#define GW_FETCH_MAX_HEAD 32768u

struct gw_fetch_req {
    /** "http://host[:port][/path][?query]" as core/url.h parses it (host a name, an IPv4
     * address or "[IPv6]"); a fragment is dropped. https:// only with allow_https; userinfo
     * and anything else the parser refuses: GW_EINVAL (gw_fetch_check_url says why) */
    const char *url;
    /** https:// URLs are fetched over TLS (1.2 or later) with the server's certificate verified:
     * its chain against the system's trust store and ca_file, its name against the URL's host
     * (or its IP address against an IP literal); a failure is GW_EFETCH with the reason */
    bool allow_https;
    /** a PEM file of CA certificates trusted for https:// besides the system's, or NULL */
    const char *ca_file;
    /** https:// without verifying the server's certificate (chain and name): only for an
     * operator's explicit choice (`gantry register --insecure`); the encryption stays */
    bool insecure;
    /** method token, "GET" when NULL; "HEAD" reads no body */
    const char *method;
    /** extra header lines, each ending "\r\n", or NULL. Host, Connection, Content-Length and
     * Transfer-Encoding are gantry's to send and refused here (GW_EINVAL) */
    const char *headers;
    /** sent with Content-Length when body != NULL (body_len may be 0) */
    const void *body;
    size_t body_len;
    /** the body is not copied: see the contract above */
    bool body_borrowed;
    /** the whole exchange, DNS and connect included; 0: GW_FETCH_DEFAULT_TIMEOUT_MS */
    uint64_t timeout_ms;
    /** largest response body accepted; 0: GW_FETCH_DEFAULT_MAX_BODY */
    size_t max_body;
};

/* What cb receives; every pointer is valid during cb only. Never NULL. */
struct gw_fetch_resp {
    /** final status code; 0 when no response head arrived */
    int status;
    /** the decoded body (chunked coding removed), NUL-terminated; NULL when err != 0 */
    const char *body;
    size_t body_len;
    /** "" when err is 0, else a short reason for logs ("connect: connection refused") */
    const char *why;
    /** the response's Retry-After value (the first field, NUL-terminated, cut at
     * GW_FETCH_RETRY_AFTER_MAX bytes), or NULL when it had none; only net/keepalive.h fills it
     * (a fetch here always leaves it NULL) */
    const char *retry_after;
};

/* Bytes of a Retry-After value kept (an HTTP-date is 29). */
#define GW_FETCH_RETRY_AFTER_MAX 63

/*
 * NULL when gw_fetch_start would take url, else what is wrong with it (static text, to follow
 * a quote of the URL), so that a config check judges a URL by the very rules its fetches use.
 * Any thread.
 */
const char *gw_fetch_check_url(const char *url);

/* The same for a fetch with allow_https: http:// and https:// URLs. Any thread. */
const char *gw_fetch_check_url_https(const char *url);

typedef void (*gw_fetch_cb)(void *arg, int err, const struct gw_fetch_resp *resp);

struct gw_fetch;

/*
 * Starts req on loop. Returns 0 and stores the handle in *handle (handle may be NULL when the
 * caller never cancels), or GW_EINVAL (URL, method or headers unusable), GW_ENOMEM or a
 * libuv code, in which case nothing was started. See the contract above for cb.
 */
int gw_fetch_start(uv_loop_t *loop, const struct gw_fetch_req *req, gw_fetch_cb cb, void *arg,
                   struct gw_fetch **handle);

/*
 * Abandons a running fetch: cb will not be called. Its resources are released once the loop
 * has run the close callbacks. NULL-safe; a no-op when called from inside f's own cb. Must not
 * be called after cb has returned.
 */
void gw_fetch_cancel(struct gw_fetch *f);

#endif
