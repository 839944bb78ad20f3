/* Unit tests for src/tls/cert.c: loading a chain and its key, the checks a bad file fails, the
 * expiry it reports, and the cipher / curve list checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/error.h"
#include "tls/tls.h"
#include "tls_test.h"

static void test_self_signed_loads_and_reports_days_left(void **state)
{
    (void)state;
    char *d = tmpdir_make();
    EVP_PKEY *k = key_new();
    X509 *c = cert_new("a.test", k, NULL, NULL, 0, 30, 0);
    char *cp = write_certs(d, "c.pem", &c, 1), *kp = write_key(d, "k.pem", k);
    struct gw_tls_cert_info info;
    char why[512] = "";
    assert_int_equal(gw_tls_cert_check(cp, kp, &info, why, sizeof why), 0);
    assert_true(info.days_left >= 29 && info.days_left <= 30);
    assert_int_equal(info.nchain, 0);
    assert_non_null(strstr(info.subject, "CN=a.test"));
    free(cp);
    free(kp);
    X509_free(c);
    EVP_PKEY_free(k);
    tmpdir_remove(d);
}

static void test_expired_loads_with_negative_days(void **state)
{
    (void)state;
    char *d = tmpdir_make();
    EVP_PKEY *k = key_new();
    X509 *c = cert_new("old.test", k, NULL, NULL, -20, -3, 0);
    char *cp = write_certs(d, "c.pem", &c, 1), *kp = write_key(d, "k.pem", k);
    struct gw_tls_cert_info info;
    char why[512] = "";
    assert_int_equal(gw_tls_cert_check(cp, kp, &info, why, sizeof why), 0);
    assert_true(info.days_left <= -3 && info.days_left >= -4);
    free(cp);
    free(kp);
    X509_free(c);
    EVP_PKEY_free(k);
    tmpdir_remove(d);
}

static void test_key_of_another_certificate_is_refused(void **state)
{
    (void)state;
    char *d = tmpdir_make();
    EVP_PKEY *k = key_new(), *other = key_new();
    X509 *c = cert_new("a.test", k, NULL, NULL, 0, 30, 0);
    char *cp = write_certs(d, "c.pem", &c, 1), *kp = write_key(d, "k.pem", other);
    struct gw_tls_cert_info info;
    char why[512] = "";
    assert_int_equal(gw_tls_cert_check(cp, kp, &info, why, sizeof why), GW_EINVAL);
    assert_non_null(strstr(why, "does not match"));
    assert_non_null(strstr(why, kp));
    free(cp);
    free(kp);
    X509_free(c);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
    tmpdir_remove(d);
}

static void test_chain_order(void **state)
{
    (void)state;
    char *d = tmpdir_make();
    EVP_PKEY *cak = key_new(), *ik = key_new(), *lk = key_new();
    X509 *ca = cert_new("Test Root", cak, NULL, NULL, 0, 365, 1);
    X509 *inter = cert_new("Test Intermediate", ik, ca, cak, 0, 365, 1);
    X509 *leaf = cert_new("a.test", lk, inter, ik, 0, 30, 0);
    char *kp = write_key(d, "k.pem", lk);
    struct gw_tls_cert_info info;
    char why[512] = "";
    /* leaf, intermediate, root: in order */
    X509 *good[] = {leaf, inter, ca};
    char *cp = write_certs(d, "good.pem", good, 3);
    assert_int_equal(gw_tls_cert_check(cp, kp, &info, why, sizeof why), 0);
    assert_int_equal(info.nchain, 2);
    free(cp);
    /* leaf, root, intermediate: the root did not issue the leaf */
    X509 *bad[] = {leaf, ca, inter};
    cp = write_certs(d, "bad.pem", bad, 3);
    assert_int_equal(gw_tls_cert_check(cp, kp, &info, why, sizeof why), GW_EINVAL);
    assert_non_null(strstr(why, "certificate 2 did not issue certificate 1"));
    free(cp);
    /* intermediate first: the key is the leaf's */
    X509 *swapped[] = {inter, leaf};
    cp = write_certs(d, "swapped.pem", swapped, 2);
    assert_int_equal(gw_tls_cert_check(cp, kp, &info, why, sizeof why), GW_EINVAL);
    assert_non_null(strstr(why, "the leaf must come first"));
    free(cp);
    free(kp);
    X509_free(ca);
    X509_free(inter);
    X509_free(leaf);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(ik);
    EVP_PKEY_free(lk);
    tmpdir_remove(d);
}

static void test_unreadable_files(void **state)
{
    (void)state;
    char *d = tmpdir_make();
    struct gw_tls_cert_info info;
    char why[512] = "", path[600];
    snprintf(path, sizeof path, "%s/none.pem", d);
    assert_int_equal(gw_tls_cert_check(path, path, &info, why, sizeof why), GW_EINVAL);
    assert_non_null(strstr(why, "cannot open"));
    FILE *f = fopen(path, "w");
    fputs("not a certificate\n", f);
    fclose(f);
    assert_int_equal(gw_tls_cert_check(path, path, &info, why, sizeof why), GW_EINVAL);
    assert_non_null(strstr(why, "no PEM certificate"));
    tmpdir_remove(d);
}

static void test_lists(void **state)
{
    (void)state;
    char why[256];
    assert_int_equal(gw_tls_check_list(GW_TLS_DEFAULT_CIPHERS, false, false, why, sizeof why), 0);
    assert_int_equal(gw_tls_check_list(GW_TLS_DEFAULT_CIPHERSUITES, true, false, why, sizeof why),
                     0);
    assert_int_equal(gw_tls_check_list(GW_TLS_DEFAULT_CURVES, false, true, why, sizeof why), 0);
    assert_int_equal(gw_tls_check_list("NOPE-CIPHER", false, false, why, sizeof why), GW_EINVAL);
    assert_int_equal(gw_tls_check_list("TLS_NOPE", true, false, why, sizeof why), GW_EINVAL);
    assert_int_equal(gw_tls_check_list("P-999", false, true, why, sizeof why), GW_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_self_signed_loads_and_reports_days_left),
        cmocka_unit_test(test_expired_loads_with_negative_days),
        cmocka_unit_test(test_key_of_another_certificate_is_refused),
        cmocka_unit_test(test_chain_order),
        cmocka_unit_test(test_unreadable_files),
        cmocka_unit_test(test_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
