/* Unit tests for YAML config files (src/config/yaml_read.c, yaml_write.c): the same schema,
 * strictness and file:line:column errors as JSON, YAML's own errors, scalar resolution,
 * anchors, the expansion cap, and the YAML writer's round trip. */
#include "config_test.h"

#include <jansson.h>
#include <unistd.h>

static int load_yaml(const char *text, struct gw_config **cfg, char **printed)
{
    struct gw_config_errors errs;
    int rc = gw_config_load_string("t.yaml", text, strlen(text), cfg, &errs);
    *printed = errors_text(&errs);
    gw_config_errors_free(&errs);
    return rc;
}

static struct gw_config *yaml_ok(const char *text)
{
    struct gw_config *cfg = NULL;
    char *printed = NULL;
    int rc = load_yaml(text, &cfg, &printed);
    if (rc != 0)
        fprintf(stderr, "unexpected errors:\n%s", printed);
    free(printed);
    assert_int_equal(rc, 0);
    assert_non_null(cfg);
    return cfg;
}

static void yaml_errors(const char *text, const char *expected)
{
    struct gw_config *cfg = NULL;
    char *printed = NULL;
    int rc = load_yaml(text, &cfg, &printed);
    assert_string_equal(printed, expected);
    assert_int_equal(rc, GW_ECONFIG);
    assert_null(cfg);
    free(printed);
}

static void test_yaml_example_matches_json_example(void **state)
{
    (void)state;
    char *jpath = source_path("examples/gantry.json");
    char *ypath = source_path("examples/gantry.yaml");
    struct gw_config *j = NULL;
    struct gw_config *y = NULL;
    struct gw_config_errors errs;
    assert_int_equal(gw_config_load(jpath, &j, &errs), 0);
    if (gw_config_load(ypath, &y, &errs) != 0)
        gw_config_errors_print(&errs, stderr);
    assert_non_null(y);
    assert_true(json_equal(j->source, y->source));
    assert_int_equal(y->nservices, j->nservices);
    assert_string_equal(y->services[0].targets[0].url, j->services[0].targets[0].url);
    gw_config_free(j);
    gw_config_free(y);
    free(jpath);
    free(ypath);
}

static void test_yaml_scalars_resolve_like_json(void **state)
{
    (void)state;
    struct gw_config *cfg = yaml_ok("listen: 127.0.0.1:8080\n"
                                    "workers: 3\n"
                                    "max_connections: 0x100\n"
                                    "timeouts: {client_header: 2.5, client_idle: '90s'}\n"
                                    "log: {level: warn, access: \"off\"}\n"
                                    "services:\n"
                                    "  - name: s\n"
                                    "    prefix: [/a, /b]\n"
                                    "    targets: [\"http://h:1\"]\n");
    assert_int_equal(cfg->listen_port, 8080);
    assert_int_equal(cfg->workers, 3);
    assert_int_equal(cfg->max_connections, 256);
    assert_int_equal(cfg->timeouts.client_header_ms, 2500);
    assert_int_equal(cfg->timeouts.client_idle_ms, 90000);
    assert_int_equal(cfg->log.level, GW_LOG_WARN);
    assert_int_equal(cfg->nservices, 1);
    assert_int_equal(cfg->services[0].nprefixes, 2);
    gw_config_free(cfg);

    json_int_t i = 0;
    double d = 0;
    assert_int_equal(gw__yaml_resolve("", 0, NULL, NULL), GW__YAML_NULL);
    assert_int_equal(gw__yaml_resolve("~", 1, NULL, NULL), GW__YAML_NULL);
    assert_int_equal(gw__yaml_resolve("True", 4, NULL, NULL), GW__YAML_TRUE);
    assert_int_equal(gw__yaml_resolve("no", 2, NULL, NULL), GW__YAML_STRING); /* YAML 1.2 */
    assert_int_equal(gw__yaml_resolve("-12", 3, &i, NULL), GW__YAML_INT);
    assert_int_equal(i, -12);
    assert_int_equal(gw__yaml_resolve("0o17", 4, &i, NULL), GW__YAML_INT);
    assert_int_equal(i, 15);
    assert_int_equal(gw__yaml_resolve("1e3", 3, NULL, &d), GW__YAML_REAL);
    assert_true(d == 1000.0);
    assert_int_equal(gw__yaml_resolve("1.2.3", 5, NULL, NULL), GW__YAML_STRING);
    assert_int_equal(gw__yaml_resolve("10s", 3, NULL, NULL), GW__YAML_STRING);
    assert_int_equal(gw__yaml_resolve(".inf", 4, NULL, NULL), GW__YAML_BAD_NUMBER);
    assert_int_equal(gw__yaml_resolve("99999999999999999999", 20, NULL, NULL), GW__YAML_REAL);
}

