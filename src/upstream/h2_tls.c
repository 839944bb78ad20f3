/*
 * The TLS layer under an HTTP/2 connection to an https:// target (services with
 * upstream_protocol "h2"; upstream/h2_upstream.c owns the connection). The session is the one
 * an HTTP/1.1 https:// connection uses (tls/client.h: the service's client context, so the same
 * certificate verification, SNI, client certificate and session reuse through the pool), with
 * ALPN offering only "h2":
 *
 *   TCP connect -> ClientHello (gw__h2tls_input with no bytes) -> ciphertext in until the
 *   handshake completes -> the server chose h2: GW__H2TLS_READY, the HTTP/2 preface may go
 *   -> plaintext both ways (gw__h2tls_read, gw__h2tls_write).
 *
 * A failed handshake, or a server that did not choose h2, is one warning line naming the target
 * and the reason, counted in gantry_upstream_tls_handshake_failures_total, and GW_EUPTLS for
 * every request waiting on the connection (502 once no other target is left).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "metrics/metrics.h"
#include "runtime/worker-t.h"
#include "tls/client.h"
#include "tls/io.h"
#include "tls/stream.h"
#include "upstream/internal.h"
#include "upstream/pool-t.h"

struct gw__h2tls {
    struct gw_tls_stream *s;
    struct gw_worker *w;
    bool established;
    bool failed;
    char key[300]; /* the target's host:port, for log lines */
};

struct gw__h2tls *gw__h2tls_new(struct gw_worker *w, struct gw_pool *pl, const struct gw_target *t)
{
    struct gw__h2tls *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    struct gw_tls_session *resume = gw_tls_client_reuses_sessions(t->tls) ? pl->tls_session : NULL;
    x->s = gw_tls_stream_new_client(t->tls, t->conf->host, resume);
    if (!x->s || gw_tls_stream_offer_h2(x->s) < 0) {
        gw_tls_stream_free(x->s);
        free(x);
        return NULL;
    }
    x->w = w;
    snprintf(x->key, sizeof x->key, "%s", t->key);
    return x;
}

void gw__h2tls_free(struct gw__h2tls *x)
{
    if (!x)
        return;
    gw_tls_stream_free(x->s);
    free(x);
}

/* The pool keeps the newest session of its target for the next new connection (HTTP/1.1 and
 * HTTP/2 connections of the target alike). */
static void keep_session(struct gw__h2tls *x, struct gw_pool *pl)
{
    struct gw_tls_session *s = gw_tls_stream_take_session(x->s);
    if (!s)
        return;
    if (!pl) {
        gw_tls_session_free(s);
        return;
    }
    gw_tls_session_free(pl->tls_session);
    pl->tls_session = s;
}

int gw__h2tls_fail(struct gw__h2tls *x, const char *why)
{
    x->failed = true;
    gw_mx_inc(&x->w->mx.up_tls_failures);
    gw_log_warn("upstream %s: TLS handshake failed: %s", x->key, why);
    return GW_EUPTLS;
}

int gw__h2tls_input(struct gw__h2tls *x, uv_stream_t *s, struct gw_pool *pl, const char *p,
                    size_t n)
{
    if (x->failed)
        return GW_EUPTLS;
    if (n > 0 && gw_tls_stream_feed(x->s, p, n) < 0)
        return x->established ? GW_ENOMEM : gw__h2tls_fail(x, "out of memory");
    if (x->established)
        return 0;
    int rc = gw_tls_stream_handshake(x->s);
    int f = gw_tls_io_send(x->s, s, NULL, NULL);
    if (rc < 0)
        return gw__h2tls_fail(x, gw_tls_stream_error(x->s));
    if (f < 0)
        return gw__h2tls_fail(x, uv_strerror(f));
    if (rc == GW_TLS_WANT_INPUT)
        return 0;
    if (!gw_tls_stream_alpn_h2(x->s)) {
        size_t len = 0;
        const char *alpn = gw_tls_stream_alpn(x->s, &len);
        char why[160];
        if (alpn)
            snprintf(why, sizeof why,
                     "the server chose \"%.*s\" in ALPN, not \"h2\" (upstream_protocol \"h2\" "
                     "needs HTTP/2 over TLS; use \"http1\" for this target)",
                     (int)len, alpn);
        else
            snprintf(why, sizeof why,
                     "the server did not choose \"h2\" in ALPN (no HTTP/2 over TLS there; use "
                     "upstream_protocol \"http1\" for this target)");
        return gw__h2tls_fail(x, why);
    }
    x->established = true;
    gw_mx_inc(&x->w->mx.up_tls_handshakes);
    if (gw_tls_stream_resumed(x->s))
        gw_mx_inc(&x->w->mx.up_tls_resumed);
    keep_session(x, pl);
    return GW__H2TLS_READY;
}

int gw__h2tls_read(struct gw__h2tls *x, uv_stream_t *s, struct gw_pool *pl, char *buf, size_t cap,
                   size_t *got)
{
    *got = 0;
    int rc = gw_tls_stream_read(x->s, buf, cap, got);
    (void)gw_tls_io_send(x->s, s, NULL, NULL);
    keep_session(x, pl); /* a TLS 1.3 ticket arrives after the handshake */
    if (rc < 0)
        gw_log_warn("upstream %s: TLS error on the HTTP/2 connection: %s", x->key,
                    gw_tls_stream_error(x->s));
    return rc;
}

int gw__h2tls_write(struct gw__h2tls *x, uv_stream_t *s, const char *p, size_t n, uv_write_cb cb,
                    void *data)
{
    return gw_tls_io_write(x->s, s, p, n, cb, data);
}

void gw__h2tls_shutdown(struct gw__h2tls *x, uv_stream_t *s)
{
    if (!x->established)
        return;
    gw_tls_stream_shutdown(x->s);
    (void)gw_tls_io_send(x->s, s, NULL, NULL);
}
