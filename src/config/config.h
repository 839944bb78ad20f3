/*
 * gantry's configuration: one JSON file, loaded and validated completely before use.
 *
 * Contract
 * - gw_config_load reads the file, parses it with jansson (duplicate keys rejected) and checks
 *   every key against the schema (src/config/config_fields.c). The result is either a fully
 *   valid, fully defaulted struct gw_config, or a list of every problem found, each with the
 *   file, the 1-based line and column of the offending value, its key path
 *   ("services[2].targets[0].url") and a message. Nothing is printed, nothing exits.
 * - `${NAME}` in any string value is replaced by the environment variable NAME (`${NAME:-x}`
 *   gives a default, `$$` is a literal `$`); GATEWAY_PORT overrides the listen port.
 * - A loaded config is immutable: readers never write to it. The reference is docs/config.md.
 */
#ifndef GW_CONFIG_CONFIG_H
#define GW_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "config/config-t.h"

struct gw_breaker_conf;
struct gw_retry_conf;

/* Copies svc->breaker into the breaker module's settings (always valid for a loaded config).
 * Whether the breaker is used at all is svc->breaker_enabled. */
void gw_config_breaker_conf(const struct gw_service_conf *svc, struct gw_breaker_conf *out);

/* Copies svc->retries into the retry module's settings (always valid for a loaded config).
 * Whether retries are made at all is svc->retries_enabled. */
void gw_config_retry_conf(const struct gw_service_conf *svc, struct gw_retry_conf *out);

/* The name of an access-log field (enum gw_log_field) as "log.access_fields" and the JSON
 * access log write it ("trace_id"), or NULL past the last. Any thread. */
const char *gw_config_log_field_name(unsigned field);

/* Loads and validates the file at `path`.
 * Returns 0 and stores the config in *out (free it with gw_config_free); or GW_ECONFIG with
 * *out NULL and every problem in *errs (free with gw_config_errors_free); or GW_ENOMEM /
 * GW_EINVAL (null arguments) with *out NULL and *errs possibly partial. *errs is overwritten:
 * it need not be initialized and holds no items on success. Never exits, never prints.
 * Reads the environment (for ${NAME} and GATEWAY_PORT) and the number of online CPUs. */
int gw_config_load(const char *path, struct gw_config **out, struct gw_config_errors *errs);

/* Same from text of `len` bytes (need not be NUL-terminated); `name` stands for the file in
 * messages and becomes cfg->path. For tests, fuzzing and the admin API. */
int gw_config_load_string(const char *name, const char *text, size_t len, struct gw_config **out,
                          struct gw_config_errors *errs);

/* True when name ends in .yaml or .yml (any case): gw_config_load* then reads the text as YAML
 * (the JSON data model in YAML syntax, see docs/config.md "YAML"), with the same schema and
 * errors. Anything else is read as JSON. */
bool gw_config_is_yaml(const char *name);

/* Reads the file at path (JSON or YAML, by gw_config_is_yaml) into a JSON tree without
 * checking it against the schema and without ${NAME} substitution or environment overrides:
 * what `gantry convert` prints. 0 with *out (json_decref it); GW_ECONFIG with the syntax or
 * file error in *errs; GW_ENOMEM; GW_EINVAL for null arguments. */
int gw_config_read_tree(const char *path, struct json_t **out, struct gw_config_errors *errs);

/* Writes root as a YAML document to out: block style, keys in the tree's order, strings quoted
 * exactly when a plain scalar would read as something else. 0, or -EIO when writing failed,
 * GW_ENOMEM. */
int gw_config_write_yaml(const struct json_t *root, FILE *out);

/* Frees a config from gw_config_load*. NULL is ignored. */
void gw_config_free(struct gw_config *cfg);

/* Frees the items of *errs and zeroes it. NULL is ignored. */
void gw_config_errors_free(struct gw_config_errors *errs);

/* Writes each error as "file:line:column: path: message\n" ("file: message\n" for line 0; the
 * "path: " part is left out when the path is empty). */
void gw_config_errors_print(const struct gw_config_errors *errs, FILE *out);

/* Replaces ${NAME}, ${NAME:-default} and $$ in s[0..len). Returns a new NUL-terminated string,
 * or NULL with the reason written to why (why[0] == 0 when out of memory). */
char *gw_config_expand_env(const char *s, size_t len, char *why, size_t why_cap);

#endif
