/*
 * The audit log: who changed what, and which authentication events matter, as a hash-chained
 * list of JSON lines (docs/internals.md "Audit log", README "Audit log").
 *
 * One process-wide log. Any thread records; the control thread writes. A worker's record is a
 * malloc and a push on a bounded queue under a mutex, then a uv_async_send: it never waits for
 * a disk or a database. The control thread numbers each entry, chains it to the previous one
 * with SHA-256 and hands the same line to every sink: the file (append-only, reopened on
 * SIGUSR1), SQLite (embedded) and PostgreSQL (asynchronous, with a bounded backlog while it is
 * down).
 *
 * With no sink configured (no "audit" section) gantry never calls gw_audit_start, and every
 * record function is one relaxed atomic load that answers "off".
 */
#ifndef GW_AUDIT_AUDIT_H
#define GW_AUDIT_AUDIT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config/config-t.h"

/* Who did it. Strings are copied by the record call; any may be NULL (left out). */
struct gw_audit_actor {
    const char *key;  /** the admin key's id ("sha256:" + 12 hex of its digest), a consumer */
    const char *addr; /** the client address */
    const char *via;  /** how: "admin", "signal", "proxy" */
};

/* One record as a caller hands it over. Strings are copied; NULL members are left out. */
struct gw_audit_record {
    const struct gw_audit_actor *actor; /** NULL: the control thread's current actor */
    const char *action;                 /** "service.patch", "config.reload", ... (required) */
    const char *object;                 /** "service:users", "client:10.0.0.7", ... */
    const char *before;                 /** hash of the object before ("sha256:..."), or NULL */
    const char *after;                  /** hash of the object after, or NULL */
    const char *detail;                 /** a JSON object as text (the producer vouches), or NULL */
    int status;                         /** the outcome as an HTTP status; 0: left out */
};

/* The bits of enum gw_audit_event (config-t.h) that are being recorded; 0 when the audit log
 * is off. Any thread, one relaxed load. */
extern atomic_uint gw__audit_events;
static inline bool gw_audit_wants(unsigned event)
{
    return (atomic_load_explicit(&gw__audit_events, memory_order_relaxed) & event) != 0;
}

/* Control thread, before the workers start. Opens the sinks cfg->audit names (the file and
 * SQLite at once, failing start-up when they cannot be opened; PostgreSQL in the background)
 * and continues the chain from the last entry of the file (else of SQLite). 0 or a negative
 * code after logging why. With cfg->audit.enabled false it does nothing and returns 0. */
int gw_audit_start(uv_loop_t *loop, const struct gw_config *cfg);

/* Control thread, after the workers stopped. Writes what is queued, gives PostgreSQL a last
 * chance only for what it can take without waiting, closes the sinks and the handles (the loop
 * must run afterwards for their close callbacks). Entries still waiting for PostgreSQL are
 * logged as lost from PostgreSQL (they are in the file and SQLite). */
void gw_audit_stop(void);

/* Any thread. Queues one entry; on the control thread it is written before the call returns.
 * When the queue is full the record is dropped and counted (gantry_audit_dropped_total). */
void gw_audit_record(const struct gw_audit_record *rec);

/* Control thread. The actor of records made with actor NULL until the next call (NULL: none).
 * The admin API sets it around each request, the SIGHUP handler around its reload, so a reload
 * records who asked for it. The strings must live until the next call. */
void gw_audit_set_actor(const struct gw_audit_actor *actor);

/* Control thread (SIGUSR1): closes and reopens the file by its name, so a rotated file is
 * left to logrotate and a new one starts; the chain continues across files. */
void gw_audit_reopen(void);

/* Any thread: gantry answered 401 to client (an address). After
 * audit.unauthorized.threshold of them within the window, one "auth.unauthorized_repeated"
 * entry is written for that client (and again after the next threshold count). */
void gw_audit_unauthorized(const char *client, const char *path);

/* Any thread: API key consumer authenticated a request from addr. The first use of a
 * (consumer, address) pair since start writes one "auth.apikey_new_address" entry. A lock-free
 * table of 16384 fingerprints remembers the pairs; when its probe window is full an old pair
 * is forgotten (and would be reported again). */
void gw_audit_key_used(const char *consumer, const char *addr);

/* Counters for the metrics endpoints (any thread, relaxed loads). */
struct gw_audit_stats {
    bool enabled;
    uint64_t entries;    /** entries written (numbered and chained) */
    uint64_t dropped;    /** records refused because the queue was full */
    uint64_t pg_written; /** entries PostgreSQL acknowledged */
    uint64_t pg_dropped; /** entries dropped from the PostgreSQL backlog (it was full) */
    uint64_t pg_pending; /** entries waiting for PostgreSQL */
    bool pg_configured;
    bool pg_up;
};
void gw_audit_get_stats(struct gw_audit_stats *st);

