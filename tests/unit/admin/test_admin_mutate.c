/* Unit tests for src/control/admin_mutate.c: edits of the raw config document and the atomic
 * file replacement. (The HTTP side, validation and reload run in
 * tests/integration/test_admin_api_services.py.) */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "admin/admin.h"

static json_t *doc_of(const char *text)
{
    json_error_t e;
    json_t *d = json_loads(text, 0, &e);
    if (d == NULL)
        fail_msg("bad test JSON: %s", e.text);
    return d;
}

static void expect_doc(json_t *doc, const char *want)
{
    json_t *w = doc_of(want);
    if (!json_equal(doc, w)) {
        char *got = json_dumps(doc, JSON_COMPACT);
        fail_msg("document\n got: %s\nwant: %s", got, want);
    }
    json_decref(w);
}

static const char base[] =
    "{\"listen\": \"127.0.0.1:8000\", \"services\": ["
    "{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": [\"http://${A_HOST:-127.0.0.1}:1\"]},"
    "{\"name\": \"b\", \"prefix\": \"/b\", \"targets\": [{\"url\": \"http://127.0.0.1:2\"}]}]}";

static void test_add_service(void **state)
{
    (void)state;
    char why[256];
    json_t *doc = doc_of(base);
    json_t *svc = doc_of("{\"name\": \"c\", \"prefix\": \"/c\", \"targets\": [\"http://h:3\"]}");
    assert_int_equal(gw__admin_doc_add_service(doc, svc, why, sizeof why), 0);
    assert_int_equal(json_array_size(json_object_get(doc, "services")), 3);
    assert_true(json_equal(json_array_get(json_object_get(doc, "services"), 2), svc));
    /* the same name again */
    assert_int_equal(gw__admin_doc_add_service(doc, svc, why, sizeof why), 409);
    assert_non_null(strstr(why, "\"c\" already exists"));
    json_decref(svc);
    /* not an object */
    json_t *arr = json_array();
    assert_int_equal(gw__admin_doc_add_service(doc, arr, why, sizeof why), 400);
    json_decref(arr);
    json_decref(doc);

    /* a file without "services" gets the array */
    doc = doc_of("{\"listen\": \"127.0.0.1:8000\"}");
    svc = doc_of("{\"name\": \"x\"}");
    assert_int_equal(gw__admin_doc_add_service(doc, svc, why, sizeof why), 0);
    expect_doc(doc, "{\"listen\": \"127.0.0.1:8000\", \"services\": [{\"name\": \"x\"}]}");
    json_decref(svc);
    json_decref(doc);

    /* "services" of the wrong type */
    doc = doc_of("{\"services\": 5}");
    svc = doc_of("{\"name\": \"x\"}");
    assert_int_equal(gw__admin_doc_add_service(doc, svc, why, sizeof why), 400);
    json_decref(svc);
    json_decref(doc);
}

static void test_replace_service(void **state)
{
    (void)state;
    char why[256];
    json_t *doc = doc_of(base);
    json_t *svc = doc_of("{\"prefix\": \"/bb\", \"targets\": [\"http://h:9\"]}");
    assert_int_equal(gw__admin_doc_replace_service(doc, "b", svc, NULL, why, sizeof why), 0);
    /* the name comes from the path when the body has none */
    json_t *now = json_array_get(json_object_get(doc, "services"), 1);
    expect_doc(now, "{\"name\": \"b\", \"prefix\": \"/bb\", \"targets\": [\"http://h:9\"]}");
    json_decref(svc);

    svc = doc_of("{\"name\": \"a\", \"prefix\": \"/aa\", \"targets\": [\"http://h:9\"]}");
    assert_int_equal(gw__admin_doc_replace_service(doc, "a", svc, NULL, why, sizeof why), 0);
    json_decref(svc);

    svc = doc_of("{\"name\": \"other\", \"prefix\": \"/x\"}");
    assert_int_equal(gw__admin_doc_replace_service(doc, "a", svc, NULL, why, sizeof why), 400);
    assert_non_null(strstr(why, "does not match"));
    json_decref(svc);
    svc = doc_of("{\"name\": 5}");
    assert_int_equal(gw__admin_doc_replace_service(doc, "a", svc, NULL, why, sizeof why), 400);
    json_decref(svc);

    svc = doc_of("{\"prefix\": \"/x\"}");
    assert_int_equal(gw__admin_doc_replace_service(doc, "nope", svc, NULL, why, sizeof why), 404);
    assert_string_equal(why, "no service named \"nope\"");
    json_decref(svc);
    json_decref(doc);
}

/* A PUT never drops a key it was not given: left out, the PUT is refused with the keys listed;
 * null removes a key. */
static void test_replace_keeps_or_refuses_missing_keys(void **state)
{
    (void)state;
    char why[512];
    json_t *doc = doc_of("{\"services\": [{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": "
                         "[\"http://h:1\"], \"retries\": {\"attempts\": 1}, \"health_check\": "
                         "true, \"rate_limit\": {\"limits\": []}}]}");
    json_t *before = json_deep_copy(doc);
    json_t *missing = NULL;
    json_t *svc = doc_of("{\"prefix\": \"/a\", \"targets\": [\"http://h:2\"], \"retries\": null}");
    assert_int_equal(gw__admin_doc_replace_service(doc, "a", svc, &missing, why, sizeof why), 409);
    assert_true(json_equal(doc, before));
    char *m = json_dumps(missing, JSON_COMPACT);
    assert_string_equal(m, "[\"health_check\",\"rate_limit\"]");
    free(m);
    json_decref(missing);
    assert_non_null(strstr(why, "leaves out 2 keys that service \"a\" has"));
    assert_non_null(strstr(why, "null"));
    json_decref(svc);

    /* every key mentioned: null ones are removed, the others replace */
    svc = doc_of("{\"prefix\": \"/a\", \"targets\": [\"http://h:2\"], \"retries\": null, "
                 "\"health_check\": {\"path\": \"/h\"}, \"rate_limit\": null, \"x\": null}");
    missing = NULL;
    assert_int_equal(gw__admin_doc_replace_service(doc, "a", svc, &missing, why, sizeof why), 0);
    assert_null(missing);
    expect_doc(json_array_get(json_object_get(doc, "services"), 0),
               "{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": [\"http://h:2\"], "
               "\"health_check\": {\"path\": \"/h\"}}");
    json_decref(svc);
    json_decref(before);
    json_decref(doc);
}

static void test_patch_service(void **state)
{
    (void)state;
    char why[512];
    json_t *doc = doc_of("{\"services\": [{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": "
                         "[\"http://h:1\"], \"retries\": {\"attempts\": 1, \"statuses\": [503]}, "
                         "\"health_check\": true}]}");
    json_t *patch = doc_of("{\"retries\": {\"attempts\": 2, \"backoff_base\": \"1ms\"}, "
                           "\"health_check\": null, \"targets\": [\"http://h:2\"], "
                           "\"load_balancer\": {\"strategy\": \"random\", \"x\": null}}");
    assert_int_equal(gw__admin_doc_patch_service(doc, "a", patch, why, sizeof why), 0);
    expect_doc(json_array_get(json_object_get(doc, "services"), 0),
               "{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": [\"http://h:2\"], "
               "\"retries\": {\"attempts\": 2, \"statuses\": [503], \"backoff_base\": \"1ms\"}, "
               "\"load_balancer\": {\"strategy\": \"random\"}}");
    json_decref(patch);

    patch = doc_of("{\"name\": \"b\"}");
    assert_int_equal(gw__admin_doc_patch_service(doc, "a", patch, why, sizeof why), 400);
    assert_non_null(strstr(why, "cannot be renamed"));
    json_decref(patch);
    patch = doc_of("{\"name\": null}");
    assert_int_equal(gw__admin_doc_patch_service(doc, "a", patch, why, sizeof why), 400);
    json_decref(patch);
    patch = doc_of("{}");
    assert_int_equal(gw__admin_doc_patch_service(doc, "nope", patch, why, sizeof why), 404);
    json_decref(patch);
    patch = doc_of("[1]");
    assert_int_equal(gw__admin_doc_patch_service(doc, "a", patch, why, sizeof why), 400);
    json_decref(patch);
    json_decref(doc);
}

static void test_delete_service(void **state)
{
    (void)state;
    char why[256];
    json_t *doc = doc_of(base);
    assert_int_equal(gw__admin_doc_delete_service(doc, "nope", why, sizeof why), 404);
    assert_int_equal(gw__admin_doc_delete_service(doc, "a", why, sizeof why), 0);
    assert_int_equal(json_array_size(json_object_get(doc, "services")), 1);
    assert_int_equal(gw__admin_doc_delete_service(doc, "a", why, sizeof why), 404);
    assert_int_equal(gw__admin_doc_delete_service(doc, "b", why, sizeof why), 0);
    expect_doc(doc, "{\"listen\": \"127.0.0.1:8000\", \"services\": []}");
    json_decref(doc);
    doc = doc_of("{}");
    assert_int_equal(gw__admin_doc_delete_service(doc, "a", why, sizeof why), 404);
    json_decref(doc);
}

static void test_targets(void **state)
{
    (void)state;
    char why[256];
    json_t *doc = doc_of(base);
    json_t *t = json_string("http://127.0.0.1:5");
    assert_int_equal(gw__admin_doc_add_target(doc, "a", t, why, sizeof why), 0);
    assert_int_equal(gw__admin_doc_add_target(doc, "a", t, why, sizeof why), 409);
    assert_int_equal(gw__admin_doc_add_target(doc, "zz", t, why, sizeof why), 404);
    json_decref(t);
    /* an object with the URL of an existing ${ENV} target, as expanded */
    unsetenv("A_HOST");
    t = doc_of("{\"url\": \"http://127.0.0.1:1\", \"weight\": 3}");
    assert_int_equal(gw__admin_doc_add_target(doc, "a", t, why, sizeof why), 409);
    json_decref(t);
    t = doc_of("{\"url\": \"http://127.0.0.1:6\", \"weight\": 3}");
    assert_int_equal(gw__admin_doc_add_target(doc, "b", t, why, sizeof why), 0);
    json_decref(t);
    t = json_integer(5);
    assert_int_equal(gw__admin_doc_add_target(doc, "b", t, why, sizeof why), 400);
    json_decref(t);
    expect_doc(json_object_get(doc, "services"),
               "[{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": "
               "[\"http://${A_HOST:-127.0.0.1}:1\", \"http://127.0.0.1:5\"]},"
               "{\"name\": \"b\", \"prefix\": \"/b\", \"targets\": [{\"url\": "
               "\"http://127.0.0.1:2\"}, {\"url\": \"http://127.0.0.1:6\", \"weight\": 3}]}]");

    /* removal matches the URL as written or as expanded; the ${ENV} text stays as it was */
    assert_int_equal(gw__admin_doc_remove_target(doc, "a", "http://127.0.0.1:1", why, sizeof why),
                     0);
    assert_int_equal(gw__admin_doc_remove_target(doc, "a", "http://127.0.0.1:1", why, sizeof why),
                     404);
    assert_non_null(strstr(why, "has no target"));
    assert_int_equal(gw__admin_doc_remove_target(doc, "b", "http://127.0.0.1:2", why, sizeof why),
                     0);
    assert_int_equal(gw__admin_doc_remove_target(doc, "c", "http://127.0.0.1:2", why, sizeof why),
                     404);
    /* removing the last one is the validator's call, not the editor's */
    assert_int_equal(gw__admin_doc_remove_target(doc, "a", "http://127.0.0.1:5", why, sizeof why),
                     0);
    expect_doc(json_object_get(doc, "services"),
               "[{\"name\": \"a\", \"prefix\": \"/a\", \"targets\": []},"
               "{\"name\": \"b\", \"prefix\": \"/b\", \"targets\": [{\"url\": "
               "\"http://127.0.0.1:6\", \"weight\": 3}]}]");
    json_decref(doc);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    for (e = readdir(d); e != NULL; e = readdir(d)) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

static void test_write_file_atomic(void **state)
{
    (void)state;
    char dir[] = "/tmp/gw-admin-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    char link[256];
    snprintf(path, sizeof path, "%s/gantry.json", dir);
    snprintf(link, sizeof link, "%s/link.json", dir);

    /* a new file */
    assert_int_equal(gw__admin_write_file_atomic(path, "one\n", 4), 0);
    assert_string_equal(slurp(path), "one\n");
    /* replaced, keeping its mode */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(gw__admin_write_file_atomic(path, "two", 3), 0);
    assert_string_equal(slurp(path), "two");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    /* through a symlink: the target changes, the link stays */
    assert_int_equal(symlink("gantry.json", link), 0);
    assert_int_equal(gw__admin_write_file_atomic(link, "three", 5), 0);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_string_equal(slurp(path), "three");
    /* no temporary file is left behind */
    assert_int_equal(count_entries(dir), 2);
    /* a directory that does not exist: an error, nothing created */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/missing/gantry.json", dir);
    assert_true(gw__admin_write_file_atomic(bad, "x", 1) < 0);
    assert_int_equal(count_entries(dir), 2);

    unlink(link);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_service),
        cmocka_unit_test(test_replace_service),
        cmocka_unit_test(test_replace_keeps_or_refuses_missing_keys),
        cmocka_unit_test(test_patch_service),
        cmocka_unit_test(test_delete_service),
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_write_file_atomic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
