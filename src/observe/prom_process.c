/*
 * The Prometheus families of the process: build info, CPU, memory, file descriptors, start
 * time, configuration generation and reloads, workers; the trace exporter and the audit log.
 */
#include "audit/audit.h"
#include "control/snapshot-t.h"
#include "core/version.h"
#include "observe/internal.h"
#include "runtime/server-t.h"
#include "trace/exporter.h"

void gw__prom_process(struct gw__prom *o, struct gw_server *s)
{
    struct gw__observe_process p;
    gw__observe_process(&p);
    gw__prom_family(o, "gantry_build_info", "gauge",
                    "Build information: the version label; always 1.");
    gw__prom_sample_u64(o, "gantry_build_info", "version=\"" GANTRY_VERSION "\"", 1);
    gw__prom_family(o, "process_cpu_seconds_total", "counter",
                    "User and system CPU time spent, seconds.");
    gw__prom_sample_double(o, "process_cpu_seconds_total", "", p.cpu_seconds);
    gw__prom_family(o, "process_resident_memory_bytes", "gauge", "Resident memory size, bytes.");
    gw__prom_sample_u64(o, "process_resident_memory_bytes", "", p.rss_bytes);
    gw__prom_family(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size, bytes.");
    gw__prom_sample_u64(o, "process_virtual_memory_bytes", "", p.vsize_bytes);
    gw__prom_family(o, "process_open_fds", "gauge", "Open file descriptors.");
    gw__prom_sample_u64(o, "process_open_fds", "", p.open_fds);
    gw__prom_family(o, "process_max_fds", "gauge", "Limit of open file descriptors.");
    gw__prom_sample_u64(o, "process_max_fds", "", p.max_fds);
    gw__prom_family(o, "process_start_time_seconds", "gauge",
                    "Start time of the process since the Unix epoch, seconds.");
    gw__prom_sample_double(o, "process_start_time_seconds", "", (double)s->started_ms / 1000.0);
    gw__prom_family(
        o, "gantry_config_generation", "gauge",
        "Generation of the running configuration (1 at start, +1 per successful reload).");
    gw__prom_sample_u64(o, "gantry_config_generation", "", s->generation);
    gw__prom_family(o, "gantry_config_reloads_total", "counter",
                    "Configuration reloads, by result.");
    gw__prom_sample_u64(o, "gantry_config_reloads_total", "result=\"ok\"", s->reloads_ok);
    gw__prom_sample_u64(o, "gantry_config_reloads_total", "result=\"failed\"", s->reloads_failed);
    gw__prom_family(o, "gantry_config_reload_duration_seconds_total", "counter",
                    "Time spent in reloads, successful or not, seconds.");
    gw__prom_sample_double(o, "gantry_config_reload_duration_seconds_total", "",
                           s->reload_ms_total / 1e3);
    gw__prom_family(o, "gantry_config_last_reload_duration_seconds", "gauge",
                    "Duration of the last successful reload, seconds.");
    gw__prom_sample_double(o, "gantry_config_last_reload_duration_seconds", "",
                           s->last_reload_ms / 1e3);
    gw__prom_family(o, "gantry_workers", "gauge", "Worker threads.");
    gw__prom_sample_u64(o, "gantry_workers", "", s->nworkers);
}
/* The trace exporter's counters (docs/tracing.md); samples only while tracing is on. Each family
 * is one group, its HELP and TYPE first (text format 0.0.4). */
void gw__prom_tracing(struct gw__prom *o, struct gw_server *s)
{
    struct gw_tracer_stats st;
    bool on = s->snap != NULL && s->snap->cfg->tracing.enabled;
    if (on)
        gw_tracer_stats(s->tracer, &st);
    gw__prom_family(
        o, "gantry_tracing_spans_total", "counter",
        "Spans by outcome: exported (the collector took them), failed (in a batch dropped after "
        "its export failed: not retryable, or retries ran out), dropped (a worker's queue was "
        "full).");
    if (on) {
        gw__prom_sample_u64(o, "gantry_tracing_spans_total", "outcome=\"exported\"", st.exported);
        gw__prom_sample_u64(o, "gantry_tracing_spans_total", "outcome=\"failed\"", st.failed);
        gw__prom_sample_u64(o, "gantry_tracing_spans_total", "outcome=\"dropped\"", st.dropped);
    }
    gw__prom_family(o, "gantry_tracing_queued_traces", "gauge",
                    "Finished requests waiting in the workers' queues for the exporter.");
    if (on)
        gw__prom_sample_u64(o, "gantry_tracing_queued_traces", "", st.queued);
    gw__prom_family(o, "gantry_tracing_exports_total", "counter",
                    "Exports to the collector, by result.");
    if (on) {
        gw__prom_sample_u64(o, "gantry_tracing_exports_total", "result=\"ok\"", st.exports_ok);
        gw__prom_sample_u64(o, "gantry_tracing_exports_total", "result=\"failed\"",
                            st.exports_failed);
    }
    gw__prom_family(o, "gantry_tracing_export_retries_total", "counter",
                    "Exports that sent a batch again after a retryable failure (429, 502, 503, "
                    "504, no connection, a timeout).");
    if (on)
        gw__prom_sample_u64(o, "gantry_tracing_export_retries_total", "", st.exports_retried);
}

/* The audit log (audit/audit.h): only when it is on. */
void gw__prom_audit(struct gw__prom *o)
{
    struct gw_audit_stats st;
    gw_audit_get_stats(&st);
    if (!st.enabled)
        return;
    gw__prom_family(o, "gantry_audit_entries_total", "counter",
                    "Audit entries written (numbered, chained).");
    gw__prom_sample_u64(o, "gantry_audit_entries_total", "", st.entries);
    gw__prom_family(o, "gantry_audit_dropped_total", "counter",
                    "Audit records dropped before they were numbered (the queue was full).");
    gw__prom_sample_u64(o, "gantry_audit_dropped_total", "", st.dropped);
    if (!st.pg_configured)
        return;
    gw__prom_family(o, "gantry_audit_postgres_up", "gauge",
                    "1 when the audit log's PostgreSQL connection is up, 0 when down.");
    gw__prom_sample_u64(o, "gantry_audit_postgres_up", "", st.pg_up);
    gw__prom_family(o, "gantry_audit_postgres_pending", "gauge",
                    "Audit entries waiting for PostgreSQL (held while it is down).");
    gw__prom_sample_u64(o, "gantry_audit_postgres_pending", "", st.pg_pending);
    gw__prom_family(o, "gantry_audit_postgres_written_total", "counter",
                    "Audit entries PostgreSQL acknowledged.");
    gw__prom_sample_u64(o, "gantry_audit_postgres_written_total", "", st.pg_written);
    gw__prom_family(
        o, "gantry_audit_postgres_dropped_total", "counter",
        "Audit entries not written to PostgreSQL (its queue was full, or it refused the row).");
    gw__prom_sample_u64(o, "gantry_audit_postgres_dropped_total", "", st.pg_dropped);
}
