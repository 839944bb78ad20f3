/* `gantry token`: mints an HMAC-signed JWT for trying out and testing JWT-protected routes. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/error.h"
#include "policy/jwt.h"
#include "policy/jwt_sign.h"

static const char usage[] =
    "Usage: gantry token (--secret-env NAME | --secret SECRET) --sub ID [options]\n"
    "\n"
    "Prints a JWT signed with an HMAC secret, for testing routes that require one.\n"
    "\n"
    "  --secret-env NAME    read the secret from environment variable NAME (preferred:\n"
    "                       --secret puts the secret in the shell history and process list)\n"
    "  --secret SECRET      the secret itself; RFC 7518 section 3.2 needs at least\n"
    "                       32 / 48 / 64 bytes for HS256 / HS384 / HS512\n"
    "  --sub ID             the subject (user id), claim \"sub\"\n"
    "  --role R             add a role to the \"roles\" array claim (repeatable); with\n"
    "                       exactly one role, a \"role\" string claim is added too\n"
    "  --permission P       add a permission to the \"permissions\" array (repeatable)\n"
    "  --ttl DURATION       lifetime: 30s, 15m, 1h, 7d or plain seconds (default 1h);\n"
    "                       \"iat\" is now and \"exp\" is now + DURATION\n"
    "  --alg ALG            HS256 (default), HS384 or HS512\n"
    "  --iss ISSUER         claim \"iss\"\n"
    "  --aud AUDIENCE       claim \"aud\"\n"
    "  --kid KID            key id, in the header's \"kid\"\n"
    "  --claim NAME=VALUE   add a string claim (repeatable); NAME:=JSON adds any JSON value.\n"
    "                       Applied last, so it may override the claims above (e.g.\n"
    "                       --claim exp:=1 for an expired token)\n"
    "\n"
    "Options also take the form --name=value. Exit status: 0, 1 on an internal error,\n"
    "2 on bad usage (unknown option, missing value, invalid value, short secret).\n";

/* Longest --ttl: ten years, far below any overflow of the Unix time arithmetic. */
#define TTL_MAX_S (3650 * 86400LL)

struct token_opts {
    const char *secret;
    const char *secret_env;
    const char *sub;
    const char *ttl;
    const char *alg;
    const char *iss;
    const char *aud;
    const char *kid;
    json_t *roles;  /* array of strings */
    json_t *perms;  /* array of strings */
    json_t *claims; /* object: --claim values */
};

static const char *const VALUE_OPTS[] = {
    "--secret", "--secret-env", "--sub", "--role", "--permission", "--ttl",
    "--alg",    "--iss",        "--aud", "--kid",  "--claim",
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints the message and the usage text on stderr; returns the exit status of bad usage. */
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("gantry token: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", usage);
    return 2;
}

static int value_error(const char *what, const char *arg)
{
    fprintf(stderr, "gantry token: %s: '%s'\n", what, arg);
    return 2;
}

/* Parses "30s", "15m", "1h", "7d" or "90" (seconds) into *out; false when invalid. */
static bool parse_duration(const char *s, long long *out)
{
    char *end = NULL;
    unsigned long long v;
    long long mult = 1;

    if (!isdigit((unsigned char)s[0]))
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || v == 0 || v > (unsigned long long)TTL_MAX_S)
        return false;
    if (*end != '\0') {
        switch (*end) {
        case 's':
            mult = 1;
            break;
        case 'm':
            mult = 60;
            break;
        case 'h':
            mult = 3600;
            break;
        case 'd':
            mult = 86400;
            break;
        default:
            return false;
        }
        if (end[1] != '\0')
            return false;
    }
    if ((long long)v > TTL_MAX_S / mult)
        return false;
    *out = (long long)v * mult;
    return true;
}

