/* gantry: subcommand dispatch, nothing else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin/admin.h"
#include "cli/cli.h"
#include "config/config.h"
#include "core/version.h"
#include "runtime/server.h"
#include "tls/tls.h"

static const char usage[] =
    "Usage:\n"
    "  gantry [-c FILE]          run the gateway (default config: ./gantry.json);\n"
    "                            FILE is JSON, or YAML when it ends in .yaml or .yml\n"
    "  gantry run [-c FILE]      same\n"
    "  gantry check FILE         validate FILE (JSON or YAML), print every error, exit 1 if any;\n"
    "                            TLS certificates: key match, chain order, and a\n"
    "                            warning when one expires within 30 days\n"
    "  gantry convert FILE       print FILE as YAML when it is JSON, as JSON when it is YAML\n"
    "                            (syntax only: run check for the schema; ${NAME} kept as is)\n"
    "  gantry version            print the version\n"
    "  gantry hash-key KEY|-     print the sha256:... hash of API key KEY for the config;\n"
    "                            '-' reads the key from one line of stdin, keeping it out\n"
    "                            of the shell history and the process list\n"
    "  gantry token --secret-env NAME --sub ID [--role R]... [options]\n"
    "                            print an HMAC-signed JWT for testing (see gantry token --help)\n"
    "  gantry audit verify FILE|-  check the hash chain of an audit log (audit.file); prints\n"
    "                            the first broken entry and exits 1 if there is one\n"
    "  gantry register --name NAME --prefix PREFIX --registry-url URL\n"
    "                 (--backend-url URL | --backend-port PORT) [--daemon] [options]\n"
    "                            register a backend with a running gateway (http:// or\n"
    "                            https:// verified, --ca-file); --daemon renews it, retries\n"
    "                            while the gateway is down and deregisters on SIGTERM;\n"
    "                            --encryption-key seals the backend token before it is sent\n"
    "                            (see gantry register --help)\n"
    "  gantry migrate [-c FILE] [--status | --dry-run]\n"
    "                            apply the pending schema migrations of the identity store\n"
    "                            (identity.sqlite, or PostgreSQL: identity.postgres.dsn or\n"
    "                            DATABASE_URL) and exit; --status lists applied and pending\n"
    "                            versions (exit 3 when one is pending), --dry-run what would\n"
    "                            be applied; exit 1 when the store fails (see gantry migrate\n"
    "                            --help)\n"
    "  gantry --help             this text\n"
    "\n"
    "Signals: SIGHUP reloads the config file and the TLS certificates; SIGUSR1 reopens\n"
    "the log files and the audit log file (logrotate); SIGTERM or SIGINT drain (finish\n"
    "requests in flight) and exit; a second one closes every connection at once.\n"
    "Environment: GATEWAY_PORT (listen port), LOG_LEVEL (log.level), REDIS_URL\n"
    "(rate_limit.redis.url), JWT_SECRET (auth.jwt.keys[0].secret), ADMIN_API_KEY\n"
    "(admin.api_key), DATABASE_URL (audit.postgres.dsn, with an audit section, and\n"
    "identity.postgres.dsn with identity.store postgres) override\n"
    "the file when set and not empty.\n"
    "${NAME} in config strings is replaced by the environment variable NAME.\n"
    "Config reference: docs/config.md\n";

static int load(const char *path, struct gw_config **cfg)
{
    struct gw_config_errors errs = {0};
    int rc = gw_config_load(path, cfg, &errs);
    if (rc < 0) {
        gw_config_errors_print(&errs, stderr);
        fprintf(stderr, "%s: %zu error%s\n", path, errs.count, errs.count == 1 ? "" : "s");
        gw_config_errors_free(&errs);
        return 1;
    }
    gw_config_errors_free(&errs);
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    struct gw_config *cfg = NULL;
    if (argc != 1) {
        fprintf(stderr, "usage: gantry check FILE\n");
        return 2;
    }
    if (load(argv[0], &cfg) != 0)
        return 1;
    /* Certificates were checked by the loader (key, chain order); expiry only warns. */
    gw_tls_report_expiry(&cfg->tls, GW_TLS_EXPIRY_WARN_DAYS, stdout);
    printf("%s: ok (%zu service%s)\n", argv[0], cfg->nservices, cfg->nservices == 1 ? "" : "s");
    gw_config_free(cfg);
    return 0;
}

static int cmd_convert(int argc, char **argv)
{
    struct gw_config_errors errs = {0};
    json_t *tree = NULL;
    if (argc != 1) {
        fprintf(stderr, "usage: gantry convert FILE\n");
        return 2;
    }
    if (gw_config_read_tree(argv[0], &tree, &errs) < 0) {
        gw_config_errors_print(&errs, stderr);
        gw_config_errors_free(&errs);
        return 1;
    }
    int rc = 0;
    if (gw_config_is_yaml(argv[0])) {
        rc = json_dumpf(tree, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 ? 0 : -1;
        if (rc == 0)
            fputc('\n', stdout);
    } else {
        rc = gw_config_write_yaml(tree, stdout);
    }
    json_decref(tree);
    if (rc < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "gantry convert: cannot write the output\n");
        return 1;
    }
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    const char *path = "gantry.json";
    struct gw_config *cfg = NULL;
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else {
            fprintf(stderr, "gantry: unknown argument '%s'\n\n%s", argv[i], usage);
            return 2;
        }
    }
    if (load(path, &cfg) != 0)
        return 1;
    return gw_server_run(cfg, path, &gw_admin_service);
}

int main(int argc, char **argv)
{
    if (argc >= 2) {
        const char *cmd = argv[1];
        if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
            printf("gantry %s\n", GANTRY_VERSION);
            return 0;
        }
        if (strcmp(cmd, "check") == 0)
            return cmd_check(argc - 2, argv + 2);
        if (strcmp(cmd, "convert") == 0)
            return cmd_convert(argc - 2, argv + 2);
        if (strcmp(cmd, "run") == 0)
            return cmd_run(argc - 2, argv + 2);
        if (strcmp(cmd, "hash-key") == 0)
            return gw_cli_hash_key(argc - 2, argv + 2);
        if (strcmp(cmd, "token") == 0)
            return gw_cli_token(argc - 2, argv + 2);
        if (strcmp(cmd, "audit") == 0)
            return gw_cli_audit(argc - 2, argv + 2);
        if (strcmp(cmd, "register") == 0)
            return gw_cli_register(argc - 2, argv + 2);
        if (strcmp(cmd, "migrate") == 0)
            return gw_cli_migrate(argc - 2, argv + 2);
    }
    return cmd_run(argc - 1, argv + 1);
}
