/* Unit tests for src/tls/stream.c and ctx.c: real handshakes between an OpenSSL client and
 * gantry's memory-BIO session: SNI picks the certificate (exact, wildcard, default), ALPN
 * answers http/1.1 only, application data both ways, a session ticket issued under one
 * context resumes under a context built later (a reload), garbage fails cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "config/config-t.h"
#include "core/error.h"
#include "tls/internal.h"
#include "tls/stream.h"
#include "tls_test.h"

struct fixture {
    char *dir;
    char *cert[3], *key[3];
    struct gw_tls_cert_conf certs[3];
    char *names1[1], *names2[1];
    struct gw_tls_conf conf;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->dir = tmpdir_make();
    const char *cns[] = {"default.test", "wild.example.com", "api.example.com"};
    for (int i = 0; i < 3; i++) {
        char n[32];
        EVP_PKEY *k = key_new();
        X509 *c = cert_new(cns[i], k, NULL, NULL, 0, 30, 0);
        snprintf(n, sizeof n, "c%d.pem", i);
        f->cert[i] = write_certs(f->dir, n, &c, 1);
        snprintf(n, sizeof n, "k%d.pem", i);
        f->key[i] = write_key(f->dir, n, k);
        f->certs[i].cert = f->cert[i];
        f->certs[i].key = f->key[i];
        X509_free(c);
        EVP_PKEY_free(k);
    }
    f->names1[0] = "*.example.com";
    f->names2[0] = "api.example.com";
    f->certs[1].names = f->names1;
    f->certs[1].nnames = 1;
    f->certs[2].names = f->names2;
    f->certs[2].nnames = 1;
    f->conf = (struct gw_tls_conf){
        .enabled = true,
        .certs = f->certs,
        .ncerts = 3,
        .min_version = 0x0303,
        .ciphers = GW_TLS_DEFAULT_CIPHERS,
        .ciphersuites = GW_TLS_DEFAULT_CIPHERSUITES,
        .curves = GW_TLS_DEFAULT_CURVES,
        .session_tickets = true,
        .ticket_key_rotation_ms = 3600 * 1000,
        .session_cache = 100,
        .session_timeout_ms = 3600 * 1000,
    };
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 3; i++) {
        free(f->cert[i]);
        free(f->key[i]);
    }
    tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* Moves bytes between the client and the server until neither has anything to say. */
static void shuttle(SSL *cl, BIO *c_in, BIO *c_out, struct gw_tls_stream *t, char *plain,
                    size_t *plain_len)
{
    for (int round = 0; round < 20; round++) {
        bool moved = false;
        char buf[16384];
        int n;
        (void)SSL_do_handshake(cl);
        while ((n = BIO_read(c_out, buf, sizeof buf)) > 0) {
            assert_int_equal(gw_tls_stream_feed(t, buf, (size_t)n), 0);
            moved = true;
        }
        size_t got = 0;
        int rc;
        while ((rc = gw_tls_stream_read(t, plain + *plain_len, 4096 - *plain_len, &got)) == 0)
            *plain_len += got;
        assert_true(rc == GW_TLS_WANT_INPUT);
        const char *p;
        size_t out = gw_tls_stream_out(t, &p);
        if (out) {
            BIO_write(c_in, p, (int)out);
            gw_tls_stream_out_consume(t, out);
            moved = true;
        }
        if (!moved)
            break;
    }
}

struct client {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *in, *out;
};

static void client_new(struct client *c, const char *sni, SSL_SESSION *resume)
{
    c->ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    c->ssl = SSL_new(c->ctx);
    c->in = BIO_new(BIO_s_mem());
    c->out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(c->in, -1);
    SSL_set_bio(c->ssl, c->in, c->out);
    SSL_set_connect_state(c->ssl);
    if (sni)
        SSL_set_tlsext_host_name(c->ssl, sni);
    static const unsigned char alpn[] = "\x02h2\x08http/1.1";
    SSL_set_alpn_protos(c->ssl, alpn, sizeof alpn - 1);
    if (resume)
        SSL_set_session(c->ssl, resume);
}

static void client_free(struct client *c)
{
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
}

/* The CN of the certificate the server presented. */
static void peer_cn(SSL *ssl, char *out, size_t n)
{
    X509 *x = SSL_get1_peer_certificate(ssl);
    assert_non_null(x);
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)n);
    X509_free(x);
}

