/*
 * Response compression (docs/compression.md): gzip (zlib) and brotli of upstream answers, chosen
 * by the request's Accept-Encoding (http1/accept_encoding.h), streamed through the proxy's
 * streaming body filter (struct gw_stream_filter): the body is compressed as it flows, flushed at
 * the end of every upstream read, never held whole.
 *
 * on_request reads Accept-Encoding while the request head is still there and takes state;
 * on_response_head decides from the answer's head whether its representation may be compressed
 * (RFC 9110: not already encoded, not "no-transform", not a range, not 204, a configured type,
 * not known to be too small), adds Vary: Accept-Encoding to every such answer (its content
 * depends on the field, whatever this client asked), and, when the client accepts a coding,
 * installs the filter, weakens a strong ETag (RFC 9110 8.8.3: the encoded representation is not
 * byte-identical), drops the fields that describe the unencoded bytes (Accept-Ranges: a range
 * would be one of the identity bytes; Content-MD5, Digest, Content-Digest, Repr-Digest) and sets
 * Content-Encoding; the framing becomes chunked, so Content-Length goes.
 *
 * A HEAD gets the header fields its GET would (RFC 9110 9.3.2): the same Vary, Content-Encoding
 * and ETag, no Content-Length (the encoded length is only known by encoding). A 304 (RFC 9110
 * 15.4.5) carries the Vary of the 200 it stands for, and the ETag that 200 would carry for this
 * client (weak when the client's coding is not identity): its type is unknown, so a 304 on a
 * compressing route always varies.
 *
 * The response cache stores what the client is sent (docs/cache.md): it calls
 * gw_compress_settle from its own response-head hook, which runs first, to learn the coding and
 * the lines this stage adds; the stage's own hook then finds the decision made.
 */
#include <brotli/encode.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "control/snapshot-t.h"
#include "core/error.h"
#include "http1/accept_encoding.h"
#include "policy/chain.h"
#include "policy/policy.h"
#include "policy/repr.h"
#include "policy/stages.h"

/* Out-buffer cap: one upstream read's worth of compressed output (at most its input plus the
 * codings' small overhead) with room to spare. */
#define OUT_MAX (4u << 20)

/* Media types compressed when neither the service nor the gateway lists "types". */
static const char *const default_types[] = {
    "text/html",
    "text/plain",
    "text/css",
    "text/csv",
    "text/xml",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/problem+json",
    "application/ld+json",
    "application/xml",
    "application/xhtml+xml",
    "application/rss+xml",
    "application/atom+xml",
    "image/svg+xml",
};

struct cz_state {
    struct gw_stream_filter filter;
    const struct gw_compress_conf *conf;      /* the service's */
    const struct gw_compress_rule_conf *rule; /* the matching rule, or NULL */
    uint8_t coding;                           /* enum gw_coding the client is sent */
    bool vary;                                /* the answer gets Vary: Accept-Encoding */
    bool encoding;                            /* ... and Content-Encoding: the filter runs */
    bool started;                             /* the coding's state below is live */
    bool head;                                /* a HEAD: the GET's fields, no body */
    bool decided;                             /* on_response_head's work is done */
    bool eligible;                            /* the representation may be compressed */
    union {
        z_stream *z; /* from the thread's cache (below) */
        BrotliEncoderState *br;
    } u;
    int zkey[3]; /* level, window bits, memory level of u.z */
};

_Static_assert(sizeof(struct cz_state) <= GW_STAGE_STATE_MAX, "compress state too large");

bool gw_compress_applies(const struct gw_snapshot *s, size_t i)
{
    const struct gw_compress_conf *c = &s->cfg->services[i].compression;
    return c->enabled && c->algorithms != 0;
}

/* ---- per request ------------------------------------------------------------------------------
 */

/* The rule whose match has the longest prefix that matches (the first one on a tie). */
static const struct gw_compress_rule_conf *pick_rule(const struct gw_request *r,
                                                     const struct gw_compress_conf *c)
{
    const struct gw_compress_rule_conf *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < c->nrules; i++) {
        const struct gw_match_conf *m = &c->rules[i].match;
        if (!gw_policy_match(m, r->npath, r->npath_len, (int)r->msg.method_id))
            continue;
        size_t len = 0;
        for (size_t k = 0; k < m->nprefixes; k++) {
            size_t pl = strlen(m->prefixes[k]);
            if (pl > len && gw_policy_path_under(r->npath, r->npath_len, m->prefixes[k]))
                len = pl;
        }
        if (best == NULL || len > best_len) {
            best = &c->rules[i];
            best_len = len;
        }
    }
    return best;
}

