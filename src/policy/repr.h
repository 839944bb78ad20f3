/*
 * What a policy that changes a response's bytes (compression, a JSON body edit) does to the
 * upstream's header fields that describe the bytes it had: RFC 9110 8.8.3 says a strong
 * validator must change with the content, so a strong ETag becomes weak (W/ keeps it usable for
 * If-None-Match, which compares weakly); digests of the old bytes (Content-MD5, Digest,
 * Content-Digest, Repr-Digest) and Accept-Ranges (a range would be of the old bytes) go; a
 * HEAD's Content-Length goes, since the new length is only known from the body (RFC 9110 8.6:
 * a HEAD must not send a length its GET would not).
 */
#ifndef GW_POLICY_REPR_H
#define GW_POLICY_REPR_H

#include "conn/request-t.h"
#include "http1/parser.h"

enum {
    GW_REPR_WEAKEN_ETAG = 1u << 0,      /* a strong ETag gets "W/" */
    GW_REPR_DROP_BYTE_FIELDS = 1u << 1, /* digests and Accept-Ranges go */
    GW_REPR_DROP_ENCODING = 1u << 2,    /* Content-Encoding goes (a new coding replaces it) */
    GW_REPR_DROP_LENGTH = 1u << 3,      /* Content-Length goes (a HEAD's answer) */
};

/* Edits the fields of response head m as the GW_REPR_* bits in what say. A weakened ETag's
 * value lives in r's stage arena; when that allocation fails the ETag is dropped (no validator
 * is better than a wrong one). */
void gw_repr_fields_changed(struct gw_request *r, struct gw_http1_message *m, unsigned what);

#endif
