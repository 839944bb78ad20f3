#include "h2/client.h"

#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "h2/internal.h"

struct gw_h2c_session {
    nghttp2_session *ng;
    const struct gw_h2c_handler *h;
    void *owner;
    struct gw_list streams;
    struct gw_list pending;
    size_t nstreams;
    bool goaway_in;
    bool failed;                      /* a connection error: nothing more to do */
    struct gw_h2c_stream *delivering; /* the stream whose news the owner is being told */
};

#define FIELDS_MAX 65536 /* a response head's or trailers' lines */

static void mark(struct gw_h2c_stream *st)
{
    if (st->owner_data && gw_list_empty(&st->pending))
        gw_list_insert_tail(&st->sess->pending, &st->pending);
}

static void stream_free(struct gw_h2c_stream *st)
{
    struct gw_h2c_session *s = st->sess;
    gw_list_remove(&st->link);
    if (!gw_list_empty(&st->pending))
        gw_list_remove(&st->pending);
    s->nstreams--;
    gw_buf_free(&st->body);
    gw_buf_free(&st->fields);
    gw_buf_free(&st->trailers);
    gw_buf_free(&st->data);
    free(st);
}

/* Runs the owner's callback for each stream with news; frees the closed ones after. */
static void deliver(struct gw_h2c_session *s)
{
    while (!gw_list_empty(&s->pending)) {
        struct gw_h2c_stream *st = gw_container_of(s->pending.next, struct gw_h2c_stream, pending);
        gw_list_remove(&st->pending);
        gw_list_init(&st->pending);
        bool closed = st->ev_closed;
        s->delivering = st;
        if (st->owner_data)
            s->h->stream(s->owner, st);
        s->delivering = NULL;
        st->ev_head = st->ev_data = st->ev_end = st->ev_drained = false;
        if (closed) {
            st->ev_closed = false;
            st->owner_data = NULL;
            stream_free(st);
        }
    }
}

/* ---- nghttp2 callbacks ----------------------------------------------------------------------- */

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f, void *arg)
{
    (void)arg;
    struct gw_h2c_stream *st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (!st)
        return 0;
    /* A header block after the final head is the trailers (RFC 9113 8.1). */
    st->in_trailers = st->head_done;
    if (!st->head_done)
        gw_buf_reset(&st->fields);
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *arg)
{
    (void)flags;
    (void)arg;
    struct gw_h2c_stream *st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (!st || st->bad)
        return 0;
    if (nlen == 7 && memcmp(name, ":status", 7) == 0) {
        if (vlen != 3 || value[0] < '1' || value[0] > '5' || value[1] < '0' || value[1] > '9' ||
            value[2] < '0' || value[2] > '9') {
            st->bad = true;
            return 0;
        }
        st->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
        return 0;
    }
    if (nlen && name[0] == ':')
        return 0; /* nghttp2 refused unknown pseudo-fields already */
    struct gw_buf *b = st->in_trailers ? &st->trailers : &st->fields;
    /* nghttp2 has refused CR, LF and NUL in values and uppercase names (RFC 9113 8.2.1). */
    int rc = gw_buf_append(b, name, nlen);
    rc |= gw_buf_append(b, ": ", 2);
    rc |= gw_buf_append(b, value, vlen);
    rc |= gw_buf_append(b, "\r\n", 2);
    if (rc != 0)
        st->bad = true;
    return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f, void *arg)
{
    struct gw_h2c_session *s = arg;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        s->goaway_in = true;
        return 0;
    }
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    struct gw_h2c_stream *st = nghttp2_session_get_stream_user_data(ng, f->hd.stream_id);
    if (!st)
        return 0;
    if (st->bad) {
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_PROTOCOL_ERROR);
        return 0;
    }
    if (f->hd.type == NGHTTP2_HEADERS && !st->in_trailers && !st->head_done) {
        if (st->status >= 100 && st->status < 200) {
            st->status = 0; /* an interim answer: the final head follows */
            gw_buf_reset(&st->fields);
        } else if (st->status) {
            st->head_done = true;
            st->ev_head = true;
        }
    }
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        st->end = true;
        st->ev_end = true;
    }
    mark(st);
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *p, size_t n,
                         void *arg)
{
    (void)flags;
    (void)arg;
    struct gw_h2c_stream *st = nghttp2_session_get_stream_user_data(ng, id);
    if (!st || !st->owner_data) {
        /* Nobody will take it: give the window back at once. */
        nghttp2_session_consume(ng, id, n);
        return 0;
    }
    if (st->data_off > 0 && st->data.len + n > st->data.max) {
        /* What the owner took is still at the front: drop it first. */
        memmove(st->data.data, st->data.data + st->data_off, st->data.len - st->data_off);
        st->data.len -= st->data_off;
        st->data_off = 0;
    }
    if (gw_buf_append(&st->data, p, n) != 0) {
        nghttp2_session_consume(ng, id, n);
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_FLOW_CONTROL_ERROR);
        return 0;
    }
    st->ev_data = true;
    mark(st);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t error, void *arg)
{
    (void)arg;
    struct gw_h2c_stream *st = nghttp2_session_get_stream_user_data(ng, id);
    if (!st)
        return 0;
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    st->closed = true;
    st->close_error = error;
    /* RFC 9113 8.7: REFUSED_STREAM, and streams above a GOAWAY's last id (nghttp2 closes them
     * with REFUSED_STREAM), were not processed. */
    st->refused = error == NGHTTP2_REFUSED_STREAM && !st->head_done;
    if (!st->owner_data) {
        stream_free(st);
        return 0;
    }
    st->ev_closed = true;
    mark(st);
    return 0;
}

