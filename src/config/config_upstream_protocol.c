/*
 * "upstream_protocol" of a service: how gantry speaks to its targets. "http1" (the default):
 * HTTP/1.1, one request at a time per pooled connection. "h2" (HTTP/2 over TLS with ALPN, every
 * target https://; upstream_tls applies as for HTTP/1.1, ALPN offers only "h2"). "h2c": HTTP/2
 * with prior knowledge on plain connections, so every target must be http://. The HTTP/2 side is
 * upstream/h2_upstream.c (its TLS layer upstream/h2_tls.c); docs/config.md documents the key,
 * README "gRPC and HTTP/2 to upstreams" the behaviour.
 */
#include "config/internal.h"

const struct gw__cfg_enum gw__cfg_upstream_protocols[] = {
    {"http1", GW_UPSTREAM_HTTP1},
    {"h2", GW_UPSTREAM_H2},
    {"h2c", GW_UPSTREAM_H2C},
    {NULL, 0},
};

void gw__cfg_service_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    const struct gw_service_conf *sc = obj;
    if (sc->upstream_protocol == GW_UPSTREAM_HTTP1 || !json_is_object(json))
        return;
    bool want_tls = sc->upstream_protocol == GW_UPSTREAM_H2;
    for (size_t i = 0; i < sc->ntargets; i++) {
        if (sc->targets[i].tls == want_tls)
            continue;
        gw__cfg_push_key(ctx, "upstream_protocol");
        gw__cfg_error_at_key(ctx, want_tls
                                      ? "\"h2\" is HTTP/2 over TLS: every target must be https:// "
                                        "(use \"h2c\" for HTTP/2 on plain http:// targets)"
                                      : "\"h2c\" is HTTP/2 on plain connections: every target "
                                        "must be http:// (use \"h2\" for https:// targets)");
        gw__cfg_pop(ctx);
        return;
    }
}
