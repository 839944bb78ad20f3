/*
 * The stages of the policy chain, as policy/chain.c's table lists them: each is defined in the
 * file of its policy. The contract is in policy/chain.h.
 */
#ifndef GW_POLICY_STAGES_H
#define GW_POLICY_STAGES_H

#include "policy/chain.h"

/* ---- the stages (rows of policy/chain.c's table) -----------------------------------------------
 */

struct gw_answer;
struct gw_buf;

/* policy/iprules.c: allow and deny lists by client address (403). */
bool gw_iprules_applies(const struct gw_snapshot *s, size_t i);
enum gw_stage_result gw_iprules_on_request(struct gw_request *r, void **slot, struct gw_answer *a);

/* policy/ratelimit_policy.c: the limits not keyed by consumer (before authentication), then
 * those keyed by consumer (after it); one state for both. Each row runs for the services that
 * have a limit of its kind (the gateway's or their own). */
bool gw_ratelimit_applies(const struct gw_snapshot *s, size_t i);
bool gw_ratelimit_consumer_applies(const struct gw_snapshot *s, size_t i);
enum gw_stage_result gw_ratelimit_pre_on_request(struct gw_request *r, void **slot,
                                                 struct gw_answer *a);
enum gw_stage_result gw_ratelimit_consumer_on_request(struct gw_request *r, void **slot,
                                                      struct gw_answer *a);
int gw_ratelimit_on_response(struct gw_request *r, void *slot, struct gw_buf *head);
void gw_ratelimit_cancel(struct gw_request *r, void *slot);

/* policy/cors.c: CORS; the decision (first) and the preflights (after the limits that need no
 * identity), one state for both. */
bool gw_cors_applies(const struct gw_snapshot *s, size_t i);
bool gw_cors_preflight_applies(const struct gw_snapshot *s, size_t i);
enum gw_stage_result gw_cors_on_request(struct gw_request *r, void **slot, struct gw_answer *a);
enum gw_stage_result gw_cors_preflight_on_request(struct gw_request *r, void **slot,
                                                  struct gw_answer *a);
int gw_cors_on_response(struct gw_request *r, void *slot, struct gw_buf *head);
void gw_cors_cancel(struct gw_request *r, void *slot);

/* policy/version.c: API versioning (deprecation headers, path version segment). */
bool gw_version_applies(const struct gw_snapshot *s, size_t i);
enum gw_stage_result gw_version_on_request(struct gw_request *r, void **slot, struct gw_answer *a);
int gw_version_on_response(struct gw_request *r, void *slot, struct gw_buf *head);

/* policy/csrf.c: the CSRF Origin check. */
bool gw_csrf_applies(const struct gw_snapshot *s, size_t i);
enum gw_stage_result gw_csrf_on_request(struct gw_request *r, void **slot, struct gw_answer *a);

/* policy/auth.c: authentication and authorization. */
/* policy/client_cert.c, run first by the auth row for services with "client_cert": CONTINUE, or
 * RESPOND with 401 (no verified client certificate) or 403 (not from the service's CA). */
enum gw_stage_result gw_client_cert_on_request(struct gw_request *r, struct gw_answer *a);
bool gw_auth_applies(const struct gw_snapshot *s, size_t i);
enum gw_stage_result gw_auth_on_request(struct gw_request *r, void **slot, struct gw_answer *a);
void gw_auth_cancel(struct gw_request *r, void *slot);

/* policy/transform.c: request transformations (headers, query, path, JSON body) before the
 * request goes upstream; response transformations (status, headers, JSON body) on its answer. */
bool gw_transform_applies(const struct gw_snapshot *s, size_t i);
enum gw_stage_result gw_transform_on_request(struct gw_request *r, void **slot,
                                             struct gw_answer *a);
int gw_transform_on_response(struct gw_request *r, void *slot, struct gw_buf *head);
int gw_transform_on_response_head(struct gw_request *r, void *slot, struct gw_http1_message *m);
void gw_transform_cancel(struct gw_request *r, void *slot);
/* Whether the transform stage's on_response appends header lines to r's answers (response
 * "set"/"add"): then the security headers look at every line of the head, not only the
 * upstream's header list. */
bool gw_transform_adds_response_lines(const struct gw_request *r);

/* policy/validate.c: JSON request bodies checked against the route's JSON Schema. */
bool gw_validate_applies(const struct gw_snapshot *s, size_t i);
enum gw_stage_result gw_validate_on_request(struct gw_request *r, void **slot, struct gw_answer *a);
void gw_validate_cancel(struct gw_request *r, void *slot);
/* policy/cache.c: the response cache (answers from the store; stores through the body tee). */
bool gw_cache_applies(const struct gw_snapshot *s, size_t i);
enum gw_stage_result gw_cache_on_request(struct gw_request *r, void **slot, struct gw_answer *a);
int gw_cache_on_response(struct gw_request *r, void *slot, struct gw_buf *head);
int gw_cache_on_response_head(struct gw_request *r, void *slot, struct gw_http1_message *m);
void gw_cache_cancel(struct gw_request *r, void *slot);
/* What the cache did for r ("HIT", "MISS", "STALE", "EXPIRED", "BYPASS", "REVALIDATED", as its
 * X-Cache header says), or NULL when its service does not cache: the access log's cache field. */
const char *gw_cache_status_name(const struct gw_request *r);

/* policy/compress.c: gzip and brotli of upstream answers by Accept-Encoding, streamed. */
bool gw_compress_applies(const struct gw_snapshot *s, size_t i);
enum gw_stage_result gw_compress_on_request(struct gw_request *r, void **slot, struct gw_answer *a);
int gw_compress_on_response(struct gw_request *r, void *slot, struct gw_buf *head);
int gw_compress_on_response_head(struct gw_request *r, void *slot, struct gw_http1_message *m);
void gw_compress_cancel(struct gw_request *r, void *slot);
/* For the response cache, from its response-head hook (which runs before this stage's): makes
 * this stage's decision for the upstream head m now (m is edited as the client will get it:
 * a weak ETag, the fields describing the unencoded bytes gone; the body filter installed) and
 * returns the coding the body is sent with (enum gw_coding), or -1 when the representation is
 * not one compression may change (the stage is off for r, or the answer is not eligible); *lines
 * is the header lines this stage's on_response adds ("" when none), static. */
int gw_compress_settle(struct gw_request *r, struct gw_http1_message *m, const char **lines);

/* policy/sechdr.c: for services with rules, the route's security headers (the answer hook of
 * policy/sechdr.h adds them). */
bool gw_sechdr_applies(const struct gw_snapshot *s, size_t i);
enum gw_stage_result gw_sechdr_on_request(struct gw_request *r, void **slot, struct gw_answer *a);

#endif
