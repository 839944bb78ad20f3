/* JWT verification: token shape, header, key choice, claims. Keys and signatures: jwt_keys.c. */
#include "policy/jwt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/base64url.h"
#include "core/error.h"
#include "policy/claims.h"
#include "state/revoked.h"

/* Decodes one segment into a fresh buffer (NUL-terminated for convenience). */
static int decode_segment(const char *s, size_t n, unsigned char **out, size_t *out_len)
{
    size_t cap = GW_BASE64URL_DECODED_MAX(n) + 1;
    unsigned char *buf = malloc(cap);
    int rc;

    if (!buf)
        return GW_ENOMEM;
    rc = gw_base64url_decode(s, n, buf, cap - 1, out_len);
    if (rc < 0) {
        free(buf);
        return rc == GW_ENOMEM ? GW_ENOMEM : GW_EJWTMALFORMED;
    }
    buf[*out_len] = '\0';
    *out = buf;
    return 0;
}

/* Parses a JSON object; member names must be unique (RFC 7515 section 5.2 step 4). */
static json_t *parse_object(const unsigned char *buf, size_t n)
{
    json_error_t err;
    json_t *j = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &err);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Picks the keys the token may be checked with; see gw_jwt_verify. */
static int check_header(json_t *hdr, enum gw_jwt_alg *alg, const char **kid)
{
    json_t *a = json_object_get(hdr, "alg");
    json_t *k = json_object_get(hdr, "kid");

    if (!json_is_string(a))
        return GW_EJWTMALFORMED;
    /* RFC 7515 section 4.1.11: a recipient MUST reject a JWS whose "crit" it does not
     * understand; gantry understands no extension. */
    if (json_object_get(hdr, "crit"))
        return GW_EJWTALG;
    if (gw_jwt_alg_parse(json_string_value(a), alg) < 0)
        return GW_EJWTALG;
    *kid = NULL;
    if (k) {
        if (!json_is_string(k))
            return GW_EJWTMALFORMED;
        *kid = json_string_value(k);
    }
    return 0;
}

static int verify_signature(enum gw_jwt_alg alg, const char *kid, const struct gw_jwt_key *keys,
                            size_t nkeys, const char *input, size_t n, const unsigned char *sig,
                            size_t siglen, const struct gw_jwt_key **used)
{
    bool tried = false;

    if (kid) {
        for (size_t i = 0; i < nkeys; i++) {
            /* A key loaded without a kid is never selected by one, not even by "kid":"". */
            if (keys[i].kid[0] == '\0' || strcmp(keys[i].kid, kid) != 0)
                continue;
            /* The key decides the algorithm; the header only has to agree with it. */
            if (keys[i].alg != alg)
                return GW_EJWTALG;
            *used = &keys[i];
            return gw_jwt_key_verify(&keys[i], input, n, sig, siglen);
        }
        return GW_EJWTKID;
    }
    for (size_t i = 0; i < nkeys; i++) {
        if (keys[i].alg != alg)
            continue;
        tried = true;
        if (gw_jwt_key_verify(&keys[i], input, n, sig, siglen) == 0) {
            *used = &keys[i];
            return 0;
        }
    }
    return tried ? GW_EJWTSIG : GW_EJWTALG;
}

/* a + b, saturating, for leeway arithmetic on attacker-chosen dates. */
static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* RFC 7519 section 4.1.3: "aud" is a string or an array of strings; one must match. */
static int check_aud(json_t *payload, const char *want)
{
    json_t *j = json_object_get(payload, "aud");
    size_t i;
    json_t *v;

    if (json_is_string(j))
        return strcmp(json_string_value(j), want) == 0 ? 0 : GW_EJWTAUD;
    if (!json_is_array(j))
        return GW_EJWTAUD;
    json_array_foreach(j, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
            return 0;
    }
    return GW_EJWTAUD;
}

/* Records which claim failed (see struct gw_jwt_claims) and returns GW_EJWTCLAIM. */
static int bad_claim(struct gw_jwt_claims *c, const char *name, bool missing)
{
    c->bad_claim = name;
    c->claim_missing = missing;
    return GW_EJWTCLAIM;
}

