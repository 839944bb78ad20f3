/* Unit tests for src/config/config_tls.c: the "tls" section's defaults, values and errors,
 * with certificates written by the test (the loader reads and checks them). */
#include "config_test.h"

#include "../tls/tls_test.h"
#include "tls/tls.h"

static char *dir, *cert, *key, *other_key;

static int setup(void **state)
{
    (void)state;
    dir = tmpdir_make();
    EVP_PKEY *k = key_new(), *o = key_new();
    X509 *c = cert_new("a.test", k, NULL, NULL, 0, 30, 0);
    cert = write_certs(dir, "c.pem", &c, 1);
    key = write_key(dir, "k.pem", k);
    other_key = write_key(dir, "o.pem", o);
    X509_free(c);
    EVP_PKEY_free(k);
    EVP_PKEY_free(o);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(cert);
    free(key);
    free(other_key);
    tmpdir_remove(dir);
    return 0;
}

/* A config whose tls section is {"certificates": [{cert, key}] + extra}. */
static char *tls_config(const char *certfile, const char *keyfile, const char *extra)
{
    char *s = malloc(4096);
    snprintf(s, 4096, "{\"tls\": {\"certificates\": [{\"cert\": \"%s\", \"key\": \"%s\"}]%s%s}}",
             certfile, keyfile, extra[0] ? ", " : "", extra);
    return s;
}

static struct gw_config *load_fail(const char *text, char **msgs)
{
    struct gw_config *cfg = NULL;
    struct gw_config_errors errs;
    int rc = gw_config_load_string("t.json", text, strlen(text), &cfg, &errs);
    assert_int_equal(rc, GW_ECONFIG);
    *msgs = errors_text(&errs);
    gw_config_errors_free(&errs);
    return cfg;
}

static void expect_message(const char *text, const char *want);

static void test_off_by_default(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok("{}");
    assert_false(cfg->tls.enabled);
    gw_config_free(cfg);
}

static void test_defaults(void **state)
{
    (void)state;
    char *text = tls_config(cert, key, "");
    struct gw_config *cfg = load_ok(text);
    const struct gw_tls_conf *t = &cfg->tls;
    assert_true(t->enabled);
    assert_string_equal(t->listen_host, "0.0.0.0");
    assert_int_equal(t->listen_port, 8443);
    assert_int_equal(t->ncerts, 1);
    assert_string_equal(t->certs[0].cert, cert);
    assert_int_equal(t->certs[0].nnames, 0);
    assert_null(t->certs[0].ocsp);
    assert_int_equal(t->min_version, 0x0303);
    assert_string_equal(t->ciphers, GW_TLS_DEFAULT_CIPHERS);
    assert_string_equal(t->ciphersuites, GW_TLS_DEFAULT_CIPHERSUITES);
    assert_string_equal(t->curves, GW_TLS_DEFAULT_CURVES);
    assert_true(t->session_tickets);
    assert_int_equal(t->ticket_key_rotation_ms, 3600 * 1000);
    assert_int_equal(t->session_cache, 20000);
    assert_int_equal(t->session_timeout_ms, 3600 * 1000);
    assert_false(t->redirect_all);
    assert_int_equal(t->nredirect_hosts, 0);
    assert_false(t->client_auth.enabled);
    gw_config_free(cfg);
    free(text);
}

static void test_client_auth(void **state)
{
    (void)state;
    char extra[600];
    snprintf(extra, sizeof extra, "\"client_auth\": {\"ca\": \"%s\"}", cert);
    char *text = tls_config(cert, key, extra);
    struct gw_config *cfg = load_ok(text);
    const struct gw_tls_client_auth_conf *ca = &cfg->tls.client_auth;
    assert_true(ca->enabled);
    assert_string_equal(ca->ca, cert);
    assert_true(ca->required);
    assert_int_equal(ca->verify_depth, 4);
    assert_string_equal(ca->subject_header, "x-client-cert-subject");
    assert_string_equal(ca->san_header, "x-client-cert-san");
    gw_config_free(cfg);
    free(text);
    snprintf(extra, sizeof extra,
             "\"client_auth\": {\"ca\": \"%s\", \"required\": false, \"subject_header\": "
             "\"X-SSL-Client\"}",
             cert);
    text = tls_config(cert, key, extra);
    cfg = load_ok(text);
    assert_false(cfg->tls.client_auth.required);
    assert_string_equal(cfg->tls.client_auth.subject_header, "x-ssl-client");
    gw_config_free(cfg);
    free(text);
    text = tls_config(cert, key, "\"client_auth\": {}");
    expect_message(text, "tls.client_auth.ca");
    free(text);
    snprintf(extra, sizeof extra, "\"client_auth\": {\"ca\": \"%s\"}", key);
    text = tls_config(cert, key, extra);
    expect_message(text, "tls.client_auth.ca: ");
    expect_message(text, "no PEM CA certificate");
    free(text);
    snprintf(extra, sizeof extra,
             "\"client_auth\": {\"ca\": \"%s\", \"san_header\": \"X-Client-Cert-Subject\"}", cert);
    text = tls_config(cert, key, extra);
    expect_message(text, "tls.client_auth.san_header: must differ from subject_header");
    free(text);
    snprintf(extra, sizeof extra, "\"client_auth\": {\"ca\": \"%s\", \"san_header\": \"a b\"}",
             cert);
    text = tls_config(cert, key, extra);
    expect_message(text, "tls.client_auth.san_header: not a header name");
    free(text);
}

