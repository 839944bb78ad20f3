/*
 * Helpers shared by the files of conn/ (the HTTP/1 downstream), not used outside it.
 */
#ifndef GW_CONN_INTERNAL_H
#define GW_CONN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/types.h>
#include <uv.h>

#include "conn/conn.h"
#include "route/router.h"

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

/* conn/respond.c: renders a for a gRPC call as a Trailers-Only response: out->headers gets
 * content-type application/grpc, grpc-status (gRPC's mapping of the HTTP status, h2/grpc.h),
 * grpc-message (the error's message, percent-encoded), then Retry-After and a->headers as for
 * any answer; no body; out->status is the HTTP status the answer stands for. */
void gw__answer_render_grpc(const struct gw_answer *a, const char *request_id,
                            struct gw__answer_text *out);

/* conn/respond.c: the answer for err with nothing added. */
void gw__conn_error(struct gw_conn *c, int err, bool close_after);

/* API versions (route_version.c). After the router answered GW_ROUTE_VERSION for r's path:
 * reads the version the request names (policy/version.h) and picks the prefix's route for it
 * and method; a request that names none gets the prefix's default service (an unversioned
 * service sharing the prefix), else the gateway's default version. FOUND, METHOD_NOT_ALLOWED
 * or VERSION_UNKNOWN. */
enum gw_route_result gw__conn_route_version(struct gw_request *r, const char *query,
                                            size_t query_len, enum gw_http_method method,
                                            struct gw_route_match *m);
/* The same for a CORS preflight asking about method: a browser's preflight carries no custom
 * header values, so when the version it names (or the default) has no route for method that
 * runs CORS, the first version of the prefix, in configuration order, whose route for method
 * runs CORS answers it. FOUND (a route with CORS) or VERSION_UNKNOWN. */
enum gw_route_result gw__conn_route_version_preflight(struct gw_request *r, const char *query,
                                                      size_t query_len, enum gw_http_method method,
                                                      struct gw_route_match *m);
/* After the router found no route for path: when path starts with a version segment
 * ("/<versioning.path_prefix><version>") whose rest falls under a versioned prefix, that version
 * is one the prefix does not have (its own path route would have matched): VERSION_UNKNOWN
 * with m->entry set. When the rest is routed to a service one of whose version rules covers it
 * (its path routes would have matched a version of the rule): VERSION_UNKNOWN with *offered,
 * the rule's "versions" member. Else NOT_FOUND. */
enum gw_route_result gw__conn_route_path_version(struct gw_request *r, const char *host,
                                                 size_t host_len, const char *path, size_t path_len,
                                                 struct gw_route_match *m, const char **offered);
/* Answers a request whose version no route has: versioning.unknown_status (404 or 400), with
 * the versions offered in the body ("versions": [...]): offered when not NULL (a version
 * rule's), else those of the versioned prefix m->entry. */
void gw__conn_unknown_version(struct gw_request *r, const struct gw_route_match *m,
                              const char *offered);
/* conn/identity_serve.c: answers a request for built-in identity endpoint ep (a GW_IDP_EP_*):
 * reads its body, runs the call, answers. */
void gw__idp_serve(struct gw_request *r, int ep);

/* conn/identity_serve.c: body bytes (or the client's EOF) for such a request (r->idp set). */
void gw__idp_serve_input(struct gw_request *r);

/* conn/identity_serve.c: frees r->idp (cancels a call in flight); NULL-safe. */
void gw__idp_serve_free(struct gw_request *r);

/* Answers a GET or HEAD of identity.jwks.path: the JWK Set of the snapshot's identity keys, with
 * jwks.max_age's Cache-Control. */
void gw__idp_serve_jwks(struct gw_request *r);

/* conn/request.c: the value of query parameter name in path (the request target as logged, a
 * buffer of cap bytes) becomes "***"; name NULL: nothing. */
void gw__request_redact_query(char *path, size_t cap, const char *name);

/* conn/hub_serve.c: a request for hub.path/{client_id} (hub enabled): answers it or hands the
 * connection to the hub. False when path is not the hub's (route it as usual). */
bool gw__hub_serve(struct gw_conn *c, struct gw_request *r, const char *path, size_t path_len,
                   const char *query, size_t query_len);

/* conn/request.c: the body of a request gantry answers itself (identity, hub publish), want
 * bytes (its Content-Length) into buf, *len of them in so far: takes what has come. True once
 * all are in (r->body_done is set); false while more must come (asked for, with 100 Continue
 * when the client expects it) or when the request was aborted: the caller returns. */
bool gw__request_take_body(struct gw_request *r, char *buf, size_t *len, size_t want);

/* conn/hub_publish.c: a request for hub.publish_path/{channel}/messages (set): answers it, after
 * the policy chain of hub.service and reading the body. False when path is not under it. */
