/*
 * The one BIO of a TLS session (see gw__tls_bio_new in internal.h): ciphertext queues that hold
 * memory only while they hold bytes.
 *
 * OpenSSL's memory BIO keeps its buffer at the largest size it ever held (a handshake flight, a
 * burst of records) for the life of the connection, and clears all of it on every reset: two of
 * them cost an idle keep-alive connection about 1.3 KiB and its writes a memset of that
 * high-water mark. Here a drained queue gives its buffer back at once, and one BIO serves both
 * directions (one object and one lock fewer per connection).
 */
#include <openssl/bio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tls/internal.h"

/* The first allocation of a queue: a handshake flight or a small record fits. */
#define QUEUE_MIN 2048

int gw__tls_queue_push(struct gw__tls_queue *q, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (q->off > 0 && q->len + n > q->cap) {
        /* Move what is left to the front before growing. */
        memmove(q->data, q->data + q->off, q->len - q->off);
        q->len -= q->off;
        q->off = 0;
    }
    if (q->len + n > q->cap) {
        size_t cap = q->cap ? q->cap * 2 : QUEUE_MIN;
        if (cap < q->len + n)
            cap = q->len + n;
        char *data = realloc(q->data, cap);
        if (!data)
            return GW_ENOMEM;
        q->data = data;
        q->cap = cap;
    }
    memcpy(q->data + q->len, p, n);
    q->len += n;
    return 0;
}

void gw__tls_queue_drop(struct gw__tls_queue *q, size_t n)
{
    size_t held = q->len - q->off;
    if (n < held) {
        q->off += n;
        return;
    }
    gw__tls_queue_free(q);
}

void gw__tls_queue_free(struct gw__tls_queue *q)
{
    free(q->data);
    q->data = NULL;
    q->off = q->len = q->cap = 0;
}

static int bio_write_ex(BIO *b, const char *p, size_t n, size_t *written)
{
    struct gw__tls_io *io = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (gw__tls_queue_push(&io->out, p, n) < 0) {
        *written = 0;
        return 0;
    }
    *written = n;
    return 1;
}

static int bio_read_ex(BIO *b, char *p, size_t cap, size_t *got)
{
    struct gw__tls_io *io = BIO_get_data(b);
    size_t held = io->in.len - io->in.off;
    BIO_clear_retry_flags(b);
    if (held == 0) {
        /* Not EOF: the session waits for the caller to feed more. */
        BIO_set_retry_read(b);
        *got = 0;
        return 0;
    }
    size_t n = held < cap ? held : cap;
    memcpy(p, io->in.data + io->in.off, n);
    gw__tls_queue_drop(&io->in, n);
    *got = n;
    return 1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)ptr;
    struct gw__tls_io *io = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_PENDING:
        return (long)(io->in.len - io->in.off);
    case BIO_CTRL_WPENDING:
        return (long)(io->out.len - io->out.off);
    case BIO_CTRL_FLUSH:
        return 1;
    case BIO_CTRL_GET_CLOSE:
        return BIO_get_shutdown(b);
    case BIO_CTRL_SET_CLOSE:
        BIO_set_shutdown(b, (int)num);
        return 1;
    default:
        return 0; /* EOF, reset, kTLS, datagram queries...: not this BIO */
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static pthread_once_t method_once = PTHREAD_ONCE_INIT;
static BIO_METHOD *method;

static void make_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "gantry tls queue");
    if (!m)
        return;
    if (BIO_meth_set_write_ex(m, bio_write_ex) != 1 || BIO_meth_set_read_ex(m, bio_read_ex) != 1 ||
        BIO_meth_set_ctrl(m, bio_ctrl) != 1 || BIO_meth_set_create(m, bio_create) != 1) {
        BIO_meth_free(m);
        return;
    }
    method = m;
}

BIO *gw__tls_bio_new(struct gw__tls_io *io)
{
    pthread_once(&method_once, make_method);
    if (!method)
        return NULL;
    BIO *b = BIO_new(method);
    if (b)
        BIO_set_data(b, io);
    return b;
}
