/*
 * libFuzzer target: arbitrary bytes as a config file's text. The loader must never crash, leak
 * or read outside the buffer, whatever the bytes; it must either return a config or errors.
 * The JSON locator is also driven directly over the raw (usually invalid) bytes, since the
 * loader only calls it on text jansson accepted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/internal.h"
#include "core/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so ASan sees any read past the end. */
    char *text = malloc(size ? size : 1);
    if (text == NULL)
        return 0;
    if (size)
        memcpy(text, data, size);

    struct gw_config *cfg = NULL;
    struct gw_config_errors errs;
    int rc = gw_config_load_string("fuzz.json", text, size, &cfg, &errs);
    if (rc == 0) {
        if (cfg == NULL || errs.count != 0 || cfg->workers < 1)
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

    static const struct gw__json_seg path[] = {
        {.key = "services", .key_len = 8}, {.key = NULL, .index = 1},
        {.key = "targets", .key_len = 7},  {.key = NULL, .index = 0},
        {.key = "url", .key_len = 3},
    };
    int line;
    int column;
    for (size_t depth = 0; depth <= sizeof path / sizeof path[0]; depth++) {
        size_t r = gw__json_locate(text, size, path, depth, depth % 2 == 1, &line, &column);
        if (r > depth || line < 1 || column < 1)
            abort();
    }
    free(text);
    return 0;
}