bool gw__hub_publish_serve(struct gw_request *r, const char *path, size_t path_len);
/* conn/hub_publish.c: body bytes for such a request arrived. */
void gw__hub_publish_input(struct gw_request *r);
/* conn/hub_publish.c: frees its state (r->hubpub). */
void gw__hub_publish_free(struct gw_request *r);

/* conn/hub_serve.c: an HTTP/2 request for hub.path/{client_id} (hub enabled): an extended
 * CONNECT is answered 501 (EHUBH2), anything else 426 as over HTTP/1. True when it answered. */
bool gw__hub_refuse_h2(struct gw_request *r, const char *path, size_t path_len);

/* conn/request.c: a complete request head: probes, route lookup, the policy chain, then the
 * proxy. Any downstream's request (HTTP/1 or an HTTP/2 stream). */
void gw__request_dispatch(struct gw_request *r);

/* conn/respond.c: gantry's own answer to r, whatever its downstream: an HTTP/1 connection's
 * (gw__conn_answer) or an HTTP/2 stream's (gw__h2_answer). r is finished (freed) by it. */
void gw__request_answer(struct gw_request *r, const struct gw_answer *a);
/* The same for an error code with nothing added; close_after as gw__conn_error's. */
void gw__request_error(struct gw_request *r, int err, bool close_after);
/* The same for a body gantry built (probes, metrics, OpenAPI, identity): gw__conn_respond's
 * arguments for r's downstream. */
void gw__request_reply(struct gw_request *r, int status, const char *extra_headers,
                       const char *body, size_t body_len, bool close_after);

/* conn/conn.c: a new request of c's (HTTP/1 until its downstream says otherwise), counted in
 * the worker, with a snapshot reference; NULL when out of memory. */
struct gw_request *gw__request_new(struct gw_conn *c);
/* conn/conn.c: frees a request (stage cancels, buffers, snapshot reference); NULL-safe. */
void gw__request_free(struct gw_request *r);

/* Frees what a request owns besides its own memory and its stages' state (the identity, the
 * heads, the paths, the snapshot reference) and uncounts it from the worker's active ones:
 * the part every downstream's free shares (gw__request_free, conn/background.c). */
void gw__request_release(struct gw_request *r);
/* conn/conn.c: writes bufs to the client (see conn.c): 1 inline, 0 pending (cb runs with the
 * write request, data = c, which cb frees), negative on error. */
int gw__conn_write(struct gw_conn *c, uv_buf_t *bufs, unsigned nbufs, uv_write_cb cb);
/* conn/conn.c: shut our side down, linger, close (or close now when requests are live). */
void gw__conn_close_gracefully(struct gw_conn *c);
/* conn/conn.c: the client timer as the idle timeout, the send timeout, or off. */
void gw__conn_timer_idle(struct gw_conn *c);
void gw__conn_timer_send(struct gw_conn *c);
void gw__conn_timer_stop(struct gw_conn *c);
/* conn/conn.c: the audit log's entry for a 401 or 403 answer. */
void gw__conn_audit_answer(struct gw_request *r, const struct gw_answer *a);

/* ---- conn/h2_conn.c: HTTP/2 connections (h2/session.h underneath) --------------------------- */

/* Whether buf starts the HTTP/2 connection preface: 1 it does (whole), 0 it is a proper
 * prefix of it (wait for more), -1 it is not. */
int gw__h2_preface(const char *buf, size_t len);
/* Switches c to HTTP/2 (after ALPN h2, or the preface of prior-knowledge h2c): the bytes
 * buffered in c->in are its first input. Closes c when out of memory. */
void gw__h2_start(struct gw_conn *c);
/* Input for an HTTP/2 connection (gw__conn_input's nread). */
void gw__h2_input(struct gw_conn *c, ssize_t nread);
/* Whether requests or tunnels are live on c's streams. */
bool gw__h2_busy(const struct gw_conn *c);
/* The connection closes: its live requests are aborted (access log, metrics, freed). */
void gw__h2_abort_all(struct gw_conn *c);
/* Closes the handles the HTTP/2 side added (cb as for c's others). */
void gw__h2_close_handles(struct gw_conn *c, uv_close_cb cb);
/* Frees the HTTP/2 session; safe when c has none. */
void gw__h2_free(struct gw_conn *c);
/* GOAWAY for a drain. */
void gw__h2_going_away(struct gw_conn *c);
/* The drain timeout passed: with tunnels, the requests are aborted, GOAWAY sent and each tunnel
 * goes away (close frames 1001); true. Without: false (close the connection). */
bool gw__h2_force_stop(struct gw_conn *c);
/* gantry's own answer a to an HTTP/2 stream's request (rendered by conn/respond.c). */
void gw__h2_answer(struct gw_request *r, const struct gw_answer *a);
/* A reply with a body built by gantry (gw__request_reply) to an HTTP/2 stream's request. */
void gw__h2_reply(struct gw_request *r, int status, const char *extra_headers, const char *body,
                  size_t body_len, bool json);