static bool name_is(const struct gw_http1_header *h, const char *name, size_t n)
{
    return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

enum gw_stage_result gw_compress_on_request(struct gw_request *r, void **slot, struct gw_answer *a)
{
    const struct gw_compress_conf *c = &r->svc->conf->compression;
    const struct gw_compress_rule_conf *rule = c->nrules ? pick_rule(r, c) : NULL;
    if (rule && !rule->enabled)
        return GW_STAGE_CONTINUE;
    struct gw_accept_encoding ae;
    gw_accept_encoding_init(&ae);
    for (uint32_t i = 0; i < r->msg.num_headers; i++) {
        const struct gw_http1_header *h = &r->msg.headers[i];
        if (name_is(h, "accept-encoding", 15))
            gw_accept_encoding_parse(&ae, h->value, h->value_len);
    }
    struct cz_state *st = gw_stage_alloc(r, sizeof *st);
    if (st == NULL) {
        gw_answer_init(a, GW_ENOMEM);
        return GW_STAGE_RESPOND;
    }
    st->conf = c;
    st->rule = rule;
    st->head = r->msg.method_id == GW_METHOD_HEAD;
    st->coding = (uint8_t)gw_accept_encoding_choose(&ae, c->algorithms);
    *slot = st;
    return GW_STAGE_CONTINUE;
}

/* Whether the field value v[0..n) (a comma-separated list) holds token tok, any case. */
static bool list_has(const char *v, size_t n, const char *tok)
{
    size_t tn = strlen(tok);
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',' && v[i] != '=' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (i - s == tn && strncasecmp(v + s, tok, tn) == 0)
            return true;
        while (i < n && v[i] != ',') {
            if (v[i] == '"') { /* a quoted directive value may hold commas */
                i++;
                while (i < n && v[i] != '"')
                    i += v[i] == '\\' ? 2 : 1;
            }
            i++;
        }
    }
    return false;
}

static bool type_matches(const char *ct, size_t n, const char *t)
{
    size_t tn = strlen(t);
    if (tn >= 2 && t[tn - 1] == '*' && t[tn - 2] == '/')
        return n >= tn - 1 && strncasecmp(ct, t, tn - 1) == 0;
    return n == tn && strncasecmp(ct, t, tn) == 0;
}

/* Whether Content-Type value v[0..n) is one of the configured types (parameters ignored). */
static bool compressible_type(const struct gw_request *r, const struct cz_state *st, const char *v,
                              size_t n)
{
    size_t e = 0;
    while (e < n && v[e] != ';' && v[e] != ' ' && v[e] != '\t')
        e++;
    const struct gw_compress_conf *c = st->conf;
    if (c->ntypes == 0)
        c = &r->snap->cfg->compression;
    if (c->ntypes == 0) {
        for (size_t i = 0; i < sizeof default_types / sizeof default_types[0]; i++)
            if (type_matches(v, e, default_types[i]))
                return true;
        return false;
    }
    for (size_t i = 0; i < c->ntypes; i++)
        if (type_matches(v, e, c->types[i]))
            return true;
    return false;
}

/* The value of a Content-Length field (digits only), or UINT64_MAX. */
static uint64_t field_length(const struct gw_http1_header *h)
{
    uint64_t v = 0;
    if (h->value_len == 0 || h->value_len > 19)
        return UINT64_MAX;
    for (uint32_t i = 0; i < h->value_len; i++) {
        if (h->value[i] < '0' || h->value[i] > '9')
            return UINT64_MAX;
        v = v * 10 + (uint64_t)(h->value[i] - '0');
    }
    return v;
}

/* Whether the answer's representation may be compressed at all (whatever this client asked). A
 * HEAD's answer is judged as its GET's would be: by its Content-Length field. */