/* A role or permission must be one non-empty word: the verifier splits lists on spaces. */
static bool word_ok(const char *s)
{
    if (s[0] == '\0')
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* Adds one --claim; returns 0 or an exit status. */
static int add_claim(json_t *claims, const char *arg)
{
    const char *eq = strchr(arg, '=');
    bool raw;
    size_t nlen;
    char name[256];
    json_t *v;
    json_error_t err;

    if (eq == NULL || eq == arg)
        return value_error("--claim needs NAME=VALUE or NAME:=JSON", arg);
    raw = eq[-1] == ':';
    nlen = (size_t)(eq - arg) - (raw ? 1 : 0);
    if (nlen == 0 || nlen >= sizeof(name))
        return value_error("--claim needs a name of 1 to 255 bytes", arg);
    memcpy(name, arg, nlen);
    name[nlen] = '\0';
    if (raw) {
        v = json_loads(eq + 1, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
        if (v == NULL)
            return value_error("--claim NAME:=JSON needs valid JSON after ':='", arg);
    } else {
        v = json_string(eq + 1);
        if (v == NULL)
            return value_error("--claim value is not valid UTF-8", arg);
    }
    if (json_object_set_new(claims, name, v) < 0)
        return 1;
    return 0;
}

/* Records one option's value; returns 0 or an exit status. */
static int set_option(struct token_opts *o, const char *name, const char *val)
{
    struct {
        const char *name;
        const char **slot;
    } single[] = {
        {"--secret", &o->secret}, {"--secret-env", &o->secret_env},
        {"--sub", &o->sub},       {"--ttl", &o->ttl},
        {"--alg", &o->alg},       {"--iss", &o->iss},
        {"--aud", &o->aud},       {"--kid", &o->kid},
    };

    for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
        if (strcmp(name, single[i].name) != 0)
            continue;
        if (*single[i].slot != NULL)
            return usage_error("%s given twice", name);
        *single[i].slot = val;
        return 0;
    }
    if (strcmp(name, "--claim") == 0)
        return add_claim(o->claims, val);
    bool role = strcmp(name, "--role") == 0;
    if (!word_ok(val))
        return value_error(role ? "a role is one word (no spaces or control characters)"
                                : "a permission is one word (no spaces or control characters)",
                           val);
    if (json_array_append_new(role ? o->roles : o->perms, json_string(val)) < 0)
        return value_error("not valid UTF-8", val);
    return 0;
}

/* Parses argv into *o; returns 0, or an exit status (-1 for --help, printed). */
static int parse_args(struct token_opts *o, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        size_t nlen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        const char *name = NULL;
        const char *val;
        int rc;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage, stdout);
            return -1;
        }
        for (size_t k = 0; k < sizeof(VALUE_OPTS) / sizeof(VALUE_OPTS[0]); k++) {
            if (strlen(VALUE_OPTS[k]) == nlen && strncmp(arg, VALUE_OPTS[k], nlen) == 0)
                name = VALUE_OPTS[k];
        }
        if (name == NULL)
            return usage_error("%s '%s'", arg[0] == '-' ? "unknown option" : "unexpected argument",
                               arg);
        if (eq != NULL) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            return usage_error("%s needs a value", name);
        }
        rc = set_option(o, name, val);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Minimum secret length of an HS* algorithm, RFC 7518 section 3.2. */
static size_t min_secret(enum gw_jwt_alg alg)
{
    return alg == GW_JWT_HS512 ? 64 : alg == GW_JWT_HS384 ? 48 : 32;
}

/* Builds the claims; returns the payload object or NULL (out of memory). */
static json_t *build_payload(const struct token_opts *o, long long now, long long ttl)
{
    json_t *p = json_object();
    const char *key;
    json_t *v;
    int bad = 0;

    if (p == NULL)
        return NULL;
    bad |= json_object_set_new(p, "sub", json_string(o->sub));
    if (o->iss != NULL)
        bad |= json_object_set_new(p, "iss", json_string(o->iss));
    if (o->aud != NULL)
        bad |= json_object_set_new(p, "aud", json_string(o->aud));
    bad |= json_object_set_new(p, "iat", json_integer(now));
    bad |= json_object_set_new(p, "exp", json_integer(now + ttl));
    if (json_array_size(o->roles) > 0) {
        bad |= json_object_set(p, "roles", o->roles);
        if (json_array_size(o->roles) == 1)
            bad |= json_object_set(p, "role", json_array_get(o->roles, 0));
    }
    if (json_array_size(o->perms) > 0)
        bad |= json_object_set(p, "permissions", o->perms);
    json_object_foreach(o->claims, key, v)
    {
        bad |= json_object_set(p, key, v);
    }
    if (bad != 0) {
        json_decref(p);
        return NULL;
    }
    return p;
}

