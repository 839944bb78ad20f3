/*
 * One blocking HTTP/1.1 request with "Connection: close" and a deadline, for `gantry register`
 * (a CLI process: never used by the gateway's threads).
 */
#ifndef GW_CLI_REGISTER_HTTP_H
#define GW_CLI_REGISTER_HTTP_H

#include <stdint.h>

struct gw_cli_http_req {
    const char *method;
    const char *host; /* for getaddrinfo: a name or an address without brackets */
    const char *port;
    const char *host_header;
    const char *path;
    const char *api_key; /* sent as "Authorization: Bearer KEY"; NULL: none */
    const char *body;    /* JSON; NULL: none */
    uint64_t timeout_ms; /* for the whole exchange */
};

struct gw_cli_http_answer {
    int status;
    char *body; /* NUL-terminated, to free() */
    char why[128];
};

/* 0 with ans->status and ans->body (free it), or -1 with ans->why (could not connect, timed
 * out, not HTTP) and nothing to free. */
int gw_cli_http(const struct gw_cli_http_req *rq, struct gw_cli_http_answer *ans);

#endif