static bool eligible(const struct gw_request *r, const struct cz_state *st,
                     const struct gw_http1_message *m)
{
    if ((m->body == GW_BODY_NONE && !st->head) || m->status < 200 || m->status == 204 ||
        m->status == 206 || m->status == 304)
        return false;
    uint64_t min = st->conf->min_length;
    if (st->rule && st->rule->min_length != UINT64_MAX)
        min = st->rule->min_length;
    /* A known length below the minimum is not worth it; an unknown one is compressed. */
    if (m->body == GW_BODY_LENGTH && (m->content_length == 0 || m->content_length < min))
        return false;
    bool typed = false;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (name_is(h, "content-encoding", 16)) {
            /* Already encoded (anything but identity): never twice. */
            if (!(h->value_len == 8 && strncasecmp(h->value, "identity", 8) == 0))
                return false;
        } else if (name_is(h, "content-range", 13)) {
            return false;
        } else if (name_is(h, "cache-control", 13)) {
            /* RFC 9111 5.2.2.6: "no-transform" forbids changing the content. */
            if (list_has(h->value, h->value_len, "no-transform"))
                return false;
        } else if (name_is(h, "content-type", 12)) {
            typed = compressible_type(r, st, h->value, h->value_len);
        } else if (st->head && name_is(h, "content-length", 14)) {
            uint64_t n = field_length(h);
            if (n == 0 || n < min)
                return false;
        }
    }
    return typed;
}

/* ---- the codings --------------------------------------------------------------------------------
 */

/* zlib copies its input into its window with memcpy; fed at most this much per call, every copy
 * stays short (a long one is a `rep movsb` that callgrind counts byte by byte; the CPU does not
 * care either way), and the output room asked for stays small. */
#define GZIP_SLICE 8192

static int gzip_piece(struct gw_request *r, struct gw_stream_filter *f, const char *in, size_t len,
                      enum gw_stream_mode mode)
{
    struct cz_state *st = (struct cz_state *)f;
    z_stream *z = st->u.z;
    int last_flush = mode == GW_STREAM_MORE    ? Z_NO_FLUSH
                     : mode == GW_STREAM_FLUSH ? Z_SYNC_FLUSH
                                               : Z_FINISH;
    (void)r;
    do {
        size_t n = len < GZIP_SLICE ? len : GZIP_SLICE;
        int flush = n == len ? last_flush : Z_NO_FLUSH;
        z->next_in = (Bytef *)(uintptr_t)in;
        z->avail_in = (uInt)n;
        in += n;
        len -= n;
        size_t want = n + 64;
        for (;;) {
            if (gw_buf_reserve(&f->out, want) < 0)
                return GW_ENOMEM;
            size_t room = f->out.cap - f->out.len;
            z->next_out = (Bytef *)f->out.data + f->out.len;
            z->avail_out = (uInt)room;
            int zr = deflate(z, flush);
            f->out.len += room - z->avail_out;
            if (zr == Z_STREAM_END)
                return 0;
            if (zr != Z_OK && zr != Z_BUF_ERROR)
                return GW_ENOMEM;
            if (z->avail_out != 0 && z->avail_in == 0 && flush != Z_FINISH)
                break;
            want = 4096;
        }
    } while (len);
    return 0;
}

static int br_piece(struct gw_request *r, struct gw_stream_filter *f, const char *in, size_t len,
                    enum gw_stream_mode mode)
{
    struct cz_state *st = (struct cz_state *)f;
    BrotliEncoderOperation op = mode == GW_STREAM_MORE    ? BROTLI_OPERATION_PROCESS
                                : mode == GW_STREAM_FLUSH ? BROTLI_OPERATION_FLUSH
                                                          : BROTLI_OPERATION_FINISH;
    (void)r;
    const uint8_t *next_in = (const uint8_t *)in;
    size_t avail_in = len;
    size_t want = len + 64;
    for (;;) {
        if (gw_buf_reserve(&f->out, want) < 0)
            return GW_ENOMEM;
        size_t room = f->out.cap - f->out.len;
        uint8_t *next_out = (uint8_t *)f->out.data + f->out.len;
        size_t avail_out = room;
        if (!BrotliEncoderCompressStream(st->u.br, op, &avail_in, &next_in, &avail_out, &next_out,
                                         NULL))
            return GW_ENOMEM;
        f->out.len += room - avail_out;
        if (avail_in == 0 && !BrotliEncoderHasMoreOutput(st->u.br) &&
            (op != BROTLI_OPERATION_FINISH || BrotliEncoderIsFinished(st->u.br)))
            return 0;
        want = 4096;
    }
}

