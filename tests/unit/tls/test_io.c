/* Unit tests for src/tls/io.c gw_tls_io_encrypt: pieces that fit share one TLS record (a
 * response's head and body), larger ones become whole records, and the peer reads back exactly
 * the bytes written, in order. A real handshake between an OpenSSL client and gantry's session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "config/config-t.h"
#include "core/error.h"
#include "tls/internal.h"
#include "tls/io.h"
#include "tls/stream.h"
#include "tls_test.h"

struct fixture {
    char *dir, *cert, *key;
    struct gw_tls_cert_conf certs[1];
    struct gw_tls_conf conf;
    struct gw_tls_ctx *ctx;
    struct gw_tls_stream *t;
    SSL_CTX *cctx;
    SSL *cl;
    BIO *c_in, *c_out;
};

/* Moves handshake bytes both ways until neither side has anything to say. */
static void handshake(struct fixture *f)
{
    for (int round = 0; round < 20; round++) {
        bool moved = false;
        char buf[16384];
        int n;
        (void)SSL_do_handshake(f->cl);
        while ((n = BIO_read(f->c_out, buf, sizeof buf)) > 0) {
            assert_int_equal(gw_tls_stream_feed(f->t, buf, (size_t)n), 0);
            moved = true;
        }
        size_t got = 0;
        assert_int_equal(gw_tls_stream_read(f->t, buf, sizeof buf, &got), GW_TLS_WANT_INPUT);
        const char *p;
        size_t out = gw_tls_stream_out(f->t, &p);
        if (out) {
            BIO_write(f->c_in, p, (int)out);
            gw_tls_stream_out_consume(f->t, out);
            moved = true;
        }
        if (!moved)
            break;
    }
    assert_true(SSL_is_init_finished(f->cl));
    assert_true(gw_tls_stream_established(f->t));
    /* The client takes the ticket sent after the handshake: what comes next is ours alone. */
    char none[16];
    assert_true(SSL_read(f->cl, none, sizeof none) <= 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = tmpdir_make();
    EVP_PKEY *k = key_new();
    X509 *c = cert_new("io.test", k, NULL, NULL, 0, 30, 0);
    f->cert = write_certs(f->dir, "c.pem", &c, 1);
    f->key = write_key(f->dir, "k.pem", k);
    X509_free(c);
    EVP_PKEY_free(k);
    f->certs[0].cert = f->cert;
    f->certs[0].key = f->key;
    f->conf = (struct gw_tls_conf){
        .enabled = true,
        .certs = f->certs,
        .ncerts = 1,
        .min_version = 0x0304,
        .ciphers = GW_TLS_DEFAULT_CIPHERS,
        .ciphersuites = GW_TLS_DEFAULT_CIPHERSUITES,
        .curves = GW_TLS_DEFAULT_CURVES,
        .session_tickets = true,
        .ticket_key_rotation_ms = 3600 * 1000,
        .session_cache = 100,
        .session_timeout_ms = 3600 * 1000,
    };
    char why[512];
    assert_int_equal(gw_tls_ctx_build(&f->conf, &f->ctx, why, sizeof why), 0);
    f->t = gw_tls_stream_new(f->ctx);
    f->cctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(f->cctx, SSL_VERIFY_NONE, NULL);
    f->cl = SSL_new(f->cctx);
    f->c_in = BIO_new(BIO_s_mem());
    f->c_out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(f->c_in, -1);
    SSL_set_bio(f->cl, f->c_in, f->c_out);
    SSL_set_connect_state(f->cl);
    handshake(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    SSL_free(f->cl);
    SSL_CTX_free(f->cctx);
    gw_tls_stream_free(f->t);
    gw_tls_ctx_unref(f->ctx);
    free(f->cert);
    free(f->key);
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* Encrypts the pieces, counts the records that came out, and has the client read them back:
 * the plaintext must be the pieces' bytes in order. Returns the number of records. */
static size_t encrypt_and_read(struct fixture *f, const uv_buf_t *bufs, unsigned n)
{
    size_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += bufs[i].len;
    assert_int_equal(gw_tls_io_encrypt(f->t, bufs, n), 0);
    const char *p;
    size_t out = gw_tls_stream_out(f->t, &p);
    size_t records = 0;
    for (size_t at = 0; at < out;) {
        assert_true(at + 5 <= out);
        assert_int_equal((unsigned char)p[at], 23); /* application_data (RFC 8446 5.2) */
        size_t len = (size_t)(unsigned char)p[at + 3] << 8 | (unsigned char)p[at + 4];
        at += 5 + len;
        assert_true(at <= out);
        records++;
    }
    BIO_write(f->c_in, p, (int)out);
    gw_tls_stream_out_consume(f->t, out);
    char *got = malloc(total + 1);
    size_t have = 0;
    while (have < total) {
        int r = SSL_read(f->cl, got + have, (int)(total + 1 - have));
        assert_true(r > 0);
        have += (size_t)r;
    }
    assert_int_equal(have, total);
    size_t at = 0;
    for (unsigned i = 0; i < n; i++) {
        if (bufs[i].len)
            assert_memory_equal(got + at, bufs[i].base, bufs[i].len);
        at += bufs[i].len;
    }
    free(got);
    return records;
}

static char *filled(size_t n, char seed)
{
    char *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(seed + (char)(i % 61));
    return p;
}

static void test_head_and_body_are_one_record(void **state)
{
    struct fixture *f = *state;
    static char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
    static char body[] = "ok\n";
    uv_buf_t two[] = {uv_buf_init(head, sizeof head - 1), uv_buf_init(body, 3)};
    assert_int_equal(encrypt_and_read(f, two, 2), 1);
    /* Empty pieces change nothing. */
    uv_buf_t gaps[] = {uv_buf_init(head, 0), uv_buf_init(head, sizeof head - 1),
                       uv_buf_init(body, 0), uv_buf_init(body, 3)};
    assert_int_equal(encrypt_and_read(f, gaps, 4), 1);
    /* One piece as it is. */
    assert_int_equal(encrypt_and_read(f, two, 1), 1);
    /* Nothing at all: no record. */
    assert_int_equal(encrypt_and_read(f, gaps, 1), 0);
}

static void test_large_pieces_fill_whole_records(void **state)
{
    struct fixture *f = *state;
    char *head = filled(100, 'a'), *big = filled(40000, 'A'), *tail = filled(50, '0');
    /* 100 + 40,000 + 50 bytes: 16,384 + 16,384 + 7,382, three records (one per piece plus
     * the big piece's own split would have been five). */
    uv_buf_t three[] = {uv_buf_init(head, 100), uv_buf_init(big, 40000), uv_buf_init(tail, 50)};
    assert_int_equal(encrypt_and_read(f, three, 3), 3);
    /* A piece of exactly one record after a partial one, then more small ones. */
    char *rec = filled(16384, 'k');
    uv_buf_t mixed[] = {uv_buf_init(head, 100), uv_buf_init(rec, 16384), uv_buf_init(tail, 50),
                        uv_buf_init(head, 100)};
    assert_int_equal(encrypt_and_read(f, mixed, 4), 2);
    /* Whole records stay whole. */
    uv_buf_t whole[] = {uv_buf_init(rec, 16384), uv_buf_init(rec, 16384)};
    assert_int_equal(encrypt_and_read(f, whole, 2), 2);
    free(head);
    free(big);
    free(tail);
    free(rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_head_and_body_are_one_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_pieces_fill_whole_records, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
