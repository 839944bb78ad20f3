/*
 * `gantry migrate [-c FILE] [--status | --dry-run]`: the schema migrations of built-in identity's
 * store (identity.sqlite, or identity.postgres.dsn / DATABASE_URL), applied or listed, then exit
 * (cli.h has the exit statuses). The same migrations, under the same lock, as a start with
 * identity.migrate auto applies: several runs and starts at once apply each version once.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "core/log.h"
#include "identity/identity.h"

static const char help[] =
    "Usage: gantry migrate [-c FILE] [--status | --dry-run]\n"
    "\n"
    "Applies the pending schema migrations of built-in identity's store (the SQLite file\n"
    "identity.sqlite, or the PostgreSQL database identity.postgres.dsn / DATABASE_URL) named by\n"
    "FILE (default ./gantry.json), printing each version with when it was applied, then exits.\n"
    "Safe while gantry runs and when several run at once (the lock a start takes).\n"
    "\n"
    "  -c, --config FILE  the configuration (JSON or YAML)\n"
    "  --status           list applied and pending versions; change nothing\n"
    "  --dry-run          list what would be applied; change nothing\n"
    "\n"
    "Exit status: 0 done (or, with --status, nothing pending); 1 the store cannot be opened or\n"
    "reached, a migration failed, or the database is newer than this gantry; 2 bad usage, an\n"
    "invalid configuration or no identity section; 3 --status found pending migrations.\n";

/* Prints the versions: applied (with when; "now" for this run's), then pending. */
static void list(const struct gw_idp_schema *sc, bool apply, bool dry)
{
    for (size_t v = 1; v <= sc->known; v++) {
        const char *what = sc->what[v - 1] ? sc->what[v - 1] : "";
        if (v <= sc->after)
            printf("  %2zu  applied %-24s  %s%s\n", v, sc->applied[v - 1], what,
                   apply && v > sc->before ? " (now)" : "");
        else
            printf("  %2zu  %-32s  %s\n", v, dry ? "pending (would apply)" : "pending", what);
    }
    for (size_t v = sc->known + 1; v <= sc->after; v++)
        printf("  %2zu  applied %-24s  (unknown to this gantry)\n", v,
               v <= GW_IDP_SCHEMA_MAX ? sc->applied[v - 1] : "");
}

int gw_cli_migrate(int argc, char **argv)
{
    const char *path = "gantry.json";
    bool status = false, dry = false;
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--status") == 0) {
            status = true;
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            dry = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help, stdout);
            return 0;
        } else {
            fprintf(stderr, "gantry migrate: unknown argument '%s'\n\n%s", argv[i], help);
            return 2;
        }
    }
    if (status && dry) {
        fprintf(stderr, "gantry migrate: --status and --dry-run exclude each other\n");
        return 2;
    }
    struct gw_config *cfg = NULL;
    struct gw_config_errors errs = {0};
    if (gw_config_load(path, &cfg, &errs) < 0) {
        gw_config_errors_print(&errs, stderr);
        fprintf(stderr, "%s: %zu error%s\n", path, errs.count, errs.count == 1 ? "" : "s");
        gw_config_errors_free(&errs);
        return 2;
    }
    gw_config_errors_free(&errs);
    int ret = 2;
    const struct gw_identity_conf *ic = &cfg->identity;
    if (!ic->enabled) {
        fprintf(stderr, "gantry migrate: %s has no identity section: no store to migrate\n", path);
        goto done;
    }
    bool apply = !status && !dry;
    struct gw_idp_schema sc;
    int rc = gw_idp_schema(ic, apply, &sc);
    if (ic->store == GW_IDP_STORE_SQLITE)
        printf("identity store: sqlite %s%s\n", ic->sqlite,
               sc.exists ? "" : " (the file does not exist yet)");
    else
        printf("identity store: postgres\n");
    ret = 1;
    if (rc < 0) {
        fprintf(stderr, "gantry migrate: failed (the log line above says why)\n");
        goto done;
    }
    list(&sc, apply, dry);
    size_t pending = sc.after < sc.known ? sc.known - sc.after : 0;
    if (apply && sc.after > sc.before)
        printf("applied %zu migration%s: version %zu -> %zu\n", sc.after - sc.before,
               sc.after - sc.before == 1 ? "" : "s", sc.before, sc.after);
    else if (pending == 0)
        printf("up to date: version %zu\n", sc.after);
    else if (dry)
        printf("would apply %zu migration%s: version %zu -> %zu (nothing changed)\n", pending,
               pending == 1 ? "" : "s", sc.after, sc.known);
    else
        printf("%zu migration%s pending: version %zu -> %zu (run gantry migrate)\n", pending,
               pending == 1 ? "" : "s", sc.after, sc.known);
    ret = status && pending > 0 ? 3 : 0;
done:
    gw_config_free(cfg);
    return ret;
}
