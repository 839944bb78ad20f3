/*
 * The admin listener: a small HTTP/1.1 server on the control thread's loop serving the JSON
 * admin API (README "Admin API"): services, targets, the compiled routes, status, health, and
 * config reload; runtime changes are validated like the file, written back to it and reloaded.
 *
 * Contract
 * - Everything runs on the control thread, one request at a time (no locks): handlers read the
 *   current snapshot with gw_server_snapshot() and change it only through gw_server_reload().
 * - Off loopback an API key is mandatory (the config loader refuses the file otherwise); with a
 *   key configured, every request must carry it ("Authorization: Bearer KEY" or "X-API-Key:
 *   KEY"), compared in constant time on SHA-256 digests.
 * - Every answer is JSON, errors included: {"error": "...", "status": N}.
 *
 * admin.c: listener and connections; admin_api.c: the endpoint table and the read-only
 * endpoints; admin_mutate.c: service and target changes on the raw config document.
 */
#ifndef GW_ADMIN_ADMIN_H
#define GW_ADMIN_ADMIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "core/buf.h"
#include "dashboard/tail.h"
#include "http1/parser.h"

struct gw_server;
struct gw_admin;
struct gw_audit_actor;

/* Control thread. Binds the admin listener on loop per the current config (admin.listen).
 * Returns the admin, or NULL: with *err 0 when the listener is disabled ("off"), or a negative
 * code after logging why (address in use, non-loopback address without a key, ...). */
struct gw_admin *gw_admin_start(struct gw_server *s, uv_loop_t *loop, int *err);

/* Control thread. Closes the listener and every admin connection (a response being written is
 * cut). Memory is released by the close callbacks, so the loop must run afterwards; then the
 * admin holds no handle on it. NULL is ignored. */
void gw_admin_close(struct gw_admin *a);

/* The admin API as the server's control service (main.c hands it to gw_server_run). */
extern const struct gw_control_service gw_admin_service;

/* ---- internal: shared by admin*.c and their unit tests --------------------------------------- */

/* Largest request body the admin API reads. */
#define GW__ADMIN_MAX_BODY (1u << 20)

/* Most {name} captures one pattern may have. */
#define GW__ADMIN_MAX_PARAMS 4

struct gw__admin_slice {
    const char *p;
    size_t n;
};

/* One request as the handlers see it. Slices point into the connection's buffers and live
 * until the response is written. */
struct gw__admin_req {
    enum gw_http_method method;
    struct gw__admin_slice path;                         /* without the query */
    struct gw__admin_slice query;                        /* after '?', may be empty */
    struct gw__admin_slice params[GW__ADMIN_MAX_PARAMS]; /* the pattern's {captures} */
    size_t nparams;
    const char *body; /* NUL-terminated (the NUL is not counted); "" when none */
    size_t body_len;
    const struct gw_http1_message *msg; /* the request head (its headers), or NULL */
    void *conn; /* the admin connection (admin.c's), or NULL (unit tests): see gw__admin_defer */
    /* Who asks, as the audit log records it (the strings live until the response is written);
     * a handler that answers later copies it for the records it makes then. NULL: none. */
    const struct gw_audit_actor *actor;
};

/* What a handler answers: a status and a JSON body (owned; NULL for none), plus optional
 * extra header lines ("Name: value\r\n"). */
struct gw__admin_resp {
    int status;
    json_t *json;
    char headers[768];
    /* "Cache-Control" value; NULL: "no-store" (every API answer). */
    const char *cache_control;
    /* The answer is a Server-Sent Events stream of the access log (admin.c keeps the
     * connection open and feeds it), for the records that pass filter. */
    bool stream;
    struct gw_tail_filter filter;
    /* A body that is not JSON (the Prometheus exposition), used when json is NULL: owned text
     * and its Content-Type. */
    struct gw_buf text;
    const char *content_type;
    /* Set by gw__admin_defer: the answer comes later through gw__admin_later_answer. */
    bool deferred;
};

/* A deferred answer: the handler of a request that waits for something on the control loop
 * (the audit log's PostgreSQL, Redis, built-in identity's work on the thread pool) answers
 * when it comes. While it waits the connection reads
 * nothing and times out after 30 s. */