/* conn/h2_conn.c: a flush of c's session from the loop (never inside the caller). */
void gw__h2_schedule(struct gw_conn *c);

/* ---- conn/h2_tunnel.c: WebSocket over HTTP/2 (RFC 8441), after the upstream's 101 ------------ */

struct gw__h2_tunnel;
struct gw_h2_stream;
struct gw_list;
struct gw_tunnel_info;

/* Joins stream st of c (an extended CONNECT whose request ends now) and the upstream connection
 * (a duplicate of its socket is taken: the caller closes its own handle); to_client[0..n) are
 * upstream bytes read past the 101 (copied, plaintext); info->upstream_tls, an https://
 * target's established session, is the tunnel's in every case (freed even on failure). The
 * tunnel goes into `tunnels` and becomes st's owner (owner_data, owner_tunnel). 0 (taken: it
 * closes itself, and st, when done), or a negative code (nothing else taken). */
int gw__h2_tunnel_start(struct gw_conn *c, struct gw_list *tunnels, struct gw_h2_stream *st,
                        uv_stream_t *upstream, const char *to_client, size_t n_client,
                        const struct gw_tunnel_info *info);
/* The session's news for a tunnel's stream: DATA or END_STREAM from the client; the stream
 * drained under GW_H2_OUT_HIGH; the stream closed (error: its RST_STREAM code, 0 both ended). */
void gw__h2_tunnel_body(struct gw__h2_tunnel *t);
void gw__h2_tunnel_sent(struct gw__h2_tunnel *t);
void gw__h2_tunnel_closed(struct gw__h2_tunnel *t, uint32_t error);
/* The drain timeout passed: every tunnel in the list sends a close frame 1001 each way where its
 * byte streams are between frames, ends both sides and closes within a second. */
void gw__h2_tunnels_going_away(struct gw_list *tunnels);
/* The connection closes: every tunnel in the list resets its stream and closes. */
void gw__h2_tunnels_close(struct gw_list *tunnels, const char *why);

/* conn/redirect.c: answers a plain-HTTP request 308 to HTTPS when "tls.redirect_http" covers
 * its host (host: the Host header or the target's authority, with any port; path and query, with
 * its "?", as the client sent them). Returns true when it answered (r is then gone). */
bool gw__request_https_redirect(struct gw_request *r, const char *host, size_t host_len,
                                const char *path, size_t path_len, const char *query,
                                size_t query_len);

/* conn/conn.c: where the next bytes read from the client go (the free end of the input buffer,
 * grown or compacted as the request's state allows); len 0 when there is no room now. */
void gw__conn_room(struct gw_conn *c, uv_buf_t *buf);

/* conn/conn.c: nread bytes were appended at the room gw__conn_room gave (or a UV_E* code, as
 * libuv's read callback gets them): parse, dispatch or hand body bytes to the proxy. */
void gw__conn_input(struct gw_conn *c, ssize_t nread);

/* ---- conn/conn_tls.c: the TLS transport under an HTTP/1 connection -------------------------- */

/* Gives c its TLS session on the worker's current certificates (and the handle that resumes
 * reading plaintext already decrypted). 0, or a negative code (then nothing was created). */
int gw__conn_tls_init(struct gw_conn *c);

/* uv_read_start for a TLS connection; also resumes the plaintext held in the session. */
int gw__conn_tls_read_start(struct gw_conn *c);

/* conn_write for a TLS connection: encrypts bufs (all of them: the plaintext may be reused when
 * this returns), sends the records; 1 when the socket took everything, 0 when cb will run (with
 * the write request, data = c, which cb frees), or a negative code. */
int gw__conn_tls_write(struct gw_conn *c, uv_buf_t *bufs, unsigned nbufs, uv_write_cb cb);

/* Encrypts and sends n bytes with no completion callback (100 Continue). 0 or negative. */
int gw__conn_tls_send_raw(struct gw_conn *c, const char *p, size_t n);

/* Queues a close_notify alert (graceful close). */
void gw__conn_tls_shutdown(struct gw_conn *c);

/* The session, handed over with the socket (a 101: conn.c ds_detach): the connection keeps its
 * TLS state but no session, and closes without a close_notify. */
struct gw_tls_stream *gw__conn_tls_take(struct gw_conn *c);

/* Closes the TLS side's handle (close_now); its close callback is cb, as for c's others. */
void gw__conn_tls_close(struct gw_conn *c, uv_close_cb cb);

/* The verified client certificate's subject and SANs (mTLS), owned by the connection; NULL
 * when the client presented none. Returns the session that verified it (for a service's own CA
 * check), or NULL when there is no certificate. */
const struct gw_tls_stream *gw__conn_tls_client_cert(const struct gw_conn *c, const char **subject,
                                                     const char **san);

/* Frees the TLS session (conn_free); safe when c has none. */
void gw__conn_tls_free(struct gw_conn *c);

#endif