/* A config whose one certificate is certfile/keyfile with "ocsp_staple": ocsp. */
static char *ocsp_config(const char *certfile, const char *keyfile, const char *ocsp)
{
    char *s = malloc(4096);
    snprintf(s, 4096,
             "{\"tls\": {\"certificates\": [{\"cert\": \"%s\", \"key\": \"%s\",\n"
             "  \"ocsp_staple\": \"%s\"}]}}",
             certfile, keyfile, ocsp);
    return s;
}

static void test_ocsp_staple(void **state)
{
    (void)state;
    /* a CA, a leaf it issued (chain file: leaf then CA), and a second leaf of the same CA; valid
     * for longer than gantry check's expiry warning (GW_TLS_EXPIRY_WARN_DAYS): at exactly that
     * many days the warning came or not by the second the check ran in */
    EVP_PKEY *cak = key_new(), *lk = key_new(), *ok = key_new();
    X509 *ca = cert_new("OCSP test CA", cak, NULL, NULL, 0, 90, 1);
    X509 *leaf = cert_new("a.test", lk, ca, cak, 0, 90, 0);
    X509 *other = cert_new("b.test", ok, ca, cak, 0, 90, 0);
    X509 *chain[] = {leaf, ca};
    char *chainfile = write_certs(dir, "chain.pem", chain, 2);
    char *leafonly = write_certs(dir, "leaf.pem", &leaf, 1);
    char *leafkey = write_key(dir, "leaf.key", lk);
    char *good = write_ocsp(dir, "good.ocsp", leaf, ca, cak, 7);
    char *stale = write_ocsp(dir, "stale.ocsp", leaf, ca, cak, -1);
    char *wrong = write_ocsp(dir, "wrong.ocsp", other, ca, cak, 7);
    char *text = ocsp_config(chainfile, leafkey, good);
    struct gw_config *cfg = load_ok(text);
    assert_string_equal(cfg->tls.certs[0].ocsp, good);
    /* "gantry check" says when the response's nextUpdate has passed (it still loads) */
    char *out = NULL;
    size_t outlen = 0;
    FILE *f = open_memstream(&out, &outlen);
    assert_int_equal(gw_tls_report_expiry(&cfg->tls, GW_TLS_EXPIRY_WARN_DAYS, f), 0);
    fclose(f);
    free(out);
    gw_config_free(cfg);
    free(text);
    /* without the issuer in the chain, the serial and the issuer's name still identify it */
    text = ocsp_config(leafonly, leafkey, good);
    gw_config_free(load_ok(text));
    free(text);
    text = ocsp_config(chainfile, leafkey, stale);
    cfg = load_ok(text);
    f = open_memstream(&out, &outlen);
    assert_int_equal(gw_tls_report_expiry(&cfg->tls, GW_TLS_EXPIRY_WARN_DAYS, f), 1);
    fclose(f);
    assert_non_null(strstr(out, "tls.certificates[0].ocsp_staple"));
    assert_non_null(strstr(out, "nextUpdate"));
    free(out);
    gw_config_free(cfg);
    free(text);
    /* a response for another certificate, a file that is no OCSP response, no file: errors at
     * the key, with its position */
    text = ocsp_config(chainfile, leafkey, wrong);
    expect_message(text, "t.json:2:18: tls.certificates[0].ocsp_staple: ");
    expect_message(text, "not for the certificate");
    free(text);
    text = ocsp_config(leafonly, leafkey, wrong);
    expect_message(text, "not for the certificate");
    free(text);
    text = ocsp_config(chainfile, leafkey, chainfile);
    expect_message(text, "t.json:2:18: tls.certificates[0].ocsp_staple: ");
    expect_message(text, "not a DER OCSP response");
    free(text);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/missing.ocsp", dir);
    text = ocsp_config(chainfile, leafkey, missing);
    expect_message(text, "tls.certificates[0].ocsp_staple: ");
    expect_message(text, "cannot open");
    free(text);
    free(chainfile);
    free(leafonly);
    free(leafkey);
    free(good);
    free(stale);
    free(wrong);
    X509_free(ca);
    X509_free(leaf);
    X509_free(other);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(lk);
    EVP_PKEY_free(ok);
}

