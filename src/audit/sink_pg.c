/*
 * The PostgreSQL sink: libpq's asynchronous API on the control thread's loop, never a blocking
 * call. PQconnectStart/PQconnectPoll driven by a uv_poll on PQsocket (the socket may change
 * between PQconnectPoll calls: the poll follows it), then one schema step, then one INSERT at a
 * time with PQsendQueryParams, PQflush while the socket takes it, PQconsumeInput/PQgetResult
 * when it answers.
 *
 * Entries wait in a FIFO bounded by audit.postgres.queue. An entry leaves it only when
 * PostgreSQL acknowledged its INSERT (ON CONFLICT (hash) DO NOTHING: an INSERT that was applied
 * but whose answer was lost is harmless to send again), so a PostgreSQL that goes down loses
 * nothing until the FIFO is full (then new entries are counted as dropped for PostgreSQL: the
 * file and SQLite still have them). One log line per state change (up / down), reconnection
 * with a backoff from 250 ms doubling to 5 s, a connect bounded by 5 s and a query by 10 s.
 *
 * The connection string should name the host by address (host=127.0.0.1 or hostaddr=...):
 * libpq resolves a host name with a blocking getaddrinfo inside PQconnectStart.
 */
#include "audit/internal.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000
#define CONNECT_TIMEOUT_MS 5000
#define QUERY_TIMEOUT_MS 10000

enum pg_state {
    PG_DOWN = 0,   /* waiting for the backoff timer */
    PG_CONNECTING, /* PQconnectPoll */
    PG_SETUP,      /* the schema step is in flight */
    PG_IDLE,       /* up, nothing in flight */
    PG_BUSY,       /* up, the head entry's INSERT is in flight */
    PG_QUERY,      /* up, the head query (GET /api/audit) is in flight */
};

/* A GET /api/audit waiting for its turn on the connection (after the entries queued before
 * it, so that an entry recorded before the query is in its answer). */
struct pg_query {
    struct pg_query *next;
    struct gw_audit_filter f;
    gw_audit_query_cb cb;
    void *arg;
    json_t *rows; /* the parsed entries received */
    json_t *ids;  /* their row ids (the cursor) */
    size_t after; /* entries still to be written before this query is sent */
};

struct pg_entry {
    struct pg_entry *next;
    char seq[24];
    char *values[8]; /* time, actor_key, actor_addr, action, object, entry, hash, prev */
};

struct gw__audit_pg {
    uv_loop_t *loop;
    char *dsn;
    uint32_t max;
    PGconn *conn;
    uv_poll_t *poll; /* on PQsocket(conn); its own allocation, freed by its close callback */
    int poll_fd;
    uv_timer_t timer; /* backoff, connect and query timeouts */
    enum pg_state state;
    int reported; /* -1 nothing logged yet, 0 down, 1 up */
    uint64_t backoff_ms;
    struct pg_entry *head, *tail;
    size_t n;
    uint64_t written;
    uint64_t dropped;
    struct pg_query *qhead, *qtail;
    size_t nq;
    bool stopping;
};