/* The same mistakes as test_config.c's JSON ones, at their YAML positions. */
static void test_yaml_schema_errors_have_positions(void **state)
{
    (void)state;
    yaml_errors("listen: 0.0.0.0:8000\n"
                "workers: lots\n"
                "timeoutz: {}\n"
                "services:\n"
                "  - name: users\n"
                "    prefix: /api\n"
                "    targets:\n"
                "      - url: ftp://x\n"
                "  - prefix: /b\n"
                "    targets: [http://h:1]\n",
                "t.yaml:2:10: workers: expected an integer, got \"lots\"\n"
                "t.yaml:3:1: timeoutz: unknown key \"timeoutz\" (did you mean \"timeouts\"?)\n"
                "t.yaml:8:14: services[0].targets[0].url: \"ftp://x\": not a URL (expected "
                "http://host:port or https://host:port)\n"
                "t.yaml:9:5: services[1].name: required key \"name\" is missing\n");
    /* true/false are booleans, 'true' a string: the schema says which it wanted. */
    yaml_errors("workers: true\n", "t.yaml:1:10: workers: expected an integer, got a boolean\n");
    yaml_errors("- 1\n", "t.yaml:1:1: the top-level value must be an object, got an array\n");
}

static void test_yaml_syntax_and_model_errors(void **state)
{
    (void)state;
    yaml_errors("a: [1, 2\n", "t.yaml:2:1: YAML: did not find expected ',' or ']' while "
                              "parsing a flow sequence\n");
    yaml_errors("workers: 1\nworkers: 2\n", "t.yaml:2:1: YAML: duplicate key \"workers\"\n");
    yaml_errors("a: 1\n---\nb: 2\n",
                "t.yaml:2:1: YAML: a config file holds one document, this is a second\n");
    yaml_errors("", "t.yaml:1:1: YAML: the file holds no document\n");
    yaml_errors("workers: !!int 3\n",
                "t.yaml:1:10: YAML: tag tag:yaml.org,2002:int is not supported (only !!str)\n");
    yaml_errors("? [a]\n: 1\n", "t.yaml:1:3: YAML: a key must be a string\n");
    yaml_errors("base: &b {x: 1}\nother:\n  <<: *b\n",
                "t.yaml:3:3: YAML: merge keys (<<) are not supported\n");
    yaml_errors("workers: *nope\n", "t.yaml:1:10: YAML: unknown alias *nope\n");
    yaml_errors("workers: .inf\n",
                "t.yaml:1:10: YAML: .inf: infinities and NaN have no JSON value\n");
}

static void test_yaml_tagged_strings_and_anchors(void **state)
{
    (void)state;
    struct gw_config *cfg = yaml_ok("log: {level: !!str info}\n"
                                    "services:\n"
                                    "  - name: a\n"
                                    "    prefix: /a\n"
                                    "    targets: &pool [http://h:1, http://h:2]\n"
                                    "  - name: b\n"
                                    "    prefix: /b\n"
                                    "    targets: *pool\n");
    assert_int_equal(cfg->nservices, 2);
    assert_int_equal(cfg->services[1].ntargets, 2);
    assert_int_equal(cfg->services[1].targets[1].port, 2);
    gw_config_free(cfg);
}

