/*
 * Operator tools run as `gantry <subcommand>`: each takes the arguments after its name and
 * returns the process exit status (0 ok, 1 failure, 2 bad usage). They print to stdout and
 * stderr and never start the gateway.
 */
#ifndef GW_CLI_CLI_H
#define GW_CLI_CLI_H

/* `gantry hash-key KEY|-`: prints "sha256:<hex>" and a newline. */
int gw_cli_hash_key(int argc, char **argv);

/* `gantry token ...`: prints a signed JWT and a newline; see its --help. */
int gw_cli_token(int argc, char **argv);

/* `gantry audit verify FILE|-`: checks the hash chain of an audit log; prints a summary, or
 * the first broken entry (line number, seq and why) and exits 1. */
int gw_cli_audit(int argc, char **argv);

/* `gantry register ...`: registers a backend with a running gateway, once or (--daemon) until
 * SIGTERM; see its --help for the flags and exit statuses (0, 1 refused, 2 usage, 3 the
 * gateway unreachable or the deregistration failed). */
int gw_cli_register(int argc, char **argv);

/* `gantry migrate [-c FILE] [--status | --dry-run]`: applies (or lists) the schema migrations of
 * built-in identity's store and prints each version; exits 0 done (--status: nothing pending),
 * 1 the store failed (unreachable, a migration failed, newer than this gantry), 2 usage, config
 * or no identity section, 3 --status with migrations pending. */
int gw_cli_migrate(int argc, char **argv);

#endif