/* The secret's bytes, from --secret or the --secret-env variable; NULL after a message. */
static const char *get_secret(const struct token_opts *o)
{
    const char *s;

    if (o->secret != NULL && o->secret_env != NULL) {
        usage_error("%s", "--secret and --secret-env exclude each other");
        return NULL;
    }
    if (o->secret == NULL && o->secret_env == NULL) {
        usage_error("%s", "--secret-env NAME (or --secret SECRET) is required");
        return NULL;
    }
    if (o->secret != NULL)
        return o->secret;
    s = getenv(o->secret_env);
    if (s == NULL)
        fprintf(stderr, "gantry token: environment variable '%s' is not set\n", o->secret_env);
    return s;
}

int gw_cli_token(int argc, char **argv)
{
    struct token_opts o = {0};
    enum gw_jwt_alg alg = GW_JWT_HS256;
    long long ttl = 3600;
    const char *secret;
    json_t *payload = NULL;
    char *payload_text = NULL, *tok = NULL;
    int status = 1, rc;

    o.roles = json_array();
    o.perms = json_array();
    o.claims = json_object();
    if (o.roles == NULL || o.perms == NULL || o.claims == NULL)
        goto done;
    status = parse_args(&o, argc, argv);
    if (status != 0) {
        status = status < 0 ? 0 : status;
        goto done;
    }
    status = 2;
    secret = get_secret(&o);
    if (secret == NULL)
        goto done;
    if (o.sub == NULL) {
        usage_error("%s", "--sub ID is required");
        goto done;
    }
    if (o.alg != NULL && (gw_jwt_alg_parse(o.alg, &alg) < 0 || alg > GW_JWT_HS512)) {
        value_error("--alg must be HS256, HS384 or HS512", o.alg);
        goto done;
    }
    if (o.ttl != NULL && !parse_duration(o.ttl, &ttl)) {
        value_error("--ttl needs a positive duration like 30s, 15m, 1h or 7d (at most 3650d)",
                    o.ttl);
        goto done;
    }
    if (o.kid != NULL && strlen(o.kid) >= GW_JWT_KID_MAX) {
        fprintf(stderr, "gantry token: --kid is at most %d bytes\n", GW_JWT_KID_MAX - 1);
        goto done;
    }
    if (strlen(secret) < min_secret(alg)) {
        fprintf(stderr,
                "gantry token: the secret is %zu bytes; %s needs at least %zu (RFC 7518 section "
                "3.2: at least 32 / 48 / 64 bytes for HS256 / HS384 / HS512)\n",
                strlen(secret), gw_jwt_alg_name(alg), min_secret(alg));
        goto done;
    }
    status = 1;
    payload = build_payload(&o, (long long)time(NULL), ttl);
    if (payload == NULL) {
        fprintf(stderr, "gantry token: a value is not valid UTF-8 (or out of memory)\n");
        status = 2;
        goto done;
    }
    payload_text = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (payload_text == NULL)
        goto done;
    rc = gw_jwt_sign_hmac(alg, secret, strlen(secret), o.kid, payload_text, &tok);
    if (rc < 0) {
        fprintf(stderr, "gantry token: signing failed: %s\n", gw_strerror(rc));
        goto done;
    }
    printf("%s\n", tok);
    status = fflush(stdout) == 0 ? 0 : 1;
done:
    free(tok);
    free(payload_text);
    json_decref(payload);
    json_decref(o.roles);
    json_decref(o.perms);
    json_decref(o.claims);
    return status;
}
