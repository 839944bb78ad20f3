/*
 * "upstream_protocol" of a service: how gantry speaks to its targets. "http1" (the default):
 * HTTP/1.1, one request at a time per pooled connection. "h2" (HTTP/2 over TLS with ALPN, every
 * target https://; upstream_tls applies as for HTTP/1.1, ALPN offers only "h2"). "h2c": HTTP/2
 * with prior knowledge on plain connections, so every target must be http://. The HTTP/2 side is
 * upstream/h2_upstream.c (its TLS layer upstream/h2_tls.c); docs/config.md documents the key,
 * README "gRPC and HTTP/2 to upstreams" the behaviour. A gRPC health check (health_check.type
 * "grpc") needs HTTP/2: "h2c" or "h2".
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
    if (!json_is_object(json))
        return;
    if (sc->health_check.enabled && sc->health_check.type == GW_HEALTH_CHECK_GRPC &&
        sc->upstream_protocol == GW_UPSTREAM_HTTP1) {
        /* The check is a gRPC call over HTTP/2, as the service's requests. */
        gw__cfg_push_key(ctx, "health_check");
        gw__cfg_push_key(ctx, "type");
        gw__cfg_error(ctx, "\"grpc\" needs HTTP/2 to the targets: \"upstream_protocol\": \"h2c\" "
                           "(http://) or \"h2\" (https://)");
        gw__cfg_pop(ctx);
        gw__cfg_pop(ctx);
    }
    if (sc->upstream_protocol == GW_UPSTREAM_HTTP1)
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
