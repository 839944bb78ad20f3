/*
 * One HTTP exchange with the gateway's admin listener for `gantry register` (a CLI process:
 * never used by the gateway's threads): http:// or https:// (verified by default), through the
 * gateway's own one-shot client (net/fetch.h) on a loop of its own, run until the answer.
 */
#ifndef GW_CLI_REGISTER_HTTP_H
#define GW_CLI_REGISTER_HTTP_H

#include <stdbool.h>
#include <stdint.h>

struct gw_cli_http_req {
    const char *method;
    const char *url;     /* http://HOST:PORT/PATH or https://... */
    const char *ca_file; /* https: a PEM CA bundle trusted besides the system's; NULL: none */
    bool insecure;       /* https: the certificate is not verified (--insecure) */
    const char *api_key; /* sent as "Authorization: Bearer KEY"; NULL: none */
    const char *body;    /* JSON; NULL: none */
    uint64_t timeout_ms; /* for the whole exchange */
};

struct gw_cli_http_answer {
    int status;
    char *body; /* NUL-terminated, to free() */
    char why[256];
};

/* Blocks until the exchange ends. 0 with ans->status and ans->body (free it), or -1 with
 * ans->why (could not connect, TLS refused, timed out, not HTTP) and nothing to free. */
int gw_cli_http(const struct gw_cli_http_req *rq, struct gw_cli_http_answer *ans);

#endif