static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *arg)
{
    (void)ng;
    (void)id;
    (void)arg;
    struct gw_h2c_stream *st = src->ptr;
    size_t avail = st->body.len - st->body_off;
    size_t n = avail < length ? avail : length;
    if (n)
        memcpy(buf, st->body.data + st->body_off, n);
    st->body_off += n;
    if (st->body_off == st->body.len)
        st->body_off = st->body.len = 0;
    if (st->want_drained && st->body.len - st->body_off < GW_H2C_BODY_LOW) {
        st->want_drained = false;
        st->ev_drained = true;
        mark(st);
    }
    if (st->body_end && st->body.len == st->body_off) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return (ssize_t)n;
    }
    if (n == 0) {
        st->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

/* ---- the session ----------------------------------------------------------------------------- */

struct gw_h2c_session *gw_h2c_session_new(const struct gw_h2c_handler *h, void *owner)
{
    struct gw_h2c_session *s = calloc(1, sizeof *s);
    nghttp2_session_callbacks *cb = NULL;
    nghttp2_option *opt = NULL;
    if (!s)
        return NULL;
    s->h = h;
    s->owner = owner;
    gw_list_init(&s->streams);
    gw_list_init(&s->pending);
    if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0)
        goto fail;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    /* Window goes back as the owner takes payload: backpressure towards the upstream. */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_peer_max_concurrent_streams(opt, GW_H2C_DEFAULT_MAX_STREAMS);
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_max_settings(opt, 32);
    if (nghttp2_session_client_new2(&s->ng, cb, s, opt) != 0)
        goto fail;
    nghttp2_session_callbacks_del(cb);
    nghttp2_option_del(opt);
    cb = NULL;
    opt = NULL;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, GW_H2C_STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, FIELDS_MAX},
    };
    if (nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0 ||
        nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0, GW_H2C_CONN_WINDOW) != 0)
        goto fail;
    return s;
fail:
    if (cb)
        nghttp2_session_callbacks_del(cb);
    if (opt)
        nghttp2_option_del(opt);
    gw_h2c_session_free(s);
    return NULL;
}

void gw_h2c_session_free(struct gw_h2c_session *s)
{
    if (!s)
        return;
    while (!gw_list_empty(&s->streams))
        stream_free(gw_container_of(s->streams.next, struct gw_h2c_stream, link));
    if (s->ng)
        nghttp2_session_del(s->ng);
    free(s);
}

int gw_h2c_session_input(struct gw_h2c_session *s, const char *p, size_t n)
{
    ssize_t rc = nghttp2_session_mem_recv(s->ng, (const uint8_t *)p, n);
    deliver(s);
    if (rc < 0) {
        s->failed = true;
        return GW_EUPH2;
    }
    return 0;
}

int gw_h2c_session_output(struct gw_h2c_session *s, struct gw_buf *out, size_t max)
{
    int rc = 0;
    while (out->len < max) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(s->ng, &p);
        if (n < 0) {
            s->failed = true;
            rc = GW_EUPH2;
            break;
        }
        if (n == 0)
            break;
        rc = gw_buf_append(out, p, (size_t)n);
        if (rc < 0)
            break;
    }
    deliver(s);
    return rc;
}