static const char schema_sql[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(727162);" /* two gantry instances migrating at once */
    "CREATE TABLE IF NOT EXISTS gantry_migrations (component text NOT NULL, version integer NOT "
    "NULL, applied timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (component, version));"
    "CREATE TABLE IF NOT EXISTS audit_log (id bigserial PRIMARY KEY, seq bigint NOT NULL, time "
    "timestamptz NOT NULL, actor_key text, actor_addr text, action text NOT NULL, object text, "
    "entry text NOT NULL, hash text NOT NULL UNIQUE, prev text NOT NULL);"
    "CREATE INDEX IF NOT EXISTS audit_log_action ON audit_log (action, id);"
    "CREATE INDEX IF NOT EXISTS audit_log_time ON audit_log (time);"
    "INSERT INTO gantry_migrations (component, version) VALUES ('audit', 1) ON CONFLICT DO "
    "NOTHING;"
    "COMMIT;";

static const char insert_sql[] =
    "INSERT INTO audit_log (seq, time, actor_key, actor_addr, action, object, entry, hash, prev) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (hash) DO NOTHING";

/* The cheap filters and the paging in SQL (indexed by id); gw__audit_matches checks every
 * filter again on the parsed entry, so there is one definition of what matches. The cursor is
 * the row id: entries of several gantry instances share the table, each with its own seq. */
static const char query_sql[] =
    "SELECT id, entry FROM audit_log WHERE id > $1::bigint"
    " AND ($2 = '' OR action = $2) AND ($3 = '' OR starts_with(action, $3))"
    " AND ($4 = '' OR object = $4) AND ($5 = '' OR starts_with(object, $5))"
    " AND ($6 = '' OR actor_key = $6 OR actor_addr = $6)"
    " AND ($7 = '' OR time >= $7::timestamptz) AND ($8 = '' OR time < $8::timestamptz)"
    " ORDER BY id LIMIT $9::integer";

#define MAX_QUERIES 32

static void on_poll(uv_poll_t *h, int status, int events);
static void connect_start(struct gw__audit_pg *pg);

/* Answers and frees q (rc 0: its rows; else why). */
static void query_finish(struct pg_query *q, int rc, const char *why)
{
    json_t *out = NULL;
    if (rc == 0) {
        json_t *next = json_null();
        size_t n = json_array_size(q->rows);
        if (n > q->f.limit) {
            json_array_remove(q->rows, q->f.limit);
            next = json_incref(json_array_get(q->ids, q->f.limit - 1));
        }
        out = json_pack("{s:O, s:o, s:s}", "entries", q->rows, "next_cursor", next, "source",
                        "postgres");
        if (out == NULL)
            rc = GW_ENOMEM;
    }
    q->cb(q->arg, rc, out, rc == GW_ENOMEM ? "out of memory" : why);
    json_decref(q->rows);
    json_decref(q->ids);
    free(q);
}

/* Answers every waiting query with an error (PostgreSQL went down, or gantry stops). */
static void queries_fail(struct gw__audit_pg *pg, const char *why)
{
    char msg[300];
    snprintf(msg, sizeof msg, "postgres: %s", why);
    while (pg->qhead) {
        struct pg_query *q = pg->qhead;
        pg->qhead = q->next;
        pg->nq--;
        query_finish(q, GW_EUPCONNECT, msg);
    }
    pg->qtail = NULL;
}

static void entry_free(struct pg_entry *e)
{
    for (size_t i = 0; i < 8; i++)
        free(e->values[i]);
    free(e);
}

static void on_poll_closed(uv_handle_t *h)
{
    free(h);
}

/* Stops watching the socket (before libpq may close it). */
static void poll_drop(struct gw__audit_pg *pg)
{
    if (pg->poll == NULL)
        return;
    uv_close((uv_handle_t *)pg->poll, on_poll_closed);
    pg->poll = NULL;
    pg->poll_fd = -1;
}

/* Watches PQsocket for events, following a socket that changed. */
static int poll_want(struct gw__audit_pg *pg, int events)
{
    int fd = PQsocket(pg->conn);
    if (fd < 0)
        return GW_EINVAL;
    if (pg->poll != NULL && pg->poll_fd != fd)
        poll_drop(pg);
    if (pg->poll == NULL) {
        uv_poll_t *p = malloc(sizeof *p);
        if (p == NULL)
            return GW_ENOMEM;
        int rc = uv_poll_init(pg->loop, p, fd);
        if (rc < 0) {
            free(p);
            return rc;
        }
        p->data = pg;
        pg->poll = p;
        pg->poll_fd = fd;
    }
    return uv_poll_start(pg->poll, events, on_poll);
}

static void report(struct gw__audit_pg *pg, bool up, const char *why)
{
    if (pg->reported == (up ? 1 : 0))
        return;
    pg->reported = up ? 1 : 0;
    if (up)
        gw_log_info("audit: postgres is up (%zu entr%s to write)", pg->n, pg->n == 1 ? "y" : "ies");
    else
        gw_log_warn("audit: postgres is down (%s): entries wait in a queue of at most %u, the "
                    "other sinks are still written",
                    why, (unsigned)pg->max);
}

static void on_backoff(uv_timer_t *t)
{
    connect_start(t->data);
}

/* The connection failed or was lost: drop it and try again after the backoff. */
static void fail(struct gw__audit_pg *pg, const char *why)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s", why && why[0] ? why : "connection lost");
    for (char *c = msg; *c; c++) /* libpq's messages span lines: keep the log line one */
        if (*c == '\n' || *c == '\t')
            *c = ' ';
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == ' ')
        msg[--n] = '\0';
    poll_drop(pg);
    if (pg->conn) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    pg->state = PG_DOWN;
    report(pg, false, msg);
    queries_fail(pg, msg);
    if (pg->stopping)
        return;
    uv_timer_start(&pg->timer, on_backoff, pg->backoff_ms, 0);
    pg->backoff_ms = pg->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : pg->backoff_ms * 2;
}

