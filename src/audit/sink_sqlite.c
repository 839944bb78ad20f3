/*
 * The SQLite sink: the embedded store of the audit log, and what GET /api/audit reads when it
 * is configured. WAL mode (readers never block the writer), one prepared insert, migrations
 * numbered in table gantry_migrations (one row per applied step). Control thread only; the
 * writes are synchronous, which the control thread can afford (synchronous=NORMAL: a commit is
 * a WAL append, fsync'd at checkpoints).
 */
#include "audit/internal.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/sqlite_db.h"

struct gw__audit_sqlite {
    sqlite3 *db;
    sqlite3_stmt *insert;
    bool in_tx;
};

/* Each step runs once, in order, inside a transaction with its row in gantry_migrations. */
static const char *const migrations[] = {
    /* 1 */
    "CREATE TABLE audit_log ("
    " seq INTEGER PRIMARY KEY,"
    " time TEXT NOT NULL,"
    " actor_key TEXT,"
    " actor_addr TEXT,"
    " action TEXT NOT NULL,"
    " object TEXT,"
    " entry TEXT NOT NULL,"
    " hash TEXT NOT NULL,"
    " prev TEXT NOT NULL);"
    "CREATE INDEX audit_log_action ON audit_log(action, seq);"
    "CREATE INDEX audit_log_time ON audit_log(time);",
};
#define NMIGRATIONS (sizeof migrations / sizeof migrations[0])

static int exec(sqlite3 *db, const char *sql, const char *what)
{
    return gw_sqlite_exec(db, "audit", sql, what);
}

static void last_entry(sqlite3 *db, uint64_t *seq, char hash[65])
{
    sqlite3_stmt *st = NULL;
    *seq = 0;
    memcpy(hash, GW__AUDIT_ZERO_HASH, 65);
    if (sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *h = sqlite3_column_text(st, 1);
        if (h != NULL && strlen((const char *)h) == 64) {
            *seq = (uint64_t)sqlite3_column_int64(st, 0);
            memcpy(hash, h, 65);
        }
    }
    sqlite3_finalize(st);
}

int gw__audit_sqlite_open(const char *path, struct gw__audit_sqlite **out, uint64_t *seq,
                          char hash[65])
{
    struct gw__audit_sqlite *s = calloc(1, sizeof *s);
    if (s == NULL)
        return GW_ENOMEM;
    if (gw_sqlite_open(path, "audit", migrations, NMIGRATIONS, false, &s->db) < 0)
        goto fail;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT OR IGNORE INTO audit_log (seq, time, actor_key, actor_addr, "
                           "action, object, entry, hash, prev) VALUES (?,?,?,?,?,?,?,?,?)",
                           -1, &s->insert, NULL) != SQLITE_OK) {
        gw_log_error("audit: sqlite: %s", sqlite3_errmsg(s->db));
        goto fail;
    }
    last_entry(s->db, seq, hash);
    *out = s;
    return 0;
fail:
    gw__audit_sqlite_close(s);
    return GW_EINVAL;
}

void gw__audit_sqlite_begin(struct gw__audit_sqlite *db)
{
    if (!db->in_tx && exec(db->db, "BEGIN", "begin") == 0)
        db->in_tx = true;
}

void gw__audit_sqlite_commit(struct gw__audit_sqlite *db)
{
    if (db->in_tx)
        exec(db->db, "COMMIT", "commit");
    db->in_tx = false;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s, size_t n)
{
    if (s == NULL)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, s, (int)n, SQLITE_STATIC);
}

int gw__audit_sqlite_write(struct gw__audit_sqlite *db, const struct gw__audit_line *l)
{
    sqlite3_stmt *st = db->insert;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)l->seq);
    bind_text(st, 2, l->time, l->time ? strlen(l->time) : 0);
    bind_text(st, 3, l->actor_key, l->actor_key ? strlen(l->actor_key) : 0);
    bind_text(st, 4, l->actor_addr, l->actor_addr ? strlen(l->actor_addr) : 0);
    bind_text(st, 5, l->action, strlen(l->action));
    bind_text(st, 6, l->object, l->object ? strlen(l->object) : 0);
    bind_text(st, 7, l->text, l->len);
    bind_text(st, 8, l->hash, 64);
    bind_text(st, 9, l->prev, 64);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        static struct gw_log_limit lim = {.interval_ms = 10000};
        gw_log_limited(&lim, GW_LOG_LEVEL_ERROR, "audit: sqlite: insert of seq %llu: %s",
                       (unsigned long long)l->seq, sqlite3_errmsg(db->db));
        return GW_EINVAL;
    }
    return 0;
}

int gw__audit_sqlite_query(struct gw__audit_sqlite *db, const struct gw_audit_filter *f,
                           json_t *arr, char *why, size_t cap)
{
    /* The cheap filters in SQL (indexed), every filter again in C on the parsed entry: one
     * definition of what matches. */
    sqlite3_stmt *st = NULL;
    const char *sql = "SELECT entry FROM audit_log WHERE seq > ?1"
                      " AND (?2 = '' OR time >= ?2) AND (?3 = '' OR time < ?3)"
                      " ORDER BY seq";
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(why, cap, "sqlite: %s", sqlite3_errmsg(db->db));
        return GW_EINVAL;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)f->cursor);
    sqlite3_bind_text(st, 2, f->since, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, f->until, -1, SQLITE_STATIC);
    int rc;
    int err = 0;
    while (json_array_size(arr) <= f->limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        json_t *e = text ? json_loadb(text, (size_t)n, 0, NULL) : NULL;
        if (e == NULL)
            continue;
        if (gw__audit_matches(f, e) && json_array_append(arr, e) != 0)
            err = GW_ENOMEM;
        json_decref(e);
        if (err)
            break;
    }
    sqlite3_finalize(st);
    return err;
}

void gw__audit_sqlite_close(struct gw__audit_sqlite *db)
{
    if (db == NULL)
        return;
    gw__audit_sqlite_commit(db);
    sqlite3_finalize(db->insert);
    sqlite3_close(db->db);
    free(db);
}
