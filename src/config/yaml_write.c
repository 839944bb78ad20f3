/*
 * `gantry convert` to YAML: a JSON tree written as a YAML document with libyaml's emitter.
 * Strings that would read back as another type ("true", "8080", "null", "") are quoted, so
 * the YAML file converts back to the same JSON.
 */
#include "config/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "core/error.h"

static bool emit(yaml_emitter_t *e, yaml_event_t *ev, bool made)
{
    /* yaml_emitter_emit takes the event, whether it succeeds or not. */
    return made && yaml_emitter_emit(e, ev);
}

static bool emit_scalar(yaml_emitter_t *e, const char *s, size_t n, bool as_string)
{
    yaml_event_t ev;
    /* A string is written plain only when it reads back as a string; else quoted. */
    int plain_ok = !as_string || gw__yaml_resolve(s, n, NULL, NULL) == GW__YAML_STRING;
    return emit(e, &ev,
                yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)n, plain_ok, 1,
                                             YAML_ANY_SCALAR_STYLE));
}

static bool emit_value(yaml_emitter_t *e, const json_t *v, unsigned depth)
{
    yaml_event_t ev;
    char num[64];
    if (depth > 256)
        return false;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *member;
        if (!emit(
                e, &ev,
                yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE)))
            return false;
        json_object_foreach((json_t *)v, key, member)
        {
            if (!emit_scalar(e, key, strlen(key), true) || !emit_value(e, member, depth + 1))
                return false;
        }
        return emit(e, &ev, yaml_mapping_end_event_initialize(&ev));
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *item;
        if (!emit(e, &ev,
                  yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                       YAML_BLOCK_SEQUENCE_STYLE)))
            return false;
        json_array_foreach((json_t *)v, i, item)
        {
            if (!emit_value(e, item, depth + 1))
                return false;
        }
        return emit(e, &ev, yaml_sequence_end_event_initialize(&ev));
    }
    case JSON_STRING:
        return emit_scalar(e, json_string_value(v), json_string_length(v), true);
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return emit_scalar(e, num, strlen(num), false);
    case JSON_REAL:
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        if (strpbrk(num, ".e") == NULL)
            strcat(num, ".0"); /* 1.0 stays a number with a fraction, as JSON wrote it */
        return emit_scalar(e, num, strlen(num), false);
    case JSON_TRUE:
        return emit_scalar(e, "true", 4, false);
    case JSON_FALSE:
        return emit_scalar(e, "false", 5, false);
    case JSON_NULL:
        return emit_scalar(e, "null", 4, false);
    }
    return false;
}

int gw_config_write_yaml(const json_t *root, FILE *out)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    if (!yaml_emitter_initialize(&e))
        return GW_ENOMEM;
    yaml_emitter_set_output_file(&e, out);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1);
    yaml_emitter_set_indent(&e, 2);
    bool ok = emit(&e, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING)) &&
              emit(&e, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1)) &&
              emit_value(&e, root, 0) &&
              emit(&e, &ev, yaml_document_end_event_initialize(&ev, 1)) &&
              emit(&e, &ev, yaml_stream_end_event_initialize(&ev)) && yaml_emitter_flush(&e);
    int rc = ok ? 0 : e.error == YAML_MEMORY_ERROR ? GW_ENOMEM : -EIO;
    yaml_emitter_delete(&e);
    return rc;
}
