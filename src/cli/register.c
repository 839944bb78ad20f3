/*
 * `gantry register`: a backend registers itself with a running gateway's registry
 * (POST /api/registrations on the admin listener, README "Registering backends").
 *
 * Once: registers, prints the gateway's answer (the registration as JSON) and exits.
 * --daemon: registers, then registers again (the same call renews) every --interval, or every
 * third of the TTL when that is sooner, so a renewal is never late; while the gateway cannot
 * be reached, or answers 5xx or 429, it retries after 1 s, 2 s, 4 s ... (at most 60 s and at
 * most the interval); on SIGTERM or SIGINT it deregisters (DELETE) and exits. Every action is
 * one line on stderr.
 *
 * "Public IP" discovery (--use-public-ip) reads the local interfaces (getifaddrs): the first
 * global IPv4 address of an interface that is up, else its first private one, else a global
 * IPv6 address. No outside service is asked. --public-ip ADDR names it instead.
 *
 * The registry URL may be https:// (the gateway's own client, net/fetch.h, through
 * register_http.c): the certificate is verified against the system's CA store and --ca-file,
 * unless --insecure. With --encryption-key (or $ENCRYPTION_KEY) the backend token is sealed
 * here with the gateway's registration key before it leaves ("sealed_token"): it never
 * travels in clear, even over http://, and only a gateway holding that key can open it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/register_http.h"
#include "core/url.h"
#include "net/fetch.h"
#include "registry/registry.h"

static const char usage[] =
    "Usage: gantry register --name NAME --prefix PREFIX --registry-url URL\n"
    "           (--backend-url URL | --backend-port PORT) [options]\n"
    "\n"
    "Registers a backend with a running gateway (its admin listener, registration on) and,\n"
    "with --daemon, keeps it registered until SIGTERM or SIGINT, then deregisters it.\n"
    "\n"
    "  --name NAME              the service the backend is a target of\n"
    "  --prefix PREFIX          its path prefix (e.g. /api/orders)\n"
    "  --registry-url URL       the gateway's admin listener, e.g. http://127.0.0.1:9000\n"
    "                           or https://gateway.internal:9443 (certificate verified)\n"
    "  --ca-file FILE           https: trust the CAs of this PEM file besides the system's\n"
    "  --insecure               https: do not verify the gateway's certificate (testing only)\n"
    "  --backend-url URL        the backend as the gateway reaches it (http:// or https://)\n"
    "  --backend-port PORT      the backend's port (replaces the port of --backend-url;\n"
    "                           alone: http://127.0.0.1:PORT, or the public address)\n"
    "  --use-public-ip          the host of the backend URL is this machine's address, read\n"
    "                           from its interfaces (no outside service is asked)\n"
    "  --public-ip ADDR         the host of the backend URL is ADDR\n"
    "  --backend-token TOKEN    a token the gateway sends to the backend on every request\n"
    "  --backend-token-env VAR  the same, read from the environment variable VAR\n"
    "  --encryption-key KEY     seal the token here with the gateway's\n"
    "                           registration.encryption_key (64 hex digits) before it is\n"
    "                           sent: it never travels in clear (default: $ENCRYPTION_KEY\n"
    "                           when a token is given)\n"
    "  --encryption-key-env VAR the same key, read from the environment variable VAR\n"
    "  --api-key KEY            the admin API key (default: $ADMIN_API_KEY)\n"
    "  --api-key-env VAR        the admin API key, read from the environment variable VAR\n"
    "  --weight N               the target's weight (1..1000; the gateway's default: 1)\n"
    "  --ttl DURATION           how long the registration lives without renewal (e.g. 30s,\n"
    "                           15m); default: the gateway's registration.ttl, or with\n"
    "                           --daemon three times the interval\n"
    "  --daemon                 stay: renew, retry with backoff, deregister on SIGTERM\n"
    "  --interval DURATION      renew this often with --daemon (default 5m; at most a\n"
    "                           third of the TTL)\n"
    "  --help                   this text\n"
    "\n"
    "Exit status: 0 registered (once), or deregistered after SIGTERM/SIGINT (--daemon);\n"
    "1 refused by the gateway (400, 401, 403, 404, 409); 2 bad usage; 3 the gateway could\n"
    "not be reached or failed (once), or the deregistration did not go through.\n";

struct opts {
    const char *name, *prefix, *registry_url, *backend_url, *backend_port;
    const char *public_ip, *token, *token_env, *api_key, *api_key_env, *weight, *ttl, *interval;
    const char *ca_file, *enc_key, *enc_key_env;
    bool use_public_ip, daemon, insecure;
};

struct target {
    char url[1200]; /* scheme://authority/.../api/registrations */
    const char *ca_file;
    bool insecure;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s gantry register: ", when);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("gantry register: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", usage);
    return 2;
}