struct gw__admin_later {
    void *c;       /* the connection; NULL once it closed (the answer is then dropped) */
    bool in_serve; /* the handler has not returned yet */
    bool done;     /* answered before the handler returned: rs holds the answer */
    struct gw__admin_resp rs;
};

/* admin.c: called by a handler that will answer later. Sets rs->deferred and returns the
 * handle to pass to gw__admin_later_answer exactly once (which may happen before the handler
 * returns). NULL when the request cannot wait (no connection, out of memory): then the handler
 * answers now. */
struct gw__admin_later *gw__admin_defer(const struct gw__admin_req *rq, struct gw__admin_resp *rs);

/* admin.c: sends rs as the deferred answer (taking its body) and frees l; when the client left
 * meanwhile the answer is dropped. */
void gw__admin_later_answer(struct gw__admin_later *l, struct gw__admin_resp *rs);

typedef void (*gw__admin_handler_fn)(struct gw_server *s, const struct gw__admin_req *rq,
                                     struct gw__admin_resp *rs);

/* admin_api.c: finds the endpoint for method and path and runs it; fills rs (404 when no
 * pattern matches, 405 with Allow when a pattern matches but not for this method). */
void gw__admin_dispatch(struct gw_server *s, struct gw__admin_req *rq, struct gw__admin_resp *rs);

/* Matches path against a pattern of literal segments and {name} segments (each matching one
 * non-empty segment). One trailing '/' of the path is ignored. Captures go to params. */
bool gw__admin_match(const char *pattern, const char *path, size_t len,
                     struct gw__admin_slice *params, size_t max_params, size_t *nparams);

/* Value of key in a query string (a=1&b=2), percent- and '+'-decoded into out (NUL-terminated).
 * Returns the decoded length, or -1 when the key is absent, malformed or does not fit. */
long gw__admin_query_get(const char *query, size_t len, const char *key, char *out, size_t cap);

/* The key a request carries: "Authorization: Bearer K" (scheme case-insensitive) or
 * "X-API-Key: K". False when neither is present. */
bool gw__admin_request_key(const struct gw_http1_message *m, struct gw__admin_slice *key);

/* The audit log's name for an admin key: "sha256:" and the first 12 hex digits of its digest
 * (the key itself never goes to the log). "" when the request carries none. */
void gw__admin_key_id(const struct gw__admin_slice *given, char out[20]);

/* Constant-time comparison of a presented key with the expected one: both are hashed with
 * SHA-256 and the digests compared with CRYPTO_memcmp, so neither content nor length leaks. */
bool gw__admin_key_equal(const char *expected, const char *given, size_t given_len);

