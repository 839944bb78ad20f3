/*
 * Per-target state shared by every worker and kept across config reloads: the verdict of the
 * active health checks and the passive outlier detection (ejections).
 *
 * Identity: a target is its "host:port" key (struct gw_target.key). The control thread keeps
 * one registry; each snapshot it builds takes a reference (gw_target_state_get) to the state
 * of each of its targets, so a target that stays in the config across a reload keeps its
 * state. A state lives while something references it: when the last snapshot (or health
 * check) holding it lets go, the next get or sweep on the control thread frees it, and a
 * target added again later starts fresh.
 *
 * Threads: the registry (get, sweep, free) belongs to the control thread. unref may be called
 * from any thread. The hot-path calls (usable, record, ejected, health) are lock-free and
 * may run on any worker at the same time: every field is one atomic word, and an ejection is
 * claimed with one CAS, so two workers that see the same run of failures eject once.
 *
 * Time is passed in (`now_ms`, any monotonic millisecond clock such as uv_now(), the same one
 * for every call), so there is no clock read inside and tests are deterministic.
 * See docs/health.md.
 */
#ifndef GW_UPSTREAM_TARGET_STATE_H
#define GW_UPSTREAM_TARGET_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_target_registry;
struct gw_target_state;

/* The verdict of the active health checks. UNKNOWN (never checked, or checks off) counts as
 * usable. */
enum gw_health {
    GW_HEALTH_UNKNOWN = 0,
    GW_HEALTH_UP,
    GW_HEALTH_DOWN,
};

/* Outlier detection settings: the fields of a service's "outlier_detection" (config/config.h).
 * Only call gw_target_state_record when the section is enabled. */
struct gw_outlier_params {
    uint32_t consecutive_failures; /** failures in a row that eject, >= 1 */
    uint64_t base_ejection_ms;     /** first ejection */
    uint64_t max_ejection_ms;      /** longest ejection, >= base_ejection_ms */
    uint32_t max_ejection_percent; /** 0..100 */
};

/* A consistent-enough copy for status pages and tests (each field is read atomically, the set
 * is not one cut). */
struct gw_target_state_info {
    enum gw_health health;
    uint64_t health_since_ms;  /** when health last changed; else when the state was created */
    uint64_t ejected_until_ms; /** 0: never ejected; ejected while now_ms < this */
    uint64_t ejected_at_ms;    /** when the last ejection began; 0: never ejected */
    uint32_t times_ejected;    /** ejections in the current run (see record's contract) */
    uint32_t consecutive_failures;
};

/* Control thread. A new, empty registry, or NULL when out of memory. */
struct gw_target_registry *gw_target_registry_new(void);

/* Control thread. Frees the registry. States still referenced (by a snapshot that a worker
 * has not released yet) stay valid and are freed by their last gw_target_state_unref. NULL is
 * ignored. */
void gw_target_registry_free(struct gw_target_registry *r);

/* Control thread. The state of target `key` ("host:port"), with one reference for the caller;
 * created (UNKNOWN since now_ms, never ejected) when absent or when its previous holders all
 * let go. NULL when out of memory. Also sweeps unreferenced states, a bounded amount per call. */
struct gw_target_state *gw_target_state_get(struct gw_target_registry *r, const char *key,
                                            uint64_t now_ms);

/* Control thread. Frees every state no one references any more. */
void gw_target_registry_sweep(struct gw_target_registry *r);

/* Control thread. States in the registry, referenced or not yet swept (for tests). */
size_t gw_target_registry_count(const struct gw_target_registry *r);

/* Any thread. Takes one more reference (s must already hold one). */
void gw_target_state_ref(struct gw_target_state *s);

/* Any thread. Drops one reference; NULL is ignored. The memory goes when the registry sweeps
 * it (or at once when the registry is already gone). */
void gw_target_state_unref(struct gw_target_state *s);

/* Any thread. The key the state was created with. */
const char *gw_target_state_key(const struct gw_target_state *s);

/* Any thread, lock-free. True when the active checks do not say DOWN and the target is not
 * ejected at now_ms. */
bool gw_target_state_usable(const struct gw_target_state *s, uint64_t now_ms);

/* Any thread, lock-free. Records the outcome of one try on the target (a connect failure,
 * reset, timeout or 5xx is a failure). Returns true when this call ejected the target.
 *
 * - A success resets the run of consecutive failures. Outcomes that arrive while the target
 *   is ejected (tries that started before) are ignored.
 * - The p->consecutive_failures-th failure in a row ejects for
 *   min(max_ejection_ms, base_ejection_ms * 2^times_ejected), then the run starts again.
 * - times_ejected is forgotten when the target has gone max_ejection_ms since its last
 *   ejection ended without being ejected again.
 * - The cap: `ejected_now` is how many of the service's `total` targets are ejected now
 *   (gw_target_states_ejected). The ejection is made when (ejected_now + 1) * 100 <=
 *   max_ejection_percent * total, or when none is ejected yet and max_ejection_percent > 0;
 *   but never when it would leave no target un-ejected (total < 2 never ejects). A refused
 *   ejection keeps the failure run, so the next failure asks again. */
bool gw_target_state_record(struct gw_target_state *s, uint64_t now_ms, bool failure,
                            const struct gw_outlier_params *p, unsigned ejected_now,
                            unsigned total);

/* The cap rule of gw_target_state_record, alone (for tests and docs). */
bool gw_target_state_may_eject(unsigned ejected_now, unsigned total, uint32_t max_percent);

/* Any thread, lock-free. How many of states[0..n) are ejected at now_ms (NULL entries are
 * skipped). */
unsigned gw_target_states_ejected(struct gw_target_state *const *states, size_t n, uint64_t now_ms);

/* Any thread (written by the control thread's health checker). A change of verdict records
 * now_ms as the time the new one holds since. */
void gw_target_state_set_health(struct gw_target_state *s, enum gw_health h, uint64_t now_ms);
enum gw_health gw_target_state_health(const struct gw_target_state *s);

/* Any thread. Fills *out. */
void gw_target_state_info(const struct gw_target_state *s, struct gw_target_state_info *out);

#endif