/*
 * deflate states kept per worker thread for the next answers: zlib's state is about 270 KiB in
 * five allocations, and freeing it after every answer makes malloc hand the memory back to the
 * kernel and fault it in again for the next one (measured: twice nginx's system time per gzip
 * answer). A few idle states per thread, keyed by their parameters, are reset and reused instead;
 * the thread's exit frees them.
 */
#define ZCACHE_MAX 4

struct zcache {
    unsigned n;
    z_stream *z[ZCACHE_MAX];
    int key[ZCACHE_MAX][3];
};

static pthread_key_t zcache_key;
static pthread_once_t zcache_once = PTHREAD_ONCE_INIT;

static void zcache_free(void *p)
{
    struct zcache *c = p;
    for (unsigned i = 0; i < c->n; i++) {
        deflateEnd(c->z[i]);
        free(c->z[i]);
    }
    free(c);
}

static void zcache_init(void)
{
    if (pthread_key_create(&zcache_key, zcache_free) != 0)
        abort(); /* only with the process's keys exhausted at its start */
}

static struct zcache *zcache_get(void)
{
    pthread_once(&zcache_once, zcache_init);
    struct zcache *c = pthread_getspecific(zcache_key);
    if (c == NULL) {
        c = calloc(1, sizeof *c);
        if (c && pthread_setspecific(zcache_key, c) != 0) {
            free(c);
            c = NULL;
        }
    }
    return c;
}

/* A deflate state with these parameters, reset, or NULL. */
static z_stream *deflate_take(const int key[3])
{
    struct zcache *c = zcache_get();
    for (unsigned i = 0; c && i < c->n; i++) {
        if (memcmp(c->key[i], key, sizeof c->key[i]) != 0)
            continue;
        z_stream *z = c->z[i];
        c->n--;
        c->z[i] = c->z[c->n];
        memcpy(c->key[i], c->key[c->n], sizeof c->key[i]);
        if (deflateReset(z) == Z_OK)
            return z;
        deflateEnd(z);
        free(z);
        return NULL;
    }
    z_stream *z = calloc(1, sizeof *z);
    if (z == NULL)
        return NULL;
    if (deflateInit2(z, key[0], Z_DEFLATED, key[1], key[2], Z_DEFAULT_STRATEGY) != Z_OK) {
        free(z);
        return NULL;
    }
    return z;
}

/* Gives z back to the thread's cache, or frees it when the cache is full. */
static void deflate_give(z_stream *z, const int key[3])
{
    struct zcache *c = zcache_get();
    if (c && c->n < ZCACHE_MAX) {
        c->z[c->n] = z;
        memcpy(c->key[c->n], key, sizeof c->key[c->n]);
        c->n++;
        return;
    }
    deflateEnd(z);
    free(z);
}

/* Starts the coding for an answer of (known) length len (0: unknown). 0 or GW_ENOMEM. */
static int start_coding(struct cz_state *st, uint64_t len)
{
    uint32_t gz = st->conf->gzip_level, brl = st->conf->brotli_level;
    if (st->rule && st->rule->gzip_level)
        gz = st->rule->gzip_level;
    if (st->rule && st->rule->brotli_level != UINT32_MAX)
        brl = st->rule->brotli_level;
    gw_buf_init(&st->filter.out, OUT_MAX);
    if (st->coding == GW_CODING_GZIP) {
        /* A small answer needs neither the whole window nor the whole hash (as nginx sizes
         * them): less memory to set up per request. */
        int wbits = 15, memlevel = 8;
        while (len && len < (UINT64_C(1) << (wbits - 1)) && wbits > 9) {
            wbits--;
            if (memlevel > 1)
                memlevel--;
        }
        st->zkey[0] = (int)gz;
        st->zkey[1] = wbits + 16; /* + 16: the gzip wrapper */
        st->zkey[2] = memlevel;
        st->u.z = deflate_take(st->zkey);
        if (st->u.z == NULL)
            return GW_ENOMEM;
        st->filter.piece = gzip_piece;
    } else {
        st->u.br = BrotliEncoderCreateInstance(NULL, NULL, NULL);
        if (st->u.br == NULL)
            return GW_ENOMEM;
        BrotliEncoderSetParameter(st->u.br, BROTLI_PARAM_QUALITY, brl);
        BrotliEncoderSetParameter(st->u.br, BROTLI_PARAM_LGWIN, 19);
        if (len && len < (UINT64_C(1) << 30))
            BrotliEncoderSetParameter(st->u.br, BROTLI_PARAM_SIZE_HINT, (uint32_t)len);
        st->filter.piece = br_piece;
    }
    st->started = true;
    return 0;
}