/* "Billion laughs": each level doubles what the aliases stand for. */
static void test_yaml_alias_expansion_is_capped(void **state)
{
    (void)state;
    char text[4096];
    size_t o = (size_t)snprintf(text, sizeof text, "a0: &a0 [x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 12; i++)
        o += (size_t)snprintf(text + o, sizeof text - o,
                              "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i,
                              i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    struct gw_config *cfg = NULL;
    char *printed = NULL;
    assert_int_equal(load_yaml(text, &cfg, &printed), GW_ECONFIG);
    assert_non_null(strstr(printed, "more than 200000 values once aliases are expanded"));
    free(printed);

    o = 0;
    for (int i = 0; i < 70; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "[");
    text[o] = '\0';
    assert_int_equal(load_yaml(text, &cfg, &printed), GW_ECONFIG);
    assert_non_null(strstr(printed, "nested deeper than 64 levels"));
    free(printed);
}

static char *write_yaml(const json_t *root)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    assert_non_null(f);
    assert_int_equal(gw_config_write_yaml(root, f), 0);
    fclose(f);
    return buf;
}

static void test_yaml_writer_round_trips(void **state)
{
    (void)state;
    const char *json = "{\"s\": [\"true\", \"8080\", \"\", \"null\", \"a: b\", \"#x\", \"- y\", "
                       "\"line\\nbreak\", \"\\u00e9t\\u00e9\", \"0x10\", \"10s\"],"
                       " \"n\": [1, -2, 2.5, 1.0, 1e+300, true, false, null],"
                       " \"o\": {}, \"a\": [], \"k\": {\"123\": 1, \"yes\": {\"z\": [[1]]}}}";
    json_error_t jerr;
    json_t *root = json_loads(json, 0, &jerr);
    assert_non_null(root);
    char *yaml = write_yaml(root);
    struct gw__pos_index idx = {0};
    json_t *back = NULL;
    int line = 0;
    int col = 0;
    char why[256];
    int rc = gw__yaml_parse(yaml, strlen(yaml), &back, &idx, &line, &col, why, sizeof why);
    if (rc != 0 || !json_equal(root, back))
        fprintf(stderr, "YAML written:\n%s\n", yaml);
    assert_int_equal(rc, 0);
    assert_true(json_equal(root, back));
    /* Strings that only look like other types are quoted; plain ones are not. */
    assert_non_null(strstr(yaml, "'true'"));
    assert_non_null(strstr(yaml, "'8080'"));
    assert_non_null(strstr(yaml, "- 10s\n"));
    gw__pos_index_free(&idx);
    json_decref(back);
    json_decref(root);
    free(yaml);
}

static void test_read_tree_for_convert(void **state)
{
    (void)state;
    char path[] = "/tmp/gw-yaml-XXXXXX.yml";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    const char *text = "listen: ${PORT:-1}\nworkers: [\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    json_t *tree = NULL;
    struct gw_config_errors errs;
    assert_int_equal(gw_config_read_tree(path, &tree, &errs), GW_ECONFIG);
    assert_null(tree);
    assert_int_equal(errs.count, 1);
    assert_int_equal(errs.items[0].line, 3);
    gw_config_errors_free(&errs);
    FILE *f = fopen(path, "w");
    fputs("listen: ${PORT:-1}\nextra: [1]\n", f);
    fclose(f);
    assert_int_equal(gw_config_read_tree(path, &tree, &errs), 0);
    /* Syntax only: unknown keys and ${...} stay as written. */
    assert_string_equal(json_string_value(json_object_get(tree, "listen")), "${PORT:-1}");
    assert_non_null(json_object_get(tree, "extra"));
    json_decref(tree);
    unlink(path);
    assert_true(gw_config_is_yaml("a.YAML"));
    assert_true(gw_config_is_yaml("a.yml"));
    assert_false(gw_config_is_yaml("a.json"));
    assert_false(gw_config_is_yaml("yaml"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_example_matches_json_example),
        cmocka_unit_test(test_yaml_scalars_resolve_like_json),
        cmocka_unit_test(test_yaml_schema_errors_have_positions),
        cmocka_unit_test(test_yaml_syntax_and_model_errors),
        cmocka_unit_test(test_yaml_tagged_strings_and_anchors),
        cmocka_unit_test(test_yaml_alias_expansion_is_capped),
        cmocka_unit_test(test_yaml_writer_round_trips),
        cmocka_unit_test(test_read_tree_for_convert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