/* Sets rs to {"error": message, "status": status}. */
void gw__admin_error(struct gw__admin_resp *rs, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets rs's status and body (takes ownership of json; a previous body is released). */
void gw__admin_json(struct gw__admin_resp *rs, int status, json_t *json);

/* Service i of cfg as the file it was loaded from holds it: every key as written, `${ENV}`
 * unexpanded (a deep copy of cfg->source's services[i]). This is what GET /api/services/{name}
 * returns, so sending it back with PUT changes nothing. NULL when out of memory. */
struct gw_config;
json_t *gw__admin_service_doc(const struct gw_config *cfg, size_t i);

/* The errors of a config load as [{"path", "message"}], with "file", "line" and "column" when
 * positions is set. */
struct gw_config_errors;
json_t *gw__admin_config_errors_json(const struct gw_config_errors *errs, bool positions);

/* admin_dashboard.c: the dashboard's files (GET /dashboard, /dashboard/{file}), the live
 * access log (GET /api/access-log/stream), drain (POST /api/drain). */
void gw__admin_dashboard_file(struct gw_server *s, const struct gw__admin_req *rq,
                              struct gw__admin_resp *rs);
void gw__admin_access_log_stream(struct gw_server *s, const struct gw__admin_req *rq,
                                 struct gw__admin_resp *rs);
void gw__admin_drain(struct gw_server *s, const struct gw__admin_req *rq,
                     struct gw__admin_resp *rs);

/* True when a request for method and path may be served without the admin key: the
 * dashboard's static files (they hold no data; every request for data needs the key), and
 * only while admin.dashboard is on. */
bool gw__admin_public_path(struct gw_server *s, enum gw_http_method method, const char *path,
                           size_t len);

/* admin_mutate.c: the handlers that change services and targets. */
void gw__admin_create_service(struct gw_server *s, const struct gw__admin_req *rq,
                              struct gw__admin_resp *rs);
void gw__admin_replace_service(struct gw_server *s, const struct gw__admin_req *rq,
                               struct gw__admin_resp *rs);
void gw__admin_patch_service(struct gw_server *s, const struct gw__admin_req *rq,
                             struct gw__admin_resp *rs);
void gw__admin_delete_service(struct gw_server *s, const struct gw__admin_req *rq,
                              struct gw__admin_resp *rs);
void gw__admin_add_target(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs);
void gw__admin_remove_target(struct gw_server *s, const struct gw__admin_req *rq,
                             struct gw__admin_resp *rs);

/* Edits of the raw config document (pure, for tests). Each returns 0 or an HTTP status (400,
 * 404, 409) with the reason in why. */
int gw__admin_doc_add_service(json_t *doc, json_t *svc, char *why, size_t cap);
/* PUT: svc replaces the service. Every key the service has (but "name") must be in svc; a key
 * whose value is null is removed. Otherwise 409, and *missing (when not NULL) gets the array
 * of the keys left out (owned by the caller). */
int gw__admin_doc_replace_service(json_t *doc, const char *name, json_t *svc, json_t **missing,
                                  char *why, size_t cap);
/* PATCH: patch (an object) is merged into the service as a JSON merge patch (RFC 7396):
 * objects merge key by key, null removes a key, any other value replaces. */
int gw__admin_doc_patch_service(json_t *doc, const char *name, json_t *patch, char *why,
                                size_t cap);
int gw__admin_doc_delete_service(json_t *doc, const char *name, char *why, size_t cap);
int gw__admin_doc_add_target(json_t *doc, const char *name, json_t *target, char *why, size_t cap);
int gw__admin_doc_remove_target(json_t *doc, const char *name, const char *url, char *why,
                                size_t cap);

/* admin_audit.c: one audit entry for a change of service name (action "service.patch", ...):
 * its hash in before_doc and after_doc (config documents; NULL: none), the keys that changed,
 * the outcome as an HTTP status and, on failure, why. The actor is the admin request's. */
void gw__admin_audit_change(const char *action, const char *name, json_t *before_doc,
                            json_t *after_doc, int status, const char *error);

/* admin_audit.c: one audit entry for an admin action that is not a service change (a cache
 * purge, a registration): action, object ("cache:all", "registration:<id>"), detail (a JSON
 * object, taken: decref'd here, NULL-safe; never a secret) and the outcome as an HTTP status.
 * The actor is the admin request's. */
void gw__admin_audit_event(const char *action, const char *object, json_t *detail, int status);

/* admin_audit.c: the same with actor as the record's actor (NULL: the request's), for a
 * handler that answers later, after admin.c cleared the request's actor. */
void gw__admin_audit_event_as(const struct gw_audit_actor *actor, const char *action,
                              const char *object, json_t *detail, int status);

/* admin_api.c: a target's state for the status pages ("down", "ejected", "circuit_open" or
 * "up") and since when (*since, the control loop's monotonic ms; 0: unknown). now: uv_now of
 * the control loop. */
struct gw_service;
struct gw_target;
const char *gw__admin_target_state(const struct gw_service *svc, const struct gw_target *t,
                                   uint64_t now, uint64_t *since);

/* admin.c: the backend registry of the running admin API, or NULL. */
struct gw_registry;
struct gw_registry *gw__admin_registry(struct gw_server *s);

/* admin_registry.c: /api/registrations. */
void gw__admin_list_registrations(struct gw_server *s, const struct gw__admin_req *rq,
                                  struct gw__admin_resp *rs);
void gw__admin_get_registration(struct gw_server *s, const struct gw__admin_req *rq,
                                struct gw__admin_resp *rs);
/* admin.c: the sharing of registrations through Redis, or NULL. */
struct gw_registry_share *gw__admin_share(struct gw_server *s);

void gw__admin_register(struct gw_server *s, const struct gw__admin_req *rq,
                        struct gw__admin_resp *rs);
void gw__admin_heartbeat(struct gw_server *s, const struct gw__admin_req *rq,
                         struct gw__admin_resp *rs);
void gw__admin_deregister(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs);

/* admin_hub.c: the WebSocket hub (publish, counters). */
void gw__admin_hub_publish(struct gw_server *s, const struct gw__admin_req *rq,
                           struct gw__admin_resp *rs);
void gw__admin_hub_stats(struct gw_server *s, const struct gw__admin_req *rq,
                         struct gw__admin_resp *rs);
/* admin_identity.c: /api/identity/users..., built-in identity's users and sessions. */
void gw__admin_idp_users(struct gw_server *s, const struct gw__admin_req *rq,
                         struct gw__admin_resp *rs);
void gw__admin_idp_user(struct gw_server *s, const struct gw__admin_req *rq,
                        struct gw__admin_resp *rs);
void gw__admin_idp_disable(struct gw_server *s, const struct gw__admin_req *rq,
                           struct gw__admin_resp *rs);
void gw__admin_idp_enable(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs);
void gw__admin_idp_logout(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs);
void gw__admin_idp_unlock(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs);
void gw__admin_idp_totp_reset(struct gw_server *s, const struct gw__admin_req *rq,
                              struct gw__admin_resp *rs);
void gw__admin_idp_create(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs);
void gw__admin_idp_delete(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs);
void gw__admin_idp_password(struct gw_server *s, const struct gw__admin_req *rq,
                            struct gw__admin_resp *rs);
void gw__admin_idp_permissions(struct gw_server *s, const struct gw__admin_req *rq,
                               struct gw__admin_resp *rs);
void gw__admin_idp_roles(struct gw_server *s, const struct gw__admin_req *rq,
                         struct gw__admin_resp *rs);
void gw__admin_idp_sessions(struct gw_server *s, const struct gw__admin_req *rq,
                            struct gw__admin_resp *rs);
void gw__admin_idp_session_revoke(struct gw_server *s, const struct gw__admin_req *rq,
                                  struct gw__admin_resp *rs);

/* Replaces the file at path (following a symlink) with data: a temporary file in the same
 * directory, fsync, the old file's mode, rename, fsync of the directory. 0 or a negative
 * errno; on failure the old file is untouched. */
int gw__admin_write_file_atomic(const char *path, const char *data, size_t len);

/* admin_observe.c: the cache, metrics and audit endpoints. */
void gw__admin_get_cache(struct gw_server *s, const struct gw__admin_req *rq,
                         struct gw__admin_resp *rs);
void gw__admin_post_cache_purge(struct gw_server *s, const struct gw__admin_req *rq,
                                struct gw__admin_resp *rs);
void gw__admin_get_metrics_prometheus(struct gw_server *s, const struct gw__admin_req *rq,
                                      struct gw__admin_resp *rs);
void gw__admin_get_metrics_json(struct gw_server *s, const struct gw__admin_req *rq,
                                struct gw__admin_resp *rs);
void gw__admin_get_metrics_performance(struct gw_server *s, const struct gw__admin_req *rq,
                                       struct gw__admin_resp *rs);
void gw__admin_get_health_score(struct gw_server *s, const struct gw__admin_req *rq,
                                struct gw__admin_resp *rs);
void gw__admin_get_metrics_history(struct gw_server *s, const struct gw__admin_req *rq,
                                   struct gw__admin_resp *rs);
void gw__admin_get_metrics(struct gw_server *s, const struct gw__admin_req *rq,
                           struct gw__admin_resp *rs);
void gw__admin_get_audit(struct gw_server *s, const struct gw__admin_req *rq,
                         struct gw__admin_resp *rs);

#endif