/* "30s", "500ms", "5m", "1h", "90" (seconds) -> ms; false when not one (or 0). */
static bool parse_duration(const char *s, uint64_t *ms)
{
    char *end = NULL;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || errno != 0 || !(x > 0 && x < 1e9))
        return false;
    double mult = 0;
    if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        mult = 1000;
    else if (strcmp(end, "m") == 0)
        mult = 60000;
    else if (strcmp(end, "h") == 0)
        mult = 3600000;
    else
        return false;
    *ms = (uint64_t)(x * mult);
    return *ms > 0;
}

static bool parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    char *end = NULL;
    errno = 0;
    if (s[0] < '0' || s[0] > '9')
        return false;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool private_v4(uint32_t a)
{
    return (a >> 24) == 10 || (a >> 20) == (172u << 4 | 1) || (a >> 16) == (192u << 8 | 168) ||
           (a >> 22) == (100u << 2 | 1); /* 100.64/10, carrier-grade NAT */
}

/* This machine's address from its interfaces (see the top of the file); false when none. */
static bool local_public_ip(char *out, size_t cap, char *ifname, size_t ifcap)
{
    struct ifaddrs *all = NULL;
    int best = 0; /* 3 global v4, 2 private v4, 1 global v6 */
    if (getifaddrs(&all) != 0)
        return false;
    for (struct ifaddrs *i = all; i; i = i->ifa_next) {
        if (i->ifa_addr == NULL || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
            continue;
        int rank = 0;
        char buf[INET6_ADDRSTRLEN];
        if (i->ifa_addr->sa_family == AF_INET) {
            const struct in_addr *a = &((const struct sockaddr_in *)i->ifa_addr)->sin_addr;
            uint32_t h = ntohl(a->s_addr);
            if ((h >> 16) == (169u << 8 | 254) || (h >> 24) == 127 || h == 0)
                continue; /* link-local, loopback */
            rank = private_v4(h) ? 2 : 3;
            inet_ntop(AF_INET, a, buf, sizeof buf);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const struct in6_addr *a = &((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
            if (IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_SITELOCAL(a) ||
                (a->s6_addr[0] & 0xfe) == 0xfc) /* fc00::/7, unique local */
                continue;
            rank = 1;
            inet_ntop(AF_INET6, a, buf, sizeof buf);
        } else {
            continue;
        }
        if (rank > best) {
            best = rank;
            snprintf(out, cap, "%s", buf);
            snprintf(ifname, ifcap, "%s", i->ifa_name);
        }
    }
    freeifaddrs(all);
    return best > 0;
}

/* The backend URL to register, from --backend-url, --backend-port and the public address. */
static int backend_url(const struct opts *o, char *out, size_t cap)
{
    const char *base = o->backend_url ? o->backend_url : "http://127.0.0.1";
    struct gw_url u;
    const char *why = NULL;
    char ip[INET6_ADDRSTRLEN] = "", ifname[IF_NAMESIZE + 1] = "";
    if (gw_url_parse(base, strlen(base), &u, &why) < 0)
        return usage_error("--backend-url '%s': %s", base, why);
    if (u.scheme != GW_URL_HTTP && u.scheme != GW_URL_HTTPS)
        return usage_error("--backend-url '%s': expected http:// or https://", base);
    if (u.user || u.query || u.fragment)
        return usage_error("--backend-url '%s': no user, query or fragment", base);
    unsigned long port = u.host.has_port ? u.port : 0;
    if (o->backend_port && !parse_uint(o->backend_port, 1, 65535, &port))
        return usage_error("--backend-port '%s': expected 1 to 65535", o->backend_port);
    const char *host = u.host.host;
    size_t host_len = u.host.host_len;
    bool v6 = u.host.kind == GW_URL_HOST_IPV6;
    if (o->public_ip) {
        struct in6_addr a6;
        struct in_addr a4;
        v6 = inet_pton(AF_INET6, o->public_ip, &a6) == 1;
        if (!v6 && inet_pton(AF_INET, o->public_ip, &a4) != 1)
            return usage_error("--public-ip '%s': expected an IPv4 or IPv6 address", o->public_ip);
        host = o->public_ip;
        host_len = strlen(host);
    } else if (o->use_public_ip) {
        if (!local_public_ip(ip, sizeof ip, ifname, sizeof ifname)) {
            say("--use-public-ip: no interface has an address other than loopback or "
                "link-local (give --public-ip ADDR)");
            return 2;
        }
        say("--use-public-ip: %s of interface %s", ip, ifname);
        v6 = strchr(ip, ':') != NULL;
        host = ip;
        host_len = strlen(ip);
    }
    int n = snprintf(out, cap, "%s://%s%.*s%s", u.scheme == GW_URL_HTTPS ? "https" : "http",
                     v6 ? "[" : "", (int)host_len, host, v6 ? "]" : "");
    if (n > 0 && (size_t)n < cap && port)
        n += snprintf(out + n, cap - (size_t)n, ":%lu", port);
    if (n > 0 && (size_t)n < cap && u.path_len > 1)
        n += snprintf(out + n, cap - (size_t)n, "%.*s", (int)u.path_len, u.path);
    if (n < 0 || (size_t)n >= cap)
        return usage_error("the backend URL is too long");
    return 0;
}

static int registry_target(const char *url, struct target *t)
{
    struct gw_url u;
    const char *why = NULL;
    if (gw_url_parse(url, strlen(url), &u, &why) < 0)
        return usage_error("--registry-url '%s': %s", url, why);
    if (u.scheme != GW_URL_HTTP && u.scheme != GW_URL_HTTPS)
        return usage_error("--registry-url '%s': expected http:// or https://HOST:PORT (the "
                           "admin listener)",
                           url);
    if (u.authority_len + u.path_len + 64 >= sizeof t->url || u.query || u.fragment || u.user)
        return usage_error("--registry-url '%s': expected http(s)://HOST:PORT[/PATH]", url);
    size_t plen = u.path_len;
    while (plen > 0 && u.path[plen - 1] == '/')
        plen--;
    snprintf(t->url, sizeof t->url, "%s://%.*s%.*s/api/registrations",
             u.scheme == GW_URL_HTTPS ? "https" : "http", (int)u.authority_len, u.authority,
             (int)plen, u.path);
    const char *bad = gw_fetch_check_url_https(t->url);
    if (bad != NULL)
        return usage_error("--registry-url '%s': %s", url, bad);
    return 0;
}

/* What an answer means for the caller. */
enum outcome {
    DONE,
    REFUSED,
    RETRY
};

static enum outcome classify(int status)
{
    if (status >= 200 && status < 300)
        return DONE;
    if (status == 429 || status == 408 || status >= 500)
        return RETRY;
    return REFUSED;
}

/* The "error" of a JSON answer, or the body's start. */
static void answer_error(const char *body, char *out, size_t cap)
{
    json_t *j = json_loads(body, 0, NULL);
    const char *e = json_string_value(json_object_get(j, "error"));
    snprintf(out, cap, "%s", e ? e : body);
    json_decref(j);
}

struct session {
    struct target reg;
    const char *api_key;
    char *body;
    char id[64];
};

/* One POST. DONE (id kept), REFUSED or RETRY; logs what happened. */
static enum outcome post(struct session *s, char **answer)
{
    struct gw_cli_http_answer a;
    struct gw_cli_http_req rq = {.method = "POST",
                                 .url = s->reg.url,
                                 .ca_file = s->reg.ca_file,
                                 .insecure = s->reg.insecure,
                                 .api_key = s->api_key,
                                 .body = s->body,
                                 .timeout_ms = 10000};
    if (gw_cli_http(&rq, &a) < 0) {
        say("the gateway at %s cannot be reached: %s", s->reg.url, a.why);
        return RETRY;
    }
    enum outcome oc = classify(a.status);
    if (oc == DONE) {
        json_t *j = json_loads(a.body, 0, NULL);
        const char *id = json_string_value(json_object_get(j, "id"));
        snprintf(s->id, sizeof s->id, "%s", id ? id : "");
        json_decref(j);
        say("%s: registration %s (%d)", a.status == 201 ? "registered" : "renewed", s->id,
            a.status);
    } else {
        char err[512];
        answer_error(a.body, err, sizeof err);
        say("the gateway answered %d: %s", a.status, err);
    }
    if (answer && oc == DONE)
        *answer = a.body;
    else
        free(a.body);
    return oc;
}

/* DELETE of the registration: 0 (gone, or already gone), or -1. */
static int deregister(struct session *s)
{
    char path[sizeof s->reg.url + 80];
    struct gw_cli_http_answer a;
    if (s->id[0] == '\0') {
        say("stopping: not registered, nothing to remove");
        return 0;
    }
    snprintf(path, sizeof path, "%s/%s", s->reg.url, s->id);
    struct gw_cli_http_req rq = {.method = "DELETE",
                                 .url = path,
                                 .ca_file = s->reg.ca_file,
                                 .insecure = s->reg.insecure,
                                 .api_key = s->api_key,
                                 .timeout_ms = 5000};
    if (gw_cli_http(&rq, &a) < 0) {
        say("stopping: could not deregister %s (%s); it expires at its TTL", s->id, a.why);
        return -1;
    }
    int st = a.status;
    free(a.body);
    if (st == 200 || st == 404) {
        say("stopping: deregistered %s%s", s->id, st == 404 ? " (it had already gone)" : "");
        return 0;
    }
    say("stopping: the gateway answered %d to the deregistration of %s", st, s->id);
    return -1;
}

/* Sleeps ms with the stop signals unblocked; false when one came. */
static bool wait_or_stop(uint64_t ms, const sigset_t *open_mask)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    if (stop_signal)
        return false;
    ppoll(NULL, 0, &ts, open_mask);
    return stop_signal == 0;
}

static int run_daemon(struct session *s, uint64_t period)
{
    sigset_t block, old;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: ppoll returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* Blocked except inside ppoll, so a signal never lands in the middle of an exchange and
     * is never missed between the check and the sleep. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &old);
    sigdelset(&old, SIGTERM);
    sigdelset(&old, SIGINT);
    say("daemon: renewing every %llu ms", (unsigned long long)period);
    uint64_t backoff = 1000;
    for (;;) {
        enum outcome oc = post(s, NULL);
        if (oc == REFUSED) {
            say("giving up: the gateway refuses the registration");
            return 1;
        }
        uint64_t wait = period;
        if (oc == RETRY) {
            wait = backoff < period ? backoff : period;
            say("retrying in %llu ms", (unsigned long long)wait);
            backoff = backoff * 2 > 60000 ? 60000 : backoff * 2;
        } else {
            backoff = 1000;
        }
        if (!wait_or_stop(wait, &old))
            break;
    }
    say("signal %d: deregistering", (int)stop_signal);
    return deregister(s) == 0 ? 0 : 3;
}

static int get_opts(int argc, char **argv, struct opts *o)
{
    static const struct {
        const char *name;
        size_t off;
    } vals[] = {
        {"--name", offsetof(struct opts, name)},
        {"--prefix", offsetof(struct opts, prefix)},
        {"--registry-url", offsetof(struct opts, registry_url)},
        {"--backend-url", offsetof(struct opts, backend_url)},
        {"--backend-port", offsetof(struct opts, backend_port)},
        {"--public-ip", offsetof(struct opts, public_ip)},
        {"--backend-token", offsetof(struct opts, token)},
        {"--backend-token-env", offsetof(struct opts, token_env)},
        {"--api-key", offsetof(struct opts, api_key)},
        {"--api-key-env", offsetof(struct opts, api_key_env)},
        {"--weight", offsetof(struct opts, weight)},
        {"--ttl", offsetof(struct opts, ttl)},
        {"--interval", offsetof(struct opts, interval)},
        {"--ca-file", offsetof(struct opts, ca_file)},
        {"--encryption-key", offsetof(struct opts, enc_key)},
        {"--encryption-key-env", offsetof(struct opts, enc_key_env)},
    };
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (strcmp(arg, "--daemon") == 0) {
            o->daemon = true;
            continue;
        }
        if (strcmp(arg, "--use-public-ip") == 0) {
            o->use_public_ip = true;
            continue;
        }
        if (strcmp(arg, "--insecure") == 0) {
            o->insecure = true;
            continue;
        }
        size_t k = 0;
        while (k < sizeof vals / sizeof vals[0] && strcmp(vals[k].name, arg) != 0)
            k++;
        if (k == sizeof vals / sizeof vals[0])
            return usage_error("%s '%s'", arg[0] == '-' ? "unknown option" : "unexpected argument",
                               arg);
        const char **slot = (const char **)((char *)o + vals[k].off);
        if (*slot)
            return usage_error("%s given twice", arg);
        if (i + 1 >= argc || argv[i + 1][0] == '\0')
            return usage_error("%s needs a value", arg);
        *slot = argv[++i];
    }
    return 0;
}

