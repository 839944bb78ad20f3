/*
 * gantry error codes.
 *
 * Every fallible function returns 0 or a negative code. libuv's UV_E* codes (negated errno
 * values) pass through unchanged; gantry's own codes live below GW__ERR_BASE so the two never
 * collide. One table (GW_ERROR_MAP) gives each code its name, its message and the HTTP status
 * the gateway answers with, so every generated 4xx/5xx has exactly one source.
 */
#ifndef GW_CORE_ERROR_H
#define GW_CORE_ERROR_H

#define GW__ERR_BASE (-20000)

/* X(NAME, http_status, message) */
#define GW_ERROR_MAP(X)                                                                            \
    X(ENOMEM, 500, "out of memory")                                                                \
    X(EINVAL, 500, "invalid argument")                                                             \
    /* request line */                                                                             \
    X(EMETHOD, 400, "invalid method token")                                                        \
    X(ETARGET, 400, "invalid request target")                                                      \
    X(EVERSION, 400, "malformed HTTP version")                                                     \
    X(EVERSIONUNSUP, 505, "HTTP version not supported")                                            \
    X(EREQLINE, 400, "malformed request line")                                                     \
    X(EURITOOLONG, 414, "request line too long")                                                   \
    /* header block */                                                                             \
    X(EHDRTOOLARGE, 431, "request header block too large")                                         \
    X(ETOOMANYHDRS, 431, "too many header fields")                                                 \
    X(EBARELF, 400, "bare LF in message head")                                                     \
    X(EBARECR, 400, "bare CR in message head")                                                     \
    X(ECTL, 400, "control character in message head")                                              \
    X(EOBSFOLD, 400, "obsolete line folding")                                                      \
    X(EHDRNAME, 400, "invalid header field name")                                                  \
    X(EHDRCOLONWS, 400, "whitespace between header field name and colon")                          \
    X(EHDRNOCOLON, 400, "header line without colon")                                               \
    X(EHDRVALUE, 400, "invalid character in header field value")                                   \
    /* framing (anti-smuggling) */                                                                 \
    X(ECLINVALID, 400, "invalid Content-Length")                                                   \
    X(ECLDUP, 400, "duplicate Content-Length")                                                     \
    X(ECLOVERFLOW, 400, "Content-Length too large")                                                \
    X(ECLTE, 400, "both Content-Length and Transfer-Encoding")                                     \
    X(ETENOTCHUNKED, 400, "Transfer-Encoding does not end with chunked")                           \
    X(ETEUNSUP, 501, "unsupported transfer coding")                                                \
    X(ETEHTTP10, 400, "Transfer-Encoding in an HTTP/1.0 message")                                  \
    X(ETEINVALID, 400, "malformed Transfer-Encoding")                                              \
    X(EHOSTMISSING, 400, "missing Host header")                                                    \
    X(EHOSTDUP, 400, "more than one Host header")                                                  \
    X(EHOSTINVALID, 400, "invalid Host header")                                                    \
    X(EEXPECT, 417, "unsupported expectation")                                                     \
    /* chunked body */                                                                             \
    X(ECHUNKSIZE, 400, "invalid chunk size")                                                       \
    X(ECHUNKOVERFLOW, 400, "chunk size too large")                                                 \
    X(ECHUNKEXT, 400, "invalid chunk extension")                                                   \
    X(ECHUNKCRLF, 400, "missing CRLF after chunk data")                                            \
    X(ETRAILER, 400, "invalid trailer field")                                                      \
    X(ETRAILERTOOLARGE, 431, "trailer section too large")                                          \
    /* responses from upstreams (the gateway answers 502 for all of them) */                       \
    X(ESTATUSLINE, 502, "malformed status line")                                                   \
    /* proxy */                                                                                    \
    X(EBODYTOOLARGE, 413, "request body too large")                                                \
    X(EHDRTIMEOUT, 408, "timed out reading request header")                                        \
    X(EBODYTIMEOUT, 408, "timed out reading request body")                                         \
    X(ENOROUTE, 404, "no route matched")                                                           \
    X(EUPSTREAM, 502, "bad gateway")                                                               \
    X(EUPCONNECT, 502, "upstream connect failed")                                                  \
    X(EUPRESET, 502, "upstream connection reset")                                                  \
    X(EUPGARBAGE, 502, "upstream sent an invalid response")                                        \
    X(ENOTARGET, 503, "no target available")                                                       \
    X(ECIRCUITOPEN, 503, "circuit open")                                                           \
    X(EUPTIMEOUT, 504, "upstream timed out")                                                       \
    X(ECACHEMISS, 504, "not in cache (only-if-cached)")                                            \
    X(ECONNLIMIT, 503, "too many connections")                                                     \
    X(EMETHODNOTALLOWED, 405, "method not allowed")                                                \
    X(EAPIVERSION, 404, "unknown API version")                                                     \
    X(ECONNECTUNSUP, 501, "CONNECT is not supported")                                              \
    X(ESTOPPING, 503, "gateway is shutting down")                                                  \
    /* TLS (tls/) */                                                                               \
    X(ETLS, 400, "the TLS handshake or a record failed")                                           \
    X(EHTTPSREDIRECT, 308, "this host is served over HTTPS")                                       \
    X(EUPTLS, 502, "upstream TLS handshake failed")                                                \
    /* HTTP/2 upstreams and gRPC (upstream/h2_upstream.c) */                                       \
    X(EGRPCHTTP1, 501, "gRPC needs an HTTP/2 upstream (upstream_protocol h2 or h2c)")              \
    X(EUPH2, 502, "upstream HTTP/2 protocol error")                                                \
    X(ECLIENTCERT, 401, "client certificate required")                                             \
    X(ECLIENTCERTCA, 403, "client certificate not accepted")                                       \
    /* configuration */                                                                            \
    X(ECONFIG, 500, "invalid configuration")                                                       \
    /* authentication (JWT) */                                                                     \
    X(EJWTMALFORMED, 401, "malformed token")                                                       \
    X(EJWTALG, 401, "token algorithm not accepted")                                                \
    X(EJWTKID, 401, "unknown token key id")                                                        \
    X(EJWTSIG, 401, "invalid token signature")                                                     \
    X(EJWTEXPIRED, 401, "token expired")                                                           \
    X(EJWTNOTYET, 401, "token not yet valid")                                                      \
    X(EJWTISS, 401, "token issuer not accepted")                                                   \
    X(EJWTAUD, 401, "token audience not accepted")                                                 \
    X(EJWTCLAIM, 401, "invalid or missing token claim")                                            \
    /* authentication and authorization */                                                         \
    X(EAUTHMISSING, 401, "authentication required")                                                \
    X(EAPIKEY, 401, "invalid API key")                                                             \
    X(ETOKENINACTIVE, 401, "token is not active")                                                  \
    X(EFORBIDDEN, 403, "insufficient role or permission")                                          \
    X(EINTROSPECT, 503, "authentication service unavailable")                                      \
    X(EJWKS, 500, "invalid JWKS document")                                                         \
    /* browser policies: CORS preflights, the CSRF Origin check */                                 \
    X(ECORSDENIED, 403, "preflight refused by the CORS policy")                                    \
    X(ECSRF, 403, "cross-site request refused")                                                    \
    /* rate limiting and its Redis backend */                                                      \
    X(ERATELIMITED, 429, "rate limit exceeded")                                                    \
    X(ERLBACKEND, 503, "rate limit backend unavailable")                                           \
    X(EREDISDOWN, 503, "redis unavailable")                                                        \
    X(EREDISTIMEOUT, 503, "redis timed out")                                                       \
    X(EREDISREPLY, 503, "unexpected redis reply")                                                  \
    /* outgoing HTTP requests gantry makes itself (JWKS, introspection) */                         \
    X(EFETCH, 502, "fetch failed")                                                                 \
    X(EFETCHTIMEOUT, 504, "fetch timed out")                                                       \
    X(EFETCHTOOLARGE, 502, "fetched body too large")                                               \
    X(EFETCHSTATUS, 502, "fetch answered with an unexpected status")                               \
    /* transformations */                                                                          \
    X(ETRANSFORM, 500, "request transformation failed")                                            \
    /* request validation */                                                                       \
    X(EVALJSON, 400, "request body is not valid JSON")                                             \
    X(EVALIDATION, 400, "request body does not match the schema")                                  \
    X(EVALENCODING, 415, "an encoded request body cannot be validated")                            \
    /* traffic policies */                                                                         \
    X(EIPDENIED, 403, "client address not allowed")                                                \
    /* WebSocket handshakes (RFC 6455 4.2.1) */                                                    \
    X(EWSHANDSHAKE, 400, "invalid WebSocket handshake")                                            \
    X(EWSVERSION, 426, "unsupported WebSocket version")                                            \
    X(EWSORIGIN, 403, "origin not allowed for WebSocket")                                          \
    X(EEXTCONNECT, 501, "extended CONNECT not supported for this protocol or route")               \
    /* the WebSocket hub (src/hub/) */                                                             \
    X(EHUBUPGRADE, 426, "the hub accepts WebSocket handshakes only")                               \
    X(EHUBCLIENT, 403, "client id does not belong to this identity")                               \
    X(EHUBUNAVAIL, 503, "the WebSocket hub is unavailable")                                        \
    X(EHUBH2, 501, "the hub accepts WebSocket over HTTP/1.1 only")                                 \
    X(EHUBLENGTH, 411, "send the message with a Content-Length")                                   \
    X(EHUBMESSAGE, 400, "expected {\"data\": any JSON value[, \"client_id\": \"...\"]}")           \
    /* built-in identity (src/identity/) */                                                        \
    X(EJWTREVOKED, 401, "token revoked")                                                           \
    X(EIDINPUT, 400, "invalid request body")                                                       \
    X(EIDMEDIA, 415, "unsupported media type")                                                     \
    X(EIDCREDENTIALS, 401, "invalid credentials")                                                  \
    X(EIDTOKEN, 401, "invalid, expired or revoked token")                                          \
    X(EIDTAKEN, 409, "username or email already registered")                                       \
    X(EIDCLOSED, 403, "registration not allowed")                                                  \
    X(EIDLOCKED, 429, "too many failed logins")                                                    \
    X(EIDSTATE, 409, "not possible in the account's current state")                                \
    X(EIDSTORE, 503, "identity store unavailable")                                                 \
    X(EIDREVOCATIONS, 503, "token revocations unavailable")

enum gw_error {
    GW_OK = 0,
    GW__ERR_FIRST = GW__ERR_BASE,
#define GW__ERR_ENUM(name, status, msg) GW_##name,
    GW_ERROR_MAP(GW__ERR_ENUM)
#undef GW__ERR_ENUM
    GW__ERR_LAST
};

/* Short identifier of an error code ("EBARELF"); "UNKNOWN" for codes outside the table. */
const char *gw_err_name(int err);

/* Human-readable message; for negated errno values (libuv's UV_E*) the system's message. */
const char *gw_strerror(int err);

/* HTTP status the gateway answers with for this error; 500 for codes outside the table. */
int gw_err_http_status(int err);

#endif