static void handshake_for(struct fixture *f, const char *sni, const char *want_cn)
{
    struct gw_tls_ctx *ctx = NULL;
    char why[512];
    assert_int_equal(gw_tls_ctx_build(&f->conf, &ctx, why, sizeof why), 0);
    struct gw_tls_stream *t = gw_tls_stream_new(ctx);
    gw_tls_ctx_unref(ctx); /* the stream keeps its own reference */
    struct client c;
    client_new(&c, sni, NULL);
    char plain[4096];
    size_t plain_len = 0;
    shuttle(c.ssl, c.in, c.out, t, plain, &plain_len);
    assert_true(SSL_is_init_finished(c.ssl));
    assert_true(gw_tls_stream_established(t));
    char cn[128];
    peer_cn(c.ssl, cn, sizeof cn);
    assert_string_equal(cn, want_cn);
    const unsigned char *alpn = NULL;
    unsigned alen = 0;
    SSL_get0_alpn_selected(c.ssl, &alpn, &alen);
    assert_int_equal(alen, 8);
    assert_memory_equal(alpn, "http/1.1", 8);
    assert_string_equal(gw_tls_stream_version(t), "TLSv1.3");
    client_free(&c);
    gw_tls_stream_free(t);
}

static void test_sni_picks_the_certificate(void **state)
{
    struct fixture *f = *state;
    handshake_for(f, NULL, "default.test");
    handshake_for(f, "unknown.test", "default.test");
    handshake_for(f, "x.example.com", "wild.example.com");
    handshake_for(f, "X.Example.COM.", "wild.example.com");
    handshake_for(f, "api.example.com", "api.example.com"); /* exact beats the wildcard */
    handshake_for(f, "a.b.example.com", "default.test");    /* one label only */
    handshake_for(f, "example.com", "default.test");
}

static void test_name_matching(void **state)
{
    (void)state;
    assert_true(gw__tls_name_matches("*.example.com", "a.example.com"));
    assert_false(gw__tls_name_matches("*.example.com", "example.com"));
    assert_false(gw__tls_name_matches("*.example.com", ".example.com"));
    assert_false(gw__tls_name_matches("*.example.com", "a.b.example.com"));
    assert_true(gw__tls_name_matches("a.test", "a.test"));
    assert_false(gw__tls_name_matches("a.test", "b.test"));
}

/* The server_name extension body for one host name (or raw bytes). */
static size_t sni_ext(unsigned char *out, unsigned type, const char *name, size_t n)
{
    out[0] = (unsigned char)((n + 3) >> 8);
    out[1] = (unsigned char)(n + 3);
    out[2] = (unsigned char)type;
    out[3] = (unsigned char)(n >> 8);
    out[4] = (unsigned char)n;
    memcpy(out + 5, name, n);
    return n + 5;
}

static void test_sni_parser(void **state)
{
    (void)state;
    unsigned char ext[600];
    char name[256];
    size_t n = sni_ext(ext, 0, "Api.Example.COM.", 16);
    assert_int_equal(gw__tls_parse_sni(ext, n, name, sizeof name), 0);
    assert_string_equal(name, "api.example.com");
    static const char *bad[] = {"a..b", ".a", "a..", "a b", "a\x01b", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = sni_ext(ext, 0, bad[i], strlen(bad[i]));
        assert_int_equal(gw__tls_parse_sni(ext, n, name, sizeof name), GW_EINVAL);
    }
    n = sni_ext(ext, 1, "a.test", 6); /* not a host_name entry */
    assert_int_equal(gw__tls_parse_sni(ext, n, name, sizeof name), GW_EINVAL);
    n = sni_ext(ext, 0, "a.test", 6);
    assert_int_equal(gw__tls_parse_sni(ext, n - 1, name, sizeof name), GW_EINVAL); /* short */
    ext[1]++;
    assert_int_equal(gw__tls_parse_sni(ext, n, name, sizeof name), GW_EINVAL); /* list length */
    char longname[300];
    memset(longname, 'a', sizeof longname);
    n = sni_ext(ext, 0, longname, sizeof longname);
    assert_int_equal(gw__tls_parse_sni(ext, n, name, sizeof name), GW_EINVAL);
}