static void on_timeout(uv_timer_t *t)
{
    struct gw__audit_pg *pg = t->data;
    fail(pg, pg->state == PG_CONNECTING ? "connect timed out" : "query timed out");
}

/* Flushes what libpq buffered; keeps reading, and writing while something is left. */
static void flush_and_wait(struct gw__audit_pg *pg)
{
    int f = PQflush(pg->conn);
    if (f < 0) {
        fail(pg, PQerrorMessage(pg->conn));
        return;
    }
    if (poll_want(pg, UV_READABLE | (f == 1 ? UV_WRITABLE : 0)) < 0)
        fail(pg, "cannot watch the socket");
}

/* Sends the head query's SELECT. */
static void send_query(struct gw__audit_pg *pg)
{
    struct pg_query *q = pg->qhead;
    const struct gw_audit_filter *f = &q->f;
    char cursor[24], limit[16];
    char exact[3][256], prefix[2][256];
    const char *pat[2] = {f->action, f->object};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(pat[i]);
        bool star = n > 0 && pat[i][n - 1] == '*';
        snprintf(exact[i], sizeof exact[i], "%s", star ? "" : pat[i]);
        snprintf(prefix[i], sizeof prefix[i], "%.*s", star ? (int)(n - 1) : 0, pat[i]);
    }
    snprintf(cursor, sizeof cursor, "%llu", (unsigned long long)f->cursor);
    snprintf(limit, sizeof limit, "%u", f->limit + 1);
    const char *params[9] = {cursor,   exact[0], prefix[0], exact[1], prefix[1],
                             f->actor, f->since, f->until,  limit};
    if (!PQsendQueryParams(pg->conn, query_sql, 9, NULL, params, NULL, NULL, 0)) {
        fail(pg, PQerrorMessage(pg->conn));
        return;
    }
    pg->state = PG_QUERY;
    uv_timer_start(&pg->timer, on_timeout, QUERY_TIMEOUT_MS, 0);
    flush_and_wait(pg);
}

/* The rows of a query's result into the query. */
static void take_rows(struct pg_query *q, const PGresult *res)
{
    for (int r = 0; r < PQntuples(res) && PQnfields(res) == 2; r++) {
        json_t *e = json_loadb(PQgetvalue(res, r, 1), (size_t)PQgetlength(res, r, 1), 0, NULL);
        const char *id = PQgetvalue(res, r, 0);
        if (e != NULL && gw__audit_matches(&q->f, e)) {
            json_array_append(q->rows, e);
            json_array_append_new(q->ids, json_integer(strtoll(id, NULL, 10)));
        }
        json_decref(e);
    }
}

/* Sends the head query when no entry queued before it is left, else the head entry's INSERT,
 * when up and idle. */
static void send_next(struct gw__audit_pg *pg)
{
    if (pg->state != PG_IDLE)
        return;
    if (pg->qhead != NULL && (pg->qhead->after == 0 || pg->head == NULL)) {
        send_query(pg);
        return;
    }
    if (pg->head == NULL)
        return;
    struct pg_entry *e = pg->head;
    const char *params[9] = {e->seq};
    for (size_t i = 0; i < 8; i++)
        params[i + 1] = e->values[i];
    if (!PQsendQueryParams(pg->conn, insert_sql, 9, NULL, params, NULL, NULL, 0)) {
        fail(pg, PQerrorMessage(pg->conn));
        return;
    }
    pg->state = PG_BUSY;
    uv_timer_start(&pg->timer, on_timeout, QUERY_TIMEOUT_MS, 0);
    flush_and_wait(pg);
}

