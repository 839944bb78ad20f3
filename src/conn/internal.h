/*
 * Helpers shared by the files of conn/ (the HTTP/1 downstream), not used outside it.
 */
#ifndef GW_CONN_INTERNAL_H
#define GW_CONN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "conn/conn.h"

/* conn/conn.c: writes a response gantry generated (error, probe, preflight) as an HTTP/1
 * message with the given extra header lines and a body, JSON unless extra_headers starts with
 * its own "Content-Type:" line (the Content-Type is sent only when body_len > 0; Content-Length
 * except on a 204 or 304), then finishes the request (or closes: when close_after is set or the
 * request cannot continue). Used before any byte of an upstream response went out. */
void gw__conn_respond(struct gw_conn *c, int status, const char *extra_headers, const char *body,
                      size_t body_len, bool close_after);
/* The same for a stored response (struct gw_answer raw_headers): headers are its header lines,
 * sent as they are, with no Content-Type of gantry's. */
void gw__conn_respond_raw(struct gw_conn *c, int status, const char *headers, const char *body,
                          size_t body_len, bool close_after);

/* conn/respond.c: gantry's own answer a, built from the error table (the only place an error
 * answer is built), written with gw__conn_respond. c->req may be NULL (a connection refused
 * before its first request). */
void gw__conn_answer(struct gw_conn *c, const struct gw_answer *a);

/* An answer as text: status, header lines (each ending in CRLF), JSON body. */
struct gw__answer_text {
    int status;
    char body[4096]; /* room for a validation's list of errors */
    size_t body_len;
    char headers[768];
    size_t headers_len;
};

/* conn/respond.c: renders a for the request with this id (a pure function: the unit tests'
 * way in). Strings are escaped for JSON; values too long for the buffers are cut. */
void gw__answer_render(const struct gw_answer *a, const char *request_id,
                       struct gw__answer_text *out);

/* conn/respond.c: the answer for err with nothing added. */
void gw__conn_error(struct gw_conn *c, int err, bool close_after);

/* conn/request.c: a complete request head: probes, route lookup, the policy chain, then the
 * proxy. */
void gw__request_dispatch(struct gw_conn *c, struct gw_request *r);

#endif
