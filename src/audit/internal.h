/*
 * Shared by the files of audit/ and its unit tests only.
 */
#ifndef GW_AUDIT_INTERNAL_H
#define GW_AUDIT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "audit/audit.h"

/* The hash of "no previous entry": the first entry of a new log. */
#define GW__AUDIT_ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

/* ',"hash":"' + 64 hex + '"}' */
#define GW__AUDIT_SUFFIX_LEN 75

/* Longest line the readers accept. */
#define GW__AUDIT_MAX_LINE (1u << 20)

/* A record on its way to the control thread: copies of the caller's strings. */
struct gw__audit_item {
    struct gw__audit_item *next;
    uint64_t time_ms; /* wall clock when recorded */
    int kind;         /* GW__AUDIT_ITEM_* */
    int status;
    char *actor_key, *actor_addr, *actor_via;
    char *action, *object, *before, *after, *detail;
};

enum {
    GW__AUDIT_ITEM_ENTRY = 0,    /* an entry as given */
    GW__AUDIT_ITEM_UNAUTHORIZED, /* a 401: counted, an entry at the threshold */
};

/* One written entry as the sinks get it. */
struct gw__audit_line {
    uint64_t seq;
    const char *time; /* canonical time */
    const char *actor_key, *actor_addr, *action, *object;
    const char *text; /* the whole line, without its newline */
    size_t len;
    char hash[65];
    char prev[65];
};

/* entry.c: the canonical line of item numbered seq after prev, its hash into hash. Returns
 * the line (malloc'd, no newline; *len its length) or NULL when out of memory. */
char *gw__audit_format(const struct gw__audit_item *it, uint64_t seq, const char *time,
                       const char prev[65], char hash[65], size_t *len);

/* entry.c: "2026-12-06T19:00:00.123Z" for ms since the epoch (out: at least 25 bytes). */
void gw__audit_time(uint64_t ms, char *out, size_t cap);

/* entry.c: SHA-256 of p as 64 lowercase hex digits. */
void gw__audit_sha256_hex(const void *p, size_t n, char out[65]);

/* query.c: true when the entry (a parsed line) passes every filter but the cursor. */
bool gw__audit_matches(const struct gw_audit_filter *f, json_t *entry);

/* sink_file.c. The file sink: append-only, reopened by name. */
struct gw__audit_file;
/* Opens (creating, mode 0640) path for appending and reads its last line: *seq and hash get
 * the last entry's (0 and the zero hash for an empty file). 0 or a negative code; a last line
 * that is not an entry is reported in why and the chain restarts from the zero hash. */
int gw__audit_file_open(const char *path, struct gw__audit_file **out, uint64_t *seq,
                        char hash[65]);
int gw__audit_file_write(struct gw__audit_file *f, const struct gw__audit_line *l);
int gw__audit_file_reopen(struct gw__audit_file *f);
void gw__audit_file_close(struct gw__audit_file *f);
const char *gw__audit_file_path(const struct gw__audit_file *f);

/* sink_sqlite.c. WAL mode, migrations in table gantry_migrations, one prepared insert. */
struct gw__audit_sqlite;
int gw__audit_sqlite_open(const char *path, struct gw__audit_sqlite **out, uint64_t *seq,
                          char hash[65]);
/* Entries written between begin and commit share one transaction. */
void gw__audit_sqlite_begin(struct gw__audit_sqlite *db);
int gw__audit_sqlite_write(struct gw__audit_sqlite *db, const struct gw__audit_line *l);
void gw__audit_sqlite_commit(struct gw__audit_sqlite *db);
/* Appends the lines (parsed) of entries with seq > f->cursor matching f to arr, at most
 * f->limit + 1 of them. 0 or GW_EINVAL (why) / GW_ENOMEM. */
int gw__audit_sqlite_query(struct gw__audit_sqlite *db, const struct gw_audit_filter *f,
                           json_t *arr, char *why, size_t cap);
void gw__audit_sqlite_close(struct gw__audit_sqlite *db);

/* query.c: the same over a file. */
int gw__audit_file_query(const char *path, const struct gw_audit_filter *f, json_t *arr, char *why,
                         size_t cap);

/* sink_pg.c. PostgreSQL through libpq's asynchronous API on loop: connects in the background,
 * reconnects with a backoff, holds at most max entries while down (the oldest dropped). */
struct gw__audit_pg;
int gw__audit_pg_start(uv_loop_t *loop, const char *dsn, uint32_t max, struct gw__audit_pg **out);
/* Queues a copy of l. */
void gw__audit_pg_write(struct gw__audit_pg *pg, const struct gw__audit_line *l);
/* Pending count, acknowledged and dropped totals, up. */
void gw__audit_pg_stats(struct gw__audit_pg *pg, struct gw_audit_stats *st);
/* Queues a query (audit.h gw_audit_query_async). */
int gw__audit_pg_query(struct gw__audit_pg *pg, const struct gw_audit_filter *f,
                       gw_audit_query_cb cb, void *arg, char *why, size_t cap);
/* Closes the connection and the handles; entries still queued are counted in the log line. */
void gw__audit_pg_stop(struct gw__audit_pg *pg);

#endif