/* Whether the answer already varies on Accept-Encoding (or on everything). */
static bool varies_already(const struct gw_http1_message *m)
{
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (name_is(h, "vary", 4) && (list_has(h->value, h->value_len, "accept-encoding") ||
                                      list_has(h->value, h->value_len, "*")))
            return true;
    }
    return false;
}

/* The decision for the answer's head m (once): st->vary, st->encoding, the filter. */
static void decide(struct gw_request *r, struct cz_state *st, struct gw_http1_message *m)
{
    st->decided = true;
    if (m->status == 304) {
        /* It stands for the 200 the client holds (RFC 9110 15.4.5): that 200's Vary, and the
         * validator it carried for this client's coding. */
        st->vary = !varies_already(m);
        if (st->coding != GW_CODING_IDENTITY)
            gw_repr_fields_changed(r, m, GW_REPR_WEAKEN_ETAG);
        return;
    }
    if (!eligible(r, st, m))
        return;
    st->eligible = true;
    /* Several Vary lines are one list (RFC 9110 5.3): a line of ours merges with theirs. */
    st->vary = !varies_already(m);
    if (st->coding == GW_CODING_IDENTITY || st->started)
        return;
    if (!st->head && start_coding(st, m->body == GW_BODY_LENGTH ? m->content_length : 0) < 0)
        return; /* no memory for the coding: the answer goes as it came */
    gw_repr_fields_changed(r, m,
                           GW_REPR_WEAKEN_ETAG | GW_REPR_DROP_BYTE_FIELDS | GW_REPR_DROP_ENCODING |
                               (st->head ? GW_REPR_DROP_LENGTH : 0u));
    st->encoding = true;
    if (!st->head)
        r->resp_stream = &st->filter;
}

int gw_compress_on_response_head(struct gw_request *r, void *slot, struct gw_http1_message *m)
{
    struct cz_state *st = slot;
    if (!st->decided)
        decide(r, st, m);
    return 0;
}

int gw_compress_settle(struct gw_request *r, struct gw_http1_message *m, const char **lines)
{
    static const char *const added[2][3] = {
        {"", "Content-Encoding: gzip\r\n", "Content-Encoding: br\r\n"},
        {"Vary: Accept-Encoding\r\n", "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n",
         "Content-Encoding: br\r\nVary: Accept-Encoding\r\n"},
    };
    struct cz_state *st =
        r->svc->stages & (1u << GW_STAGE_COMPRESS) ? r->slot[GW_STAGE_COMPRESS] : NULL;
    *lines = "";
    if (st == NULL)
        return -1;
    if (!st->decided)
        decide(r, st, m);
    if (!st->eligible)
        return -1; /* not a representation compression could change */
    int coding = st->encoding ? (int)st->coding : GW_CODING_IDENTITY;
    *lines = added[st->vary][coding];
    return coding;
}

int gw_compress_on_response(struct gw_request *r, void *slot, struct gw_buf *head)
{
    struct cz_state *st = slot;
    int rc = 0;
    (void)r;
    /* Once, for the upstream answer's head: an answer of gantry's own (a failure after the head
     * was decided) is neither encoded nor varies. */
    if (st->encoding)
        rc |= gw_buf_append_str(head, st->coding == GW_CODING_BR ? "Content-Encoding: br\r\n"
                                                                 : "Content-Encoding: gzip\r\n");
    if (st->vary)
        rc |= gw_buf_append_str(head, "Vary: Accept-Encoding\r\n");
    st->encoding = st->vary = false;
    return rc ? GW_ENOMEM : 0;
}

void gw_compress_cancel(struct gw_request *r, void *slot)
{
    struct cz_state *st = slot;
    (void)r;
    if (!st->started)
        return;
    if (st->coding == GW_CODING_GZIP)
        deflate_give(st->u.z, st->zkey);
    else
        BrotliEncoderDestroyInstance(st->u.br);
    gw_buf_free(&st->filter.out);
    st->started = false;
}
