/*
 * libFuzzer target: arbitrary bytes as a YAML config file. The YAML glue (yaml_read.c: events
 * to the JSON tree, positions, anchors and their expansion cap) and the schema walk over it
 * must never crash, leak or read outside the buffer; a document that parses must also survive
 * the YAML writer and read back as the same tree.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/internal.h"
#include "core/error.h"

static void round_trip(const json_t *tree)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (f == NULL)
        return;
    int rc = gw_config_write_yaml(tree, f);
    fclose(f);
    if (rc == 0) {
        json_t *back = NULL;
        int line = 0;
        int column = 0;
        char why[256];
        if (gw__yaml_parse(buf, n, &back, NULL, &line, &column, why, sizeof why) == 0 &&
            !json_equal(tree, back))
            abort();
        json_decref(back);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    if (text == NULL)
        return 0;
    if (size)
        memcpy(text, data, size);

    struct gw_config *cfg = NULL;
    struct gw_config_errors errs;
    int rc = gw_config_load_string("fuzz.yaml", text, size, &cfg, &errs);
    if (rc == 0) {
        if (cfg == NULL || errs.count != 0)
            abort();
    } else if (rc == GW_ECONFIG) {
        if (cfg != NULL || errs.count == 0)
            abort();
        for (size_t i = 0; i < errs.count; i++) {
            if (errs.items[i].line < 0 || errs.items[i].message == NULL)
                abort();
        }
    }
    gw_config_free(cfg);
    gw_config_errors_free(&errs);

    /* The tree alone, with its index, located along a path that may or may not exist. */
    struct gw__pos_index idx = {0};
    json_t *tree = NULL;
    int line = 0;
    int column = 0;
    char why[256];
    if (gw__yaml_parse(text, size, &tree, &idx, &line, &column, why, sizeof why) == 0) {
        static const struct gw__json_seg path[] = {
            {.key = "services", .key_len = 8}, {.key = NULL, .index = 0},
            {.key = "targets", .key_len = 7},  {.key = NULL, .index = 0},
            {.key = "url", .key_len = 3},
        };
        for (size_t depth = 0; depth <= sizeof path / sizeof path[0]; depth++) {
            size_t r = gw__pos_locate(&idx, tree, path, depth, depth % 2 == 1, &line, &column);
            if (r > depth || line < 1 || column < 1)
                abort();
        }
        round_trip(tree);
    } else if (line < 1 || column < 1) {
        abort();
    }
    json_decref(tree);
    gw__pos_index_free(&idx);
    free(text);
    return 0;
}
