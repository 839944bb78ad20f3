/*
 * The "tls" section's types: the HTTPS listener (config_tls.c, tls/).
 */
#ifndef GW_CONFIG_TYPES_TLS_T_H
#define GW_CONFIG_TYPES_TLS_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One certificate of the TLS listener: "tls.certificates[]". */
struct gw_tls_cert_conf {
    char *cert;   /* "cert": PEM file, the leaf first, then its intermediates in order */
    char *key;    /* "key": PEM private key of the leaf */
    char **names; /* "server_names": exact names or "*.example.com"; none = default only */
    size_t nnames;
    char *ocsp; /* "ocsp_staple": a DER OCSP response file to staple; NULL = none */
};

/* "client_auth": client certificates (mTLS), off when absent */
struct gw_tls_client_auth_conf {
    bool enabled;
    char *ca;              /* "ca": PEM bundle of the CAs client certificates chain to */
    bool required;         /* "required", default true: no certificate, no handshake */
    uint32_t verify_depth; /* "verify_depth", default 4 */
    char *subject_header;  /* "subject_header", default "x-client-cert-subject" */
    char *san_header;      /* "san_header", default "x-client-cert-san" */
};

/* "tls": the HTTPS listener (off when absent). */
struct gw_tls_conf {
    bool enabled;
    char *listen_host; /* "listen", default "0.0.0.0:8443" */
    uint16_t listen_port;
    struct gw_tls_cert_conf *certs; /* "certificates": the first is the default */
    size_t ncerts;
    int min_version;      /* "min_version": 0x0303 (TLS 1.2, default) or 0x0304 (TLS 1.3) */
    char *ciphers;        /* "ciphers": TLS 1.2 cipher list (OpenSSL syntax) */
    char *ciphersuites;   /* "ciphersuites": TLS 1.3 suites */
    char *curves;         /* "curves": key-exchange groups */
    bool session_tickets; /* "session_tickets", default true */
    uint64_t ticket_key_rotation_ms; /* "ticket_key_rotation", default 1h */
    uint32_t session_cache;          /* "session_cache": entries, default 20000; 0 = off */
    uint64_t session_timeout_ms;     /* "session_timeout", default 1h */
    char **redirect_hosts; /* "redirect_http": hosts whose plain-HTTP requests get a 308 */
    size_t nredirect_hosts;
    bool redirect_all; /* "redirect_http" is true or contains "*" */
    bool alpn_h2;      /* offer "h2" in ALPN (set from "http2.enabled", not a key of its own) */
    struct gw_tls_client_auth_conf client_auth;
};

#endif