static void test_data_both_ways_and_resumption_across_a_rebuild(void **state)
{
    struct fixture *f = *state;
    struct gw_tls_ctx *ctx = NULL;
    char why[512];
    assert_int_equal(gw_tls_ctx_build(&f->conf, &ctx, why, sizeof why), 0);
    struct gw_tls_stream *t = gw_tls_stream_new(ctx);
    struct client c;
    client_new(&c, "x.example.com", NULL);
    char plain[4096];
    size_t plain_len = 0;
    shuttle(c.ssl, c.in, c.out, t, plain, &plain_len);
    assert_false(gw_tls_stream_resumed(t));
    /* request up */
    static const char req[] = "GET / HTTP/1.1\r\nHost: x.example.com\r\n\r\n";
    assert_int_equal(SSL_write(c.ssl, req, (int)sizeof req - 1), (int)sizeof req - 1);
    shuttle(c.ssl, c.in, c.out, t, plain, &plain_len);
    assert_int_equal(plain_len, sizeof req - 1);
    assert_memory_equal(plain, req, plain_len);
    /* response down */
    static const char resp[] = "HTTP/1.1 204 No Content\r\n\r\n";
    assert_int_equal(gw_tls_stream_write(t, resp, sizeof resp - 1), 0);
    const char *p;
    size_t out = gw_tls_stream_out(t, &p);
    BIO_write(c.in, p, (int)out);
    gw_tls_stream_out_consume(t, out);
    char got[256];
    int n = SSL_read(c.ssl, got, sizeof got); /* also takes the ticket sent after the handshake */
    assert_int_equal(n, (int)sizeof resp - 1);
    /* Between requests the session holds no ciphertext buffer (an idle keep-alive connection). */
    assert_int_equal(gw__tls_stream_held(t), 0);
    SSL_SESSION *sess = SSL_get1_session(c.ssl);
    assert_non_null(sess);
    assert_true(SSL_SESSION_is_resumable(sess));
    /* close_notify reaches the client */
    gw_tls_stream_shutdown(t);
    out = gw_tls_stream_out(t, &p);
    assert_true(out > 0);
    BIO_write(c.in, p, (int)out);
    gw_tls_stream_out_consume(t, out);
    assert_int_equal(SSL_read(c.ssl, got, sizeof got), 0);
    assert_int_equal(SSL_get_error(c.ssl, 0), SSL_ERROR_ZERO_RETURN);
    (void)SSL_shutdown(c.ssl); /* a client that closes cleanly keeps its session resumable */
    client_free(&c);
    gw_tls_stream_free(t);
    gw_tls_ctx_unref(ctx);

    /* A reload builds new contexts; the ticket keys are the process's: the session resumes. */
    assert_int_equal(gw_tls_ctx_build(&f->conf, &ctx, why, sizeof why), 0);
    t = gw_tls_stream_new(ctx);
    client_new(&c, "x.example.com", sess);
    plain_len = 0;
    shuttle(c.ssl, c.in, c.out, t, plain, &plain_len);
    assert_true(gw_tls_stream_established(t));
    assert_true(gw_tls_stream_resumed(t));
    assert_true(SSL_session_reused(c.ssl));
    SSL_SESSION_free(sess);
    client_free(&c);
    gw_tls_stream_free(t);
    gw_tls_ctx_unref(ctx);
}

static void test_tls13_only_refuses_tls12(void **state)
{
    struct fixture *f = *state;
    struct gw_tls_conf conf = f->conf;
    conf.min_version = 0x0304;
    struct gw_tls_ctx *ctx = NULL;
    char why[512];
    assert_int_equal(gw_tls_ctx_build(&conf, &ctx, why, sizeof why), 0);
    struct gw_tls_stream *t = gw_tls_stream_new(ctx);
    struct client c;
    client_new(&c, NULL, NULL);
    SSL_set_max_proto_version(c.ssl, TLS1_2_VERSION);
    (void)SSL_do_handshake(c.ssl);
    char buf[16384];
    int n = BIO_read(c.out, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal(gw_tls_stream_feed(t, buf, (size_t)n), 0);
    size_t got;
    assert_int_equal(gw_tls_stream_read(t, buf, sizeof buf, &got), GW_ETLS);
    assert_false(gw_tls_stream_established(t));
    assert_non_null(strstr(gw_tls_stream_error(t), "unsupported protocol"));
    client_free(&c);
    gw_tls_stream_free(t);
    gw_tls_ctx_unref(ctx);
}

static void test_garbage_fails(void **state)
{
    struct fixture *f = *state;
    struct gw_tls_ctx *ctx = NULL;
    char why[512];
    assert_int_equal(gw_tls_ctx_build(&f->conf, &ctx, why, sizeof why), 0);
    struct gw_tls_stream *t = gw_tls_stream_new(ctx);
    static const char http[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(gw_tls_stream_feed(t, http, sizeof http - 1), 0);
    char buf[256];
    size_t got;
    assert_int_equal(gw_tls_stream_read(t, buf, sizeof buf, &got), GW_ETLS);
    gw_tls_stream_free(t);
    gw_tls_ctx_unref(ctx);
}

static void test_bad_ocsp_file_fails_the_build(void **state)
{
    struct fixture *f = *state;
    struct gw_tls_conf conf = f->conf;
    struct gw_tls_cert_conf certs[1] = {f->certs[0]};
    certs[0].ocsp = f->cert[0]; /* PEM, not a DER OCSP response */
    conf.certs = certs;
    conf.ncerts = 1;
    struct gw_tls_ctx *ctx = NULL;
    char why[512] = "";
    assert_int_equal(gw_tls_ctx_build(&conf, &ctx, why, sizeof why), GW_EINVAL);
    assert_null(ctx);
    assert_non_null(strstr(why, "not a DER OCSP response"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_matching),
        cmocka_unit_test(test_sni_parser),
        cmocka_unit_test_setup_teardown(test_sni_picks_the_certificate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_both_ways_and_resumption_across_a_rebuild, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tls13_only_refuses_tls12, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_ocsp_file_fails_the_build, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