/* A query finished (every result read). ok: each result succeeded. */
static void query_done(struct gw__audit_pg *pg, bool ok, const char *why)
{
    uv_timer_stop(&pg->timer);
    if (pg->state == PG_SETUP) {
        if (!ok) {
            fail(pg, why);
            return;
        }
        pg->state = PG_IDLE;
        pg->backoff_ms = BACKOFF_MIN_MS;
        report(pg, true, NULL);
    } else if (pg->state == PG_BUSY) {
        struct pg_entry *e = pg->head;
        if (ok) {
            pg->written++;
        } else {
            /* The server refused this row (not the connection): retrying would refuse again. */
            static struct gw_log_limit lim = {.interval_ms = 10000};
            gw_log_limited(&lim, GW_LOG_LEVEL_ERROR,
                           "audit: postgres refused entry %s: %s; it is skipped there", e->seq,
                           why);
            pg->dropped++;
        }
        pg->head = e->next;
        if (pg->head == NULL)
            pg->tail = NULL;
        pg->n--;
        entry_free(e);
        for (struct pg_query *q = pg->qhead; q != NULL; q = q->next)
            if (q->after > 0)
                q->after--;
        pg->state = PG_IDLE;
    } else if (pg->state == PG_QUERY) {
        struct pg_query *q = pg->qhead;
        pg->qhead = q->next;
        if (pg->qhead == NULL)
            pg->qtail = NULL;
        pg->nq--;
        pg->state = PG_IDLE;
        char msg[260];
        snprintf(msg, sizeof msg, "postgres: %s", why);
        query_finish(q, ok ? 0 : GW_EINVAL, msg);
    }
    send_next(pg);
}

static void read_results(struct gw__audit_pg *pg)
{
    if (!PQconsumeInput(pg->conn)) {
        fail(pg, PQerrorMessage(pg->conn));
        return;
    }
    bool ok = true;
    char why[200] = "";
    while (!PQisBusy(pg->conn)) {
        PGresult *res = PQgetResult(pg->conn);
        if (res == NULL) {
            if (PQstatus(pg->conn) != CONNECTION_OK) {
                fail(pg, PQerrorMessage(pg->conn));
                return;
            }
            query_done(pg, ok, why);
            return;
        }
        ExecStatusType st = PQresultStatus(res);
        if (pg->state == PG_QUERY && st == PGRES_TUPLES_OK)
            take_rows(pg->qhead, res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            if (ok)
                snprintf(why, sizeof why, "%s", PQresultErrorMessage(res));
            ok = false;
        }
        PQclear(res);
    }
}

static void connected(struct gw__audit_pg *pg)
{
    uv_timer_stop(&pg->timer);
    if (!PQsendQuery(pg->conn, schema_sql)) {
        fail(pg, PQerrorMessage(pg->conn));
        return;
    }
    pg->state = PG_SETUP;
    uv_timer_start(&pg->timer, on_timeout, QUERY_TIMEOUT_MS, 0);
    flush_and_wait(pg);
}