/* The claims of a payload verified with key. */
static int check_claims(json_t *payload, const struct gw_jwt_policy *p, int64_t now_s,
                        const struct gw_jwt_key *key, struct gw_jwt_claims *c)
{
    int64_t leeway = p->leeway_s > 0 ? p->leeway_s : 0;
    const char *name;
    int rc;

    if (gw_claim_date(payload, "exp", &c->exp, &c->has_exp) < 0)
        return bad_claim(c, "exp", false);
    if (gw_claim_date(payload, "nbf", &c->nbf, &c->has_nbf) < 0)
        return bad_claim(c, "nbf", false);
    if (gw_claim_date(payload, "iat", &c->iat, &c->has_iat) < 0)
        return bad_claim(c, "iat", false);
    if (p->require_exp && !c->has_exp)
        return bad_claim(c, "exp", true);
    /* RFC 7519 section 4.1.4: the current time MUST be before "exp". */
    if (c->has_exp && now_s >= sat_add(c->exp, leeway))
        return GW_EJWTEXPIRED;
    /* Section 4.1.5: the current time MUST be after or equal to "nbf". */
    if (c->has_nbf && sat_add(now_s, leeway) < c->nbf)
        return GW_EJWTNOTYET;
    /* A token issued in the future is as suspect as one not yet valid. */
    if (c->has_iat && sat_add(now_s, leeway) < c->iat)
        return GW_EJWTNOTYET;
    if (gw_claim_string(payload, "iss", c->iss, sizeof(c->iss)) < 0)
        return bad_claim(c, "iss", false);
    if (p->iss) {
        if (!json_is_string(json_object_get(payload, "iss")) || strcmp(c->iss, p->iss) != 0)
            return GW_EJWTISS;
    }
    if (p->aud) {
        rc = check_aud(payload, p->aud);
        if (rc < 0)
            return rc;
    }
    name = gw_claim_first_missing(payload, &p->required);
    if (name)
        return bad_claim(c, name, true);
    if (gw_claim_string(payload, "sub", c->sub, sizeof(c->sub)) < 0)
        return bad_claim(c, "sub", false);
    if (key->revocable) {
        /* Built-in identity's token: what its revocations name (state/revoked.h). */
        const char *jti = json_string_value(json_object_get(payload, "jti"));
        const char *sid = json_string_value(json_object_get(payload, "sid"));
        c->jti_key = jti ? gw_revoked_key(jti) : 0;
        c->sid_key = sid ? gw_revoked_key(sid) : 0;
    }
    if (gw_claim_lists(payload, &p->roles, c->roles, sizeof(c->roles), &name) < 0 ||
        gw_claim_lists(payload, &p->perms, c->perms, sizeof(c->perms), &name) < 0)
        return bad_claim(c, name, false);
    return 0;
}

int gw_jwt_verify(const char *token, size_t len, const struct gw_jwt_key *keys, size_t nkeys,
                  const struct gw_jwt_policy *p, int64_t now_s, struct gw_jwt_claims *out)
{
    static const struct gw_jwt_policy no_policy = {0};
    struct gw_jwt_claims scratch;
    const char *dot1, *dot2;
    unsigned char *hdr_raw = NULL, *pay_raw = NULL, *sig = NULL;
    size_t hdr_len, pay_len, sig_len;
    json_t *hdr = NULL, *payload = NULL;
    enum gw_jwt_alg alg;
    const char *kid;
    int rc = GW_EJWTMALFORMED;

    if (!p)
        p = &no_policy;
    if (!out)
        out = &scratch;
    memset(out, 0, sizeof(*out));
    if (!token || len == 0 || len > GW_JWT_MAX_TOKEN)
        goto fail;
    dot1 = memchr(token, '.', len);
    if (!dot1)
        goto fail;
    dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        goto fail;
    rc = decode_segment(token, (size_t)(dot1 - token), &hdr_raw, &hdr_len);
    if (rc == 0)
        rc = decode_segment(dot1 + 1, (size_t)(dot2 - dot1 - 1), &pay_raw, &pay_len);
    if (rc == 0)
        rc = decode_segment(dot2 + 1, len - (size_t)(dot2 + 1 - token), &sig, &sig_len);
    if (rc < 0)
        goto fail;
    rc = GW_EJWTMALFORMED;
    hdr = parse_object(hdr_raw, hdr_len);
    if (!hdr)
        goto fail;
    rc = check_header(hdr, &alg, &kid);
    if (rc < 0)
        goto fail;
    /* The signing input is the ASCII of the first two segments as received (section 5.2). */
    const struct gw_jwt_key *used = NULL;
    rc =
        verify_signature(alg, kid, keys, nkeys, token, (size_t)(dot2 - token), sig, sig_len, &used);
    if (rc < 0)
        goto fail;
    /* Only an authenticated payload is parsed. */
    payload = parse_object(pay_raw, pay_len);
    if (!payload) {
        rc = GW_EJWTMALFORMED;
        goto fail;
    }
    rc = check_claims(payload, p, now_s, used, out);
    if (rc == 0 && used->bound_iss != NULL && strcmp(out->iss, used->bound_iss) != 0)
        rc = GW_EJWTISS; /* c->iss is "" when absent: refused too */
    if (rc == 0 && used->bound_aud != NULL)
        rc = check_aud(payload, used->bound_aud);
fail:
    json_decref(payload);
    json_decref(hdr);
    free(hdr_raw);
    free(pay_raw);
    free(sig);
    return rc;
}

const char *gw_jwt_reason(int rc, const struct gw_jwt_claims *c, char *buf, size_t cap)
{
    switch (rc) {
    case GW_EJWTEXPIRED:
        return "token expired";
    case GW_EJWTNOTYET:
        return "token not yet valid";
    case GW_EJWTSIG:
        return "invalid signature";
    case GW_EJWTALG:
        return "algorithm not accepted";
    case GW_EJWTKID:
        return "unknown key id";
    case GW_EJWTISS:
        return "issuer not accepted";
    case GW_EJWTAUD:
        return "audience not accepted";
    case GW_EJWTCLAIM:
        if (c == NULL || c->bad_claim == NULL || buf == NULL || cap == 0)
            return "invalid or missing claim";
        snprintf(buf, cap, "%s claim '%s'", c->claim_missing ? "missing required" : "invalid",
                 c->bad_claim);
        return buf;
    default:
        return "malformed token";
    }
}

bool gw_jwt_list_has(const char *list, const char *item)
{
    size_t n = strlen(item);
    const char *s = list;

    if (n == 0)
        return false;
    while (*s) {
        const char *e = strchr(s, ' ');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == n && memcmp(s, item, n) == 0)
            return true;
        if (!e)
            break;
        s = e + 1;
    }
    return false;
}