static void test_values(void **state)
{
    (void)state;
    char *text = tls_config(
        cert, key,
        "\"listen\": \"127.0.0.1:9443\", \"min_version\": \"1.3\", \"session_tickets\": false, "
        "\"session_cache\": 0, \"ticket_key_rotation\": \"10m\", \"curves\": \"X25519\", "
        "\"redirect_http\": [\"API.example.com\", \"*.example.org\"]");
    struct gw_config *cfg = load_ok(text);
    const struct gw_tls_conf *t = &cfg->tls;
    assert_string_equal(t->listen_host, "127.0.0.1");
    assert_int_equal(t->listen_port, 9443);
    assert_int_equal(t->min_version, 0x0304);
    assert_false(t->session_tickets);
    assert_int_equal(t->session_cache, 0);
    assert_int_equal(t->ticket_key_rotation_ms, 600 * 1000);
    assert_string_equal(t->curves, "X25519");
    assert_false(t->redirect_all);
    assert_int_equal(t->nredirect_hosts, 2);
    assert_string_equal(t->redirect_hosts[0], "api.example.com");
    assert_string_equal(t->redirect_hosts[1], "*.example.org");
    gw_config_free(cfg);
    free(text);
    text = tls_config(cert, key, "\"redirect_http\": true");
    cfg = load_ok(text);
    assert_true(cfg->tls.redirect_all);
    gw_config_free(cfg);
    free(text);
    text = tls_config(cert, key, "\"redirect_http\": \"*\"");
    cfg = load_ok(text);
    assert_true(cfg->tls.redirect_all);
    gw_config_free(cfg);
    free(text);
}

static void expect_message(const char *text, const char *want)
{
    char *msgs = NULL;
    assert_null(load_fail(text, &msgs));
    if (!strstr(msgs, want))
        fail_msg("expected \"%s\" in:\n%s", want, msgs);
    free(msgs);
}

static void test_errors(void **state)
{
    (void)state;
    char *text;
    expect_message("{\"tls\": {}}", "tls.certificates");
    expect_message("{\"tls\": {\"certificates\": []}}", "tls.certificates");
    text = tls_config(cert, other_key, "");
    expect_message(text, "tls.certificates[0].cert: ");
    expect_message(text, "does not match");
    free(text);
    text = tls_config("/nonexistent/c.pem", key, "");
    expect_message(text, "/nonexistent/c.pem: cannot open");
    free(text);
    text = tls_config(cert, key, "\"min_version\": \"1.1\"");
    expect_message(text, "tls.min_version");
    free(text);
    text = tls_config(cert, key, "\"ciphers\": \"RC4-NOPE\"");
    expect_message(text, "tls.ciphers: OpenSSL does not accept this list");
    free(text);
    text = tls_config(cert, key, "\"ciphersuites\": \"TLS_NOPE\"");
    expect_message(text, "tls.ciphersuites: OpenSSL does not accept");
    free(text);
    text = tls_config(cert, key, "\"curves\": \"P-999\"");
    expect_message(text, "tls.curves: OpenSSL does not accept");
    free(text);
    text = tls_config(cert, key, "\"listen\": \"0.0.0.0:8000\"");
    expect_message(text, "tls.listen: the HTTPS listener needs its own port");
    free(text);
    text = tls_config(cert, key, "\"redirect_http\": [\"a:80\"]");
    expect_message(text, "tls.redirect_http[0]: ");
    free(text);
    text = tls_config(cert, key, "\"redirect_http\": 3");
    expect_message(text, "tls.redirect_http: expected a boolean or host names");
    free(text);
    text = tls_config(cert, key, "\"ticket_key_rotation\": \"1s\"");
    expect_message(text, "tls.ticket_key_rotation");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_by_default), cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),         cmocka_unit_test(test_errors),
        cmocka_unit_test(test_client_auth),    cmocka_unit_test(test_ocsp_staple),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