bool gw_h2c_session_can_open(const struct gw_h2c_session *s)
{
    if (s->failed || s->goaway_in || !nghttp2_session_check_request_allowed(s->ng))
        return false;
    uint32_t max =
        nghttp2_session_get_remote_settings(s->ng, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    return s->nstreams < max;
}

uint32_t gw_h2c_session_max_streams(const struct gw_h2c_session *s)
{
    return nghttp2_session_get_remote_settings(s->ng, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

bool gw_h2c_session_alive(const struct gw_h2c_session *s)
{
    return !s->failed && (nghttp2_session_want_read(s->ng) || nghttp2_session_want_write(s->ng));
}

bool gw_h2c_session_goaway_received(const struct gw_h2c_session *s)
{
    return s->goaway_in;
}

size_t gw_h2c_session_streams(const struct gw_h2c_session *s)
{
    return s->nstreams;
}

void gw_h2c_session_goaway(struct gw_h2c_session *s)
{
    nghttp2_session_terminate_session(s->ng, NGHTTP2_NO_ERROR);
}

int gw_h2c_session_ping(struct gw_h2c_session *s)
{
    return nghttp2_submit_ping(s->ng, NGHTTP2_FLAG_NONE, NULL) == 0 ? 0 : GW_ENOMEM;
}

/* ---- streams --------------------------------------------------------------------------------- */

struct gw_h2c_stream *gw_h2c_stream_open(struct gw_h2c_session *s,
                                         const struct gw_h2c_field *fields, size_t n, bool has_body,
                                         void *owner_data, int *err)
{
    *err = GW_EINVAL;
    if (!gw_h2c_session_can_open(s))
        return NULL;
    struct gw_h2c_stream *st = calloc(1, sizeof *st);
    nghttp2_nv *nv = malloc((n ? n : 1) * sizeof *nv);
    if (!st || !nv) {
        free(st);
        free(nv);
        *err = GW_ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        nv[i] =
            (nghttp2_nv){(uint8_t *)(uintptr_t)fields[i].name,
                         (uint8_t *)(uintptr_t)fields[i].value, fields[i].name_len,
                         fields[i].value_len, gw__h2_nv_flags(fields[i].name, fields[i].name_len)};
    st->sess = s;
    st->owner_data = owner_data;
    gw_list_init(&st->pending);
    gw_buf_init(&st->body, (size_t)GW_H2C_BODY_HIGH * 4);
    gw_buf_init(&st->fields, FIELDS_MAX);
    gw_buf_init(&st->trailers, FIELDS_MAX);
    gw_buf_init(&st->data, (size_t)GW_H2C_STREAM_WINDOW * 2);
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_body};
    int32_t id = nghttp2_submit_request(s->ng, NULL, nv, n, has_body ? &prd : NULL, st);
    free(nv);
    if (id < 0) {
        gw_buf_free(&st->body);
        gw_buf_free(&st->fields);
        gw_buf_free(&st->trailers);
        gw_buf_free(&st->data);
        free(st);
        *err = id == NGHTTP2_ERR_NOMEM ? GW_ENOMEM : GW_EINVAL;
        return NULL;
    }
    st->id = id;
    if (!has_body)
        st->body_end = true;
    gw_list_insert_tail(&s->streams, &st->link);
    s->nstreams++;
    *err = 0;
    return st;
}

static void resume(struct gw_h2c_stream *st)
{
    if (st->deferred && !st->closed) {
        st->deferred = false;
        nghttp2_session_resume_data(st->sess->ng, st->id);
    }
}

int gw_h2c_stream_write(struct gw_h2c_stream *st, const char *p, size_t n)
{
    if (st->closed || st->body_end)
        return 0; /* the owner hears of the close through its callback */
    if (st->body_off > 0 && st->body.len + n > st->body.cap) {
        memmove(st->body.data, st->body.data + st->body_off, st->body.len - st->body_off);
        st->body.len -= st->body_off;
        st->body_off = 0;
    }
    int rc = gw_buf_append(&st->body, p, n);
    resume(st);
    return rc;
}

size_t gw_h2c_stream_unsent(const struct gw_h2c_stream *st)
{
    return st->body.len - st->body_off;
}

void gw_h2c_stream_want_drained(struct gw_h2c_stream *st)
{
    st->want_drained = true;
}

void gw_h2c_stream_end(struct gw_h2c_stream *st)
{
    if (st->body_end)
        return;
    st->body_end = true;
    resume(st);
}

size_t gw_h2c_stream_data(const struct gw_h2c_stream *st, const char **p)
{
    *p = st->data.data ? st->data.data + st->data_off : NULL;
    return st->data.len - st->data_off;
}

void gw_h2c_stream_data_consume(struct gw_h2c_stream *st, size_t n)
{
    st->data_off += n;
    if (st->data_off == st->data.len)
        st->data_off = st->data.len = 0;
    else if (st->data_off > st->data.cap / 2) {
        memmove(st->data.data, st->data.data + st->data_off, st->data.len - st->data_off);
        st->data.len -= st->data_off;
        st->data_off = 0;
    }
    if (!st->closed && n)
        nghttp2_session_consume(st->sess->ng, st->id, n);
}

void gw_h2c_stream_release(struct gw_h2c_stream *st)
{
    st->owner_data = NULL;
    if (!gw_list_empty(&st->pending)) {
        gw_list_remove(&st->pending);
        gw_list_init(&st->pending);
    }
    if (st->closed) {
        /* Closed: freed now, or by deliver() when the owner lets go while told of it. */
        if (st->sess->delivering != st)
            stream_free(st);
        return;
    }
    /* Window the owner will never take: back to the upstream. */
    if (st->data.len > st->data_off)
        nghttp2_session_consume(st->sess->ng, st->id, st->data.len - st->data_off);
    st->data_off = st->data.len = 0;
    if (!st->end || !st->body_end)
        nghttp2_submit_rst_stream(st->sess->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
}