static const char *from_env(const char *flag, const char *var)
{
    const char *v = getenv(var);
    if (v == NULL || v[0] == '\0')
        say("%s %s: the variable is not set", flag, var);
    return v && v[0] ? v : NULL;
}

int gw_cli_register(int argc, char **argv)
{
    struct opts o;
    struct session s;
    char url[2048];
    uint64_t ttl_ms = 0, interval_ms = 300000;
    unsigned long weight = 0;
    int rc = 2;
    memset(&o, 0, sizeof o);
    memset(&s, 0, sizeof s);
    rc = get_opts(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if (!o.name || !o.prefix || !o.registry_url)
        return usage_error("--name, --prefix and --registry-url are required");
    if (!o.backend_url && !o.backend_port)
        return usage_error("--backend-url or --backend-port is required");
    if (o.token && o.token_env)
        return usage_error("--backend-token and --backend-token-env exclude each other");
    if (o.api_key && o.api_key_env)
        return usage_error("--api-key and --api-key-env exclude each other");
    if (o.use_public_ip && o.public_ip)
        return usage_error("--use-public-ip and --public-ip exclude each other");
    if (o.ttl && !parse_duration(o.ttl, &ttl_ms))
        return usage_error("--ttl '%s': expected a duration such as 30s or 15m", o.ttl);
    if (o.interval && !parse_duration(o.interval, &interval_ms))
        return usage_error("--interval '%s': expected a duration such as 10s or 5m", o.interval);
    if (o.interval && !o.daemon)
        return usage_error("--interval is for --daemon");
    if (o.weight && !parse_uint(o.weight, 1, 1000, &weight))
        return usage_error("--weight '%s': expected 1 to 1000", o.weight);
    if (o.enc_key && o.enc_key_env)
        return usage_error("--encryption-key and --encryption-key-env exclude each other");
    if (o.ca_file && o.insecure)
        return usage_error("--ca-file and --insecure exclude each other");
    rc = registry_target(o.registry_url, &s.reg);
    if (rc == 0 && (o.ca_file || o.insecure) && strncmp(s.reg.url, "https:", 6) != 0)
        return usage_error("%s is for an https:// --registry-url",
                           o.ca_file ? "--ca-file" : "--insecure");
    if (rc == 0 && o.ca_file && access(o.ca_file, R_OK) != 0)
        return usage_error("--ca-file '%s': %s", o.ca_file, strerror(errno));
    s.reg.ca_file = o.ca_file;
    s.reg.insecure = o.insecure;
    if (rc == 0)
        rc = backend_url(&o, url, sizeof url);
    if (rc != 0)
        return rc;
    const char *token = o.token_env ? from_env("--backend-token-env", o.token_env) : o.token;
    s.api_key = o.api_key_env ? from_env("--api-key-env", o.api_key_env)
                : o.api_key   ? o.api_key
                              : getenv("ADMIN_API_KEY");
    const char *enc_key = o.enc_key_env ? from_env("--encryption-key-env", o.enc_key_env)
                          : o.enc_key   ? o.enc_key
                          : token       ? getenv("ENCRYPTION_KEY")
                                        : NULL;
    if ((o.token_env && token == NULL) || (o.api_key_env && s.api_key == NULL) ||
        (o.enc_key_env && enc_key == NULL))
        return 2;
    if ((o.enc_key || o.enc_key_env) && token == NULL)
        return usage_error("--encryption-key seals the backend token: give --backend-token or "
                           "--backend-token-env");
    if (enc_key && enc_key[0] == '\0')
        enc_key = NULL;
    char *sealed = NULL;
    if (enc_key) {
        sealed = gw_registry_token_seal(enc_key, o.name, url, token);
        if (sealed == NULL)
            return usage_error("%s: expected the gateway's registration.encryption_key, 64 hex "
                               "digits",
                               o.enc_key       ? "--encryption-key"
                               : o.enc_key_env ? o.enc_key_env
                                               : "$ENCRYPTION_KEY");
        say("the backend token is sealed here with key %.8s (it never travels in clear)",
            sealed + 3);
    }
    if (o.insecure)
        say("--insecure: the gateway's certificate is not verified");
    if (s.api_key && s.api_key[0] == '\0')
        s.api_key = NULL;
    if (o.daemon && ttl_ms == 0)
        ttl_ms = interval_ms * 3;
    uint64_t period = interval_ms;
    if (ttl_ms && period > ttl_ms / 3)
        period = ttl_ms / 3 ? ttl_ms / 3 : 1;
    json_t *body = json_pack("{s:s, s:s, s:s}", "name", o.name, "url", url, "prefix", o.prefix);
    if (body && weight)
        json_object_set_new(body, "weight", json_integer((json_int_t)weight));
    if (body && ttl_ms) {
        char t[32];
        snprintf(t, sizeof t, "%llums", (unsigned long long)ttl_ms);
        json_object_set_new(body, "ttl", json_string(t));
    }
    if (body && sealed)
        json_object_set_new(body, "sealed_token", json_string(sealed));
    else if (body && token)
        json_object_set_new(body, "token", json_string(token));
    s.body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    free(sealed);
    if (s.body == NULL) {
        say("out of memory");
        return 3;
    }
    say("%s at %s as a target of %s (registry %s)", url, o.prefix, o.name, o.registry_url);
    if (o.daemon) {
        rc = run_daemon(&s, period);
    } else {
        char *answer = NULL;
        enum outcome oc = post(&s, &answer);
        rc = oc == DONE ? 0 : oc == REFUSED ? 1 : 3;
        if (answer)
            printf("%s\n", answer);
        free(answer);
    }
    /* The body may hold the token. */
    explicit_bzero(s.body, strlen(s.body));
    free(s.body);
    return rc;
}
