/*
 * How a service reaches its targets: the Host header, the targets, "upstream_tls"
 * (config_upstream_tls.c) and "upstream_protocol" (config_upstream_protocol.c).
 */
#ifndef GW_CONFIG_TYPES_UPSTREAM_T_H
#define GW_CONFIG_TYPES_UPSTREAM_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gw_host_mode {
    GW_HOST_CLIENT = 0, /* forward the client's Host header */
    GW_HOST_TARGET,     /* Host: the target's authority */
    GW_HOST_FIXED,      /* Host: host_value */
};

struct gw_target_conf {
    /** as written, e.g. "http://127.0.0.1:3001" (after ${ENV} substitution) */
    char *url;
    /** host part, lowercased: a DNS name or an IP literal (IPv6 without brackets) */
    char *host;
    /** default 80 */
    uint16_t port;
    /** "host[:port]" exactly as it appears in the URL (the Host header for host_header=target) */
    char *authority;
    /** 1..1000, default 1 */
    uint32_t weight;
    /** host is an IPv6 literal (authority has brackets) */
    bool ipv6;
    /** "https://": TLS to the target (the service's upstream_tls settings); default port 443 */
    bool tls;
    /** A registered backend's token as a whole header line ("Authorization: Bearer T\r\n"),
     * sent on every request to this target; set by the registry after loading (never from the
     * file, never in source), wiped and freed with the config. NULL: none. */
    char *secret_header;
    size_t secret_header_len;
};

/* "upstream_tls" of a service: how its https:// targets are reached (config_upstream_tls.c,
 * tls/client.c). Always parsed (defaults when absent); used only for https:// targets. */
struct gw_upstream_tls_conf {
    /** "verify", default true: the target's certificate must chain to ca (or the system bundle)
     * and name the target's host (or server_name) */
    bool verify;
    /** "ca": PEM bundle of the CAs the targets' certificates chain to; NULL = the system's */
    char *ca;
    /** "server_name": the name sent as SNI and verified in the certificate; NULL = the target
     * URL's host (an IP address is verified as an address and sends no SNI) */
    char *server_name;
    /** "cert", "key": a client certificate (PEM chain, leaf first) and its key, for upstreams
     * that require one (mTLS); NULL = none */
    char *cert;
    char *key;
    /** "session_reuse", default true: new connections resume the worker's last session with
     * the target (tickets or session ids) */
    bool session_reuse;
    /** "min_version": 0x0303 (TLS 1.2, default) or 0x0304 */
    int min_version;
};

/* "services[].upstream_protocol" (config_upstream_protocol.c) */
enum gw_upstream_protocol {
    GW_UPSTREAM_HTTP1 = 0, /* "http1": HTTP/1.1, a request per pooled connection */
    GW_UPSTREAM_H2,        /* "h2": HTTP/2 over TLS (https:// targets, ALPN h2) */
    GW_UPSTREAM_H2C,       /* "h2c": HTTP/2 with prior knowledge (http:// targets) */
};

#endif