static void connect_step(struct gw__audit_pg *pg)
{
    switch (PQconnectPoll(pg->conn)) {
    case PGRES_POLLING_OK:
        connected(pg);
        return;
    case PGRES_POLLING_READING:
        if (poll_want(pg, UV_READABLE) < 0)
            fail(pg, "cannot watch the socket");
        return;
    case PGRES_POLLING_WRITING:
        if (poll_want(pg, UV_WRITABLE) < 0)
            fail(pg, "cannot watch the socket");
        return;
    default:
        fail(pg, PQerrorMessage(pg->conn));
        return;
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct gw__audit_pg *pg = h->data;
    (void)status; /* an error on the socket: libpq meets it itself in the calls below */
    if (h != pg->poll)
        return;
    switch (pg->state) {
    case PG_CONNECTING:
        connect_step(pg);
        return;
    case PG_SETUP:
    case PG_BUSY:
    case PG_QUERY:
        if ((events & UV_WRITABLE) || status < 0) {
            flush_and_wait(pg);
            if (pg->state == PG_DOWN)
                return;
        }
        read_results(pg);
        return;
    case PG_IDLE:
        /* Nothing asked: a notice, or the server closing the connection. */
        if (!PQconsumeInput(pg->conn) || PQstatus(pg->conn) != CONNECTION_OK)
            fail(pg, PQerrorMessage(pg->conn));
        return;
    case PG_DOWN:
        return;
    }
}

static void connect_start(struct gw__audit_pg *pg)
{
    pg->conn = PQconnectStart(pg->dsn);
    if (pg->conn == NULL) {
        fail(pg, "out of memory");
        return;
    }
    if (PQstatus(pg->conn) == CONNECTION_BAD) {
        fail(pg, PQerrorMessage(pg->conn));
        return;
    }
    if (PQsetnonblocking(pg->conn, 1) != 0) {
        fail(pg, PQerrorMessage(pg->conn));
        return;
    }
    pg->state = PG_CONNECTING;
    uv_timer_start(&pg->timer, on_timeout, CONNECT_TIMEOUT_MS, 0);
    /* libpq: after PQconnectStart, act as if PQconnectPoll had answered PGRES_POLLING_WRITING. */
    if (poll_want(pg, UV_WRITABLE) < 0)
        fail(pg, "cannot watch the socket");
}

int gw__audit_pg_start(uv_loop_t *loop, const char *dsn, uint32_t max, struct gw__audit_pg **out)
{
    struct gw__audit_pg *pg = calloc(1, sizeof *pg);
    if (pg == NULL || (pg->dsn = strdup(dsn)) == NULL) {
        free(pg);
        return GW_ENOMEM;
    }
    pg->loop = loop;
    pg->max = max;
    pg->poll_fd = -1;
    pg->reported = -1;
    pg->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_init(loop, &pg->timer);
    pg->timer.data = pg;
    /* From the loop, so start-up never waits for PostgreSQL. */
    uv_timer_start(&pg->timer, on_backoff, 0, 0);
    *out = pg;
    return 0;
}

void gw__audit_pg_write(struct gw__audit_pg *pg, const struct gw__audit_line *l)
{
    if (pg->n >= pg->max) {
        static struct gw_log_limit lim = {.interval_ms = 10000};
        pg->dropped++;
        gw_log_limited(&lim, GW_LOG_LEVEL_WARN,
                       "audit: the postgres queue is full (%u entries): entry %llu is not "
                       "written to postgres",
                       (unsigned)pg->max, (unsigned long long)l->seq);
        return;
    }
    struct pg_entry *e = calloc(1, sizeof *e);
    if (e == NULL) {
        pg->dropped++;
        return;
    }
    snprintf(e->seq, sizeof e->seq, "%llu", (unsigned long long)l->seq);
    const char *src[8] = {l->time,   l->actor_key, l->actor_addr, l->action,
                          l->object, NULL,         l->hash,       l->prev};
    bool ok = true;
    for (size_t i = 0; i < 8; i++) {
        if (i == 5) {
            e->values[i] = strndup(l->text, l->len);
            ok = ok && e->values[i] != NULL;
        } else if (src[i] != NULL) {
            e->values[i] = strdup(src[i]);
            ok = ok && e->values[i] != NULL;
        }
    }
    if (!ok) {
        entry_free(e);
        pg->dropped++;
        return;
    }
    if (pg->tail)
        pg->tail->next = e;
    else
        pg->head = e;
    pg->tail = e;
    pg->n++;
    send_next(pg);
}

void gw__audit_pg_stats(struct gw__audit_pg *pg, struct gw_audit_stats *st)
{
    st->pg_configured = true;
    st->pg_up = pg->state >= PG_IDLE;
    st->pg_pending = pg->n;
    st->pg_written = pg->written;
    st->pg_dropped = pg->dropped;
}

int gw__audit_pg_query(struct gw__audit_pg *pg, const struct gw_audit_filter *f,
                       gw_audit_query_cb cb, void *arg, char *why, size_t cap)
{
    if (pg->state < PG_IDLE) {
        snprintf(why, cap, "postgres is down: the audit log cannot be read now");
        return GW_EUPCONNECT;
    }
    if (pg->nq >= MAX_QUERIES) {
        snprintf(why, cap, "too many audit queries waiting for postgres (at most %d)", MAX_QUERIES);
        return GW_EUPCONNECT;
    }
    struct pg_query *q = calloc(1, sizeof *q);
    if (q == NULL || (q->rows = json_array()) == NULL || (q->ids = json_array()) == NULL) {
        if (q)
            json_decref(q->rows);
        free(q);
        return GW_ENOMEM;
    }
    q->f = *f;
    q->cb = cb;
    q->arg = arg;
    q->after = pg->n;
    if (pg->qtail)
        pg->qtail->next = q;
    else
        pg->qhead = q;
    pg->qtail = q;
    pg->nq++;
    send_next(pg);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

void gw__audit_pg_stop(struct gw__audit_pg *pg)
{
    if (pg == NULL)
        return;
    pg->stopping = true;
    queries_fail(pg, "gantry is stopping");
    poll_drop(pg);
    if (pg->conn)
        PQfinish(pg->conn);
    pg->conn = NULL;
    if (pg->n > 0)
        gw_log_warn("audit: %zu entr%s not written to postgres at exit (the other sinks have "
                    "them)",
                    pg->n, pg->n == 1 ? "y was" : "ies were");
    while (pg->head) {
        struct pg_entry *e = pg->head;
        pg->head = e->next;
        entry_free(e);
    }
    free(pg->dsn);
    uv_timer_stop(&pg->timer);
    uv_close((uv_handle_t *)&pg->timer, on_timer_closed);
}