/* A GET /api/audit query (audit/query.c). Strings point into the caller's memory. */
struct gw_audit_filter {
    char action[128]; /** exact, or a prefix when it ends in '*'; "" = any */
    char actor[128];  /** matches actor.key or actor.addr exactly; "" = any */
    char object[256]; /** exact, or a prefix when it ends in '*'; "" = any */
    char since[32];   /** entries at or after this time (canonical form); "" = any */
    char until[32];   /** entries before this time; "" = any */
    uint64_t cursor;  /** entries with seq greater than this */
    unsigned limit;   /** at most this many, 1..1000 (default 100) */
};

/* Parses a query string (action, actor, object, since, until, cursor, limit; percent-decoded,
 * times as RFC 3339 UTC or seconds since the epoch) into f. 0, or GW_EINVAL with the reason
 * in why (the parameter named). Pure. */
int gw_audit_filter_parse(const char *query, size_t len, struct gw_audit_filter *f, char *why,
                          size_t cap);

/* Control thread. The entries matching f, oldest first, from SQLite when configured, else
 * from the file: {"entries": [...], "next_cursor": N|null, "source": "sqlite"|"file"}.
 * Returns 0 with *out set, GW_EINVAL when the log has no readable store (no file, no SQLite)
 * or the store fails (why says so), or GW_ENOMEM; 1 (and nothing done) when PostgreSQL is the
 * only store: use gw_audit_query_async. */
int gw_audit_query(const struct gw_audit_filter *f, json_t **out, char *why, size_t cap);

/* The answer of an asynchronous query: rc 0 with out (owned by the callee), or a negative code
 * with why (GW_EUPCONNECT: PostgreSQL went down or gantry stops; GW_EINVAL: it refused the
 * query; GW_ENOMEM). */
typedef void (*gw_audit_query_cb)(void *arg, int rc, json_t *out, const char *why);

/* Control thread. The same query over PostgreSQL (audit.postgres) on the sink's connection,
 * asynchronously: sent after the entries queued before it were written, so an entry recorded
 * before the call is in the answer. {"entries", "next_cursor", "source": "postgres"}; the
 * cursor is PostgreSQL's row id (several gantry instances may share the table, each with its
 * own seq). Returns 0 when cb will be called (usually later, but possibly before this call
 * returns when the connection fails at once; at the latest with an error when gw_audit_stop
 * runs), or a negative code with why and cb never
 * called: GW_EUPCONNECT when PostgreSQL is down or too many queries wait (32), GW_EINVAL when
 * PostgreSQL is not configured, GW_ENOMEM. */
int gw_audit_query_async(const struct gw_audit_filter *f, gw_audit_query_cb cb, void *arg,
                         char *why, size_t cap);

/* The result of checking a file's chain (gantry audit verify). */
struct gw_audit_verify {
    uint64_t entries;     /** lines checked */
    uint64_t first_seq;   /** seq of the first line */
    uint64_t last_seq;    /** seq of the last good line */
    char anchor[65];      /** the first line's prev (the end of the previous file) */
    char last_hash[65];   /** the hash of the last good line */
    uint64_t broken_line; /** 0: intact; else the 1-based line number of the first bad one */
    char why[160];        /** what is wrong with it */
};

/* Streams a JSON-lines audit log: feed bytes in any pieces, then finish. Pure (no I/O). */
struct gw_audit_verifier {
    struct gw_audit_verify result;
    char *line; /* the line being assembled */
    size_t len, cap;
    bool stopped; /* a broken line was found: the rest is ignored */
};
void gw_audit_verifier_init(struct gw_audit_verifier *v);
/* 0, or GW_ENOMEM. A line longer than 1 MiB counts as broken. */
int gw_audit_verifier_feed(struct gw_audit_verifier *v, const char *p, size_t n);
/* Checks a last line without a newline (broken: every entry ends with one) and frees the
 * buffer. The result stays in v->result. */
void gw_audit_verifier_finish(struct gw_audit_verifier *v);

/* Checks one line (without its newline) against the previous hash (NULL for the first line,
 * whose prev is taken as the anchor) and the previous seq (0: any). On success fills hash and
 * *seq and returns true; otherwise false with the reason in why. Pure. */
bool gw_audit_check_line(const char *line, size_t len, const char *prev_hash, uint64_t prev_seq,
                         char hash[65], uint64_t *seq, char *why, size_t cap);

#endif
