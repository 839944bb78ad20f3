/* `gantry hash-key`: the sha256:... form of an API key, as the config's consumers hold it. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli/cli.h"
#include "core/error.h"
#include "policy/apikey.h"

static const char usage[] =
    "Usage: gantry hash-key KEY\n"
    "       gantry hash-key -        read the key from one line of stdin\n"
    "\n"
    "Prints sha256:<64 hex digits>, the form an API key takes in the configuration\n"
    "(the key itself is never stored). Prefer '-': a key given as an argument lands in\n"
    "the shell history and is visible to other users in the process list. Keys are\n"
    "1 to 4096 bytes; a trailing newline (LF or CRLF) read from stdin is not part of the key.\n";

/*
 * Reads one line from stdin into buf[0..GW_APIKEY_MAX_LEN + 1) without its LF or CRLF; returns
 * its length, or -1 after printing why not (no input, too long, a NUL byte).
 */
static long read_key_line(char *buf)
{
    size_t n = 0;
    int ch;

    while ((ch = getchar()) != EOF && ch != '\n') {
        if (ch == '\0') {
            fprintf(stderr, "gantry hash-key: the key contains a NUL byte\n");
            return -1;
        }
        /* One byte over the limit is kept: it may be the CR of a CRLF. */
        if (n > GW_APIKEY_MAX_LEN) {
            fprintf(stderr, "gantry hash-key: a key is at most %d bytes\n", GW_APIKEY_MAX_LEN);
            return -1;
        }
        buf[n++] = (char)ch;
    }
    if (ch == EOF && ferror(stdin)) {
        perror("gantry hash-key: stdin");
        return -1;
    }
    if (ch == EOF && n == 0) {
        fprintf(stderr, "gantry hash-key: no key on stdin\n");
        return -1;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return (long)n;
}

int gw_cli_hash_key(int argc, char **argv)
{
    /* The longest key, a CR and a NUL. */
    char line[GW_APIKEY_MAX_LEN + 2];
    char out[GW_APIKEY_HASH_SIZE];
    const char *key;
    size_t len;
    int status = 2;

    if (argc == 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc == 2 && strcmp(argv[0], "--") == 0) {
        argc--;
        argv++;
    } else if (argc == 1 && argv[0][0] == '-' && argv[0][1] != '\0') {
        fprintf(stderr,
                "gantry hash-key: unknown option '%s' (use -- before a key that starts "
                "with '-')\n\n%s",
                argv[0], usage);
        return 2;
    }
    if (argc != 1) {
        fputs(usage, stderr);
        return 2;
    }
    if (strcmp(argv[0], "-") == 0) {
        long n = read_key_line(line);
        if (n < 0)
            goto done;
        key = line;
        len = (size_t)n;
    } else {
        key = argv[0];
        len = strlen(key);
    }
    if (len == 0 || len > GW_APIKEY_MAX_LEN) {
        fprintf(stderr, "gantry hash-key: a key is 1 to %d bytes, this one is %zu\n",
                GW_APIKEY_MAX_LEN, len);
        goto done;
    }
    if (gw_apikey_hash(key, len, out) < 0) {
        fprintf(stderr, "gantry hash-key: hashing failed\n");
        status = 1;
        goto done;
    }
    printf("%s\n", out);
    status = fflush(stdout) == 0 ? 0 : 1;
done:
    OPENSSL_cleanse(line, sizeof(line));
    return status;
}
