#!/usr/bin/env python3
"""Every key of docs/config.md set to bad values: `gantry check` answers each with exit 1 and
an error naming the file, line:column and the key (or accepts it, exit 0), and never crashes
or trips a sanitizer. Each key is set in a base config that turns its section and the
sections it works with on (a refused value can only crash a `.check` or a cross-field check
the section reaches). The defects the sweep found are explicit cases below, also reloaded:
the old config keeps serving and the log says "reload refused" with the place."""

import concurrent.futures
import copy
import json
import os
import re
import signal
import subprocess
import time

import gwtest
from gwtest import Gantry, Origin, request
from gwtest.certs import CertDir

DOC = os.path.join(gwtest.REPO, "docs", "config.md")
HEX_A = "0123456789abcdef" * 4
HEX_B = "fedcba9876543210" * 4
SECRET = "s3cret-s3cret-s3cret-s3cret-s3cret-42"

# Every key gets a value of a wrong JSON type for it and the empty string; paths also get
# "no-slash" and "/trailing/"; then EXTRA_PER_KEY values of EXTRA in turn, so that each section
# meets most of them. GW_SWEEP_EXTRA=N gives every key N of them (len(EXTRA): all), and
# GW_SWEEP_KEYS=REGEX sweeps only the keys it matches.
EXTRA = [12345, "str", [1], {"x": 1}, None, True, "a b", "a\x00b", "x" * 10000, -1, -1.5, 1e300,
         18446744073709551617, ["/a", 7], [{}], [], "-5s", "99999999999h", "0"]
EXTRA_PER_KEY = int(os.environ.get("GW_SWEEP_EXTRA", "1"))
PATH_KEY = re.compile(r"(^|\.|_)(path|prefix|paths\.[a-z_]+)$")

SANITIZER = gwtest._SANITIZER_MARKS + ("Segmentation fault", "AddressSanitizer", "SUMMARY:")


def doc_keys():
    """(key, type) for the first two cells of every row of docs/config.md's `| key | ...`
    tables: every key a file can set (the environment's variables have tables of their own)."""
    keys, header = [], None
    with open(DOC, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("|"):
                header = None
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header = cells[0]
            elif header == "key" and not cells[0].startswith("---"):
                key = cells[0].strip("`")
                assert re.fullmatch(r"[a-z0-9_]+(\[\])?(\.[a-z0-9_]+(\[\])?)*", key), key
                keys.append((key, cells[1]))
    return keys


def wrong_type(kind):
    """A value of a JSON type the documented kind does not take (numbers may be written as
    strings, so theirs is an array)."""
    if kind.startswith(("string", "boolean or", "JSON Schema")) or kind in ("address", "URL",
                                                                           "path or off"):
        return 12345
    if kind.startswith(("array", "object")):
        return "str"
    return 1 if kind == "boolean" else [1]


class Files:
    """What the bases point at: certificates, keys and writable paths in a temp dir."""

    def __init__(self):
        c = CertDir("cfgsweep")
        c.make_ca()
        c.make_leaf("srv", "localhost", ["DNS:localhost", "IP:127.0.0.1"])
        c.make_leaf("cli", "client", ["DNS:client"], client=True)
        CertDir._sh(["openssl", "genpkey", "-algorithm", "ed25519", "-out", c.path("ed.key")])
        self.dir = c.dir
        self.path = c.path


def svc(cfg):
    return cfg["services"][0]


def enabling(files):
    """section prefix -> what the base adds to turn the section and its neighbours on."""
    p = files.path
    tls_on = {"listen": "127.0.0.1:18443",
              "certificates": [{"cert": p("srv.pem"), "key": p("srv.key"),
                                "server_names": ["localhost"]}],
              "client_auth": {"ca": p("ca.pem"), "required": False}}
    redis = {"url": "redis://127.0.0.1:6379", "timeout": "50ms"}

    def metrics(c):
        c["metrics"] = {"enabled": True, "expose_on_proxy": True, "proxy_path": "/metrics",
                        "proxy_api_key": "k", "proxy_allow": ["127.0.0.1/32"]}
        svc(c)["metrics"] = {"consumers": True}
        svc(c)["slo"] = {"latency_p99": "1s", "error_rate": 0.01}

    def tracing(c):
        c["tracing"] = {"endpoint": "http://127.0.0.1:4318/v1/traces", "sample_ratio": 0.5,
                        "resource_attributes": {"a": "b"}, "headers": {"h": "v"}}
        svc(c)["tracing"] = {"sample_ratio": 1}

    def tls(c):
        c["tls"] = copy.deepcopy(tls_on)
        svc(c)["client_cert"] = {"ca": p("ca.pem")}

    def upstream_tls(c):
        svc(c)["targets"] = [{"url": "https://127.0.0.1:9443"}]
        svc(c)["upstream_tls"] = {"ca": p("ca.pem"), "cert": p("cli.pem"), "key": p("cli.key"),
                                  "server_name": "localhost"}

    def identity(c):
        c["identity"] = {
            "store": "sqlite", "sqlite": os.path.join(files.dir, "id.db"),
            "jwt": {"secret": SECRET,
                    "keys": [{"kid": "ed1", "alg": "EdDSA", "private_key_file": p("ed.key")}],
                    "active": "ed1"},
            "register": {"mode": "invite", "invite_codes": ["invite-1"], "roles": ["user"]},
            "totp": {"encryption_key": HEX_A, "previous_keys": [HEX_B]}}

    def auth(c):
        c["auth"] = {
            "jwt": {"keys": [{"kid": "k1", "alg": "HS256", "secret": SECRET}],
                    "issuer": "gantry", "audience": "gantry", "required_claims": ["sub"]},
            "api_keys": {"header": "X-API-Key"},
            "consumers": [{"id": "c1", "api_keys": ["sha256:" + HEX_A], "roles": ["r"],
                           "permissions": ["p"]}],
            "introspection": {"url": "http://127.0.0.1:9/introspect", "client_id": "id",
                              "client_secret": "sec"}}
        svc(c)["auth"] = {"required": True, "roles": ["r"],
                          "rules": [{"match": {"prefix": "/pub"}, "required": False}]}

    def rate_limit(c):
        c["rate_limit"] = {"backend": "redis", "redis": dict(redis),
                           "trusted_proxies": ["127.0.0.1/32"],
                           "limits": [{"name": "g", "limit": 10, "period": "1s",
                                       "match": {"prefix": "/", "methods": ["GET"]}}]}
        svc(c)["rate_limit"] = {"limits": [{"name": "s", "limit": 5, "period": "1s"}]}

    def rules(name, what="rules", **extra):
        def f(c):
            rule = {"match": {"prefix": "/r", "methods": ["GET"]}}
            rule.update(extra)
            svc(c)[name] = {what: [rule]}
        return f

    def cache(c):
        c["cache"] = {"backend": "redis", "redis": {"key_prefix": "c:"}}
        c["rate_limit"] = {"redis": dict(redis)}
        svc(c)["cache"] = {"ttl": "10s", "rules": [{"match": {"prefix": "/c"}}]}

    def validation(c):
        c["validation"] = {"rules": [{"match": {"prefix": "/v"}, "schema": {"type": "object"}}]}
        rules("validation", schema={"type": "object"})(c)

    def registration(c):
        c["registration"] = {"encryption_key": HEX_A, "previous_keys": [HEX_B],
                             "store": os.path.join(files.dir, "reg.json"),
                             "redis": "redis://127.0.0.1:6379"}

    def hub(c):
        c["hub"] = {"path": "/hub", "service": "svc", "publish_path": "/publish",
                    "channels": [{"channels": "news", "subscribe": "*", "publish": "r"}]}

    def versioning(c):
        c["versioning"] = {"default": "v1"}
        svc(c)["version"] = "v1"
        c["services"][1].update(prefix="/", version="v0", sunset_at="2030-01-01T00:00:00Z")
        svc(c)["versions"] = [{"match": {"prefix": "/v2"}, "version": "v2"}]

    def openapi(c):
        c["openapi"] = {"path": "/docs"}
        svc(c)["openapi"] = {"url": "http://127.0.0.1:9/openapi.json"}

    def resilience(c):
        s = svc(c)
        s["targets"].append({"url": "http://127.0.0.1:10", "weight": 2})
        s["health_check"] = {"type": "http", "path": "/health"}
        s["load_balancer"] = {"strategy": "round_robin", "sticky_cookie": "gw"}
        s["outlier_detection"] = {"consecutive_failures": 5}
        s["circuit_breaker"] = {"failure_threshold": 5}
        s["retries"] = {"attempts": 2, "statuses": [502]}

    def audit(c):
        c["audit"] = {"file": os.path.join(files.dir, "audit.log"),
                      "sqlite": os.path.join(files.dir, "audit.db")}

    def cors(c):
        c["cors"] = {"origins": ["https://a.example"]}
        c["csrf"] = {"origins": ["https://a.example"]}
        rules("cors")(c)
        svc(c)["csrf"] = {"rules": [{"match": {"prefix": "/x"}}]}

    return [
        ("metrics.", metrics), ("services[].metrics.", metrics), ("services[].slo.", metrics),
        ("tracing.", tracing), ("services[].tracing.", tracing),
        ("tls.", tls), ("services[].client_cert.", tls),
        ("services[].upstream_tls.", upstream_tls),
        ("identity.", identity), ("identity.", auth),
        ("auth.", auth), ("services[].auth.", auth),
        ("rate_limit.", rate_limit), ("services[].rate_limit.", rate_limit),
        ("transform.", rules("transform")), ("services[].transform.", rules("transform")),
        ("cors.", cors), ("csrf.", cors), ("services[].cors.", cors), ("services[].csrf.", cors),
        ("validation.", validation), ("services[].validation.", validation),
        ("compression.", rules("compression")), ("services[].compression.", rules("compression")),
        ("cache.", cache), ("services[].cache.", cache),
        ("registration.", registration), ("discovery.", lambda c: None),
        ("ip_rules.", rules("ip_rules", allow=["10.0.0.0/8"])),
        ("services[].ip_rules.", rules("ip_rules", allow=["10.0.0.0/8"])),
        ("services[].security_headers.", rules("security_headers", enabled=True)),
        ("audit.", audit), ("hub.", hub), ("hub.", auth),
        ("services[].websocket.", rules("websocket", "routes")),
        ("http2.", lambda c: c.update(http2={"cleartext": True})),
        ("versioning.", versioning), ("services[].version", versioning),
        ("services[].deprecated_at", versioning), ("services[].sunset_at", versioning),
        ("services[].successor", versioning),
        ("openapi.", openapi), ("services[].openapi.", openapi),
        ("services[].health_check.", resilience), ("services[].load_balancer.", resilience),
        ("services[].outlier_detection.", resilience), ("services[].circuit_breaker.", resilience),
        ("services[].retries.", resilience), ("services[].targets", resilience),
    ]


def common():
    return {"listen": "127.0.0.1:18080", "workers": 1,
            "admin": {"listen": "127.0.0.1:19090", "api_key": "adminkey"},
            "log": {"access": "stdout", "access_format": "json"},
            "services": [{"name": "svc", "prefix": "/",
                          "targets": [{"url": "http://127.0.0.1:9"}]},
                         {"name": "other", "prefix": "/other", "methods": ["GET"],
                          "targets": [{"url": "http://127.0.0.1:11"}]}]}


def base_for(key, table):
    cfg = common()
    for prefix, enable in table:
        if key.startswith(prefix):
            enable(cfg)
    return cfg


def put(cfg, key, value):
    """Sets key (a docs path: `a[].b` is element 0 of a) in cfg to value."""
    node, parts = cfg, key.split(".")
    for i, part in enumerate(parts):
        name = part[:-2] if part.endswith("[]") else part
        if i == len(parts) - 1:
            node[name] = value
            return
        child = node.get(name)
        if part.endswith("[]"):
            if not isinstance(child, list) or not child or not isinstance(child[0], dict):
                child = node[name] = [{}]
            node = child[0]
        else:
            if not isinstance(child, dict):
                child = node[name] = {}
            node = child


def place_pattern(path, key):
    """An error line of `gantry check path` whose key path names key's last component
    ("FILE:LINE:COLUMN: services[0].retries.attempts: message")."""
    last = key.split(".")[-1].replace("[]", "")
    return re.compile(r"^%s:\d+:\d+: \S*\b%s\b\S*: " % (re.escape(path), re.escape(last)),
                      re.M)


def check_env():
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=1"
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return env


def run_check(path, env):
    p = subprocess.run([gwtest.gantry_bin(), "check", path], env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, errors="replace", timeout=60)
    return p.returncode, p.stdout + p.stderr


def judge(path, key, code, out):
    """None when gantry answered as it must, else what went wrong."""
    if code < 0 or code > 1:
        return "exit %d" % code
    marks = [m for m in SANITIZER if m in out]
    if marks:
        return "sanitizer report (%s)" % ", ".join(marks)
    if code == 1 and not place_pattern(path, key).search(out):
        if key not in OTHER_KEY or not place_pattern(path, OTHER_KEY[key]).search(out):
            return "imprecise error"
    return None


def write(dirname, n, cfg):
    path = os.path.join(dirname, "c%05d.json" % n)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=1)
    return path


def cases(keys):
    """(key, value) pairs: see EXTRA."""
    out, turn = [], 0
    for key, kind in keys:
        values = [wrong_type(kind), ""]
        if kind == "path or off" or (PATH_KEY.search(key) and kind != "boolean"):
            values += ["no-slash", "/trailing/"]
        for _ in range(EXTRA_PER_KEY):
            values.append(EXTRA[turn % len(EXTRA)])
            turn += 1
        out += [(key, v) for v in values]
    return out


# Keys whose good values make another key of the base wrong: key -> that key (named instead).
OTHER_KEY = {
    # the base's identity.jwt.active names the key's kid: any other leaves it naming none
    "identity.jwt.keys[].kid": "identity.jwt.active",
    # the base's auth rule is "required": false, which roles or permissions contradict
    "services[].auth.rules[].roles": "services[].auth.rules[].required",
    "services[].auth.rules[].permissions": "services[].auth.rules[].required",
}


def sweep(pairs, table, workdir):
    env = check_env()
    jobs = []
    for n, (key, value) in enumerate(pairs):
        cfg = base_for(key, table)
        put(cfg, key, value)
        jobs.append((key, value, write(workdir, n, cfg)))

    def one(job):
        key, value, path = job
        code, out = run_check(path, env)
        return job, code, out, judge(path, key, code, out)

    bad = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for (key, value, path), code, out, why in pool.map(one, jobs):
            if why:
                bad.append("%s = %s: %s (exit %d)\n%s" % (key, json.dumps(value)[:60], why, code,
                                                         "\n".join(out.splitlines()[:6])))
                print("BAD " + bad[-1], flush=True)
    return bad


# What the sweep found: the key, the bad value, the key path the error must name, and whether
# it crashed `gantry check`, start and reload before its fix (else the error named another
# key, or none).
FOUND = [
    # hub_check measured hub.path (NULL: refused) against hub.publish_path
    ("hub.path", 5, "hub.path", True),
    ("hub.path", "no-slash", "hub.path", True),
    # identity's key ring measured identity.jwt.kid (NULL: refused) beside jwt.secret
    ("identity.jwt.kid", 5, "identity.jwt.kid", True),
    ("identity.jwt.kid", "", "identity.jwt.kid", True),
    # a key source too many was an error at the key's object
    ("auth.jwt.keys[].pem", "", "auth.jwt.keys[0].pem", False),
    ("auth.jwt.keys[].pem_file", "", "auth.jwt.keys[0].pem_file", False),
    # an OpenAPI source too many was an error at the service's "openapi"
    ("services[].openapi.file", "a b", "services[0].openapi.file", False),
    # a key file that cannot be read was an error at "cert"
    ("tls.certificates[].key", "", "tls.certificates[0].key", False),
    ("services[].upstream_tls.key", "/nonexistent.key", "services[0].upstream_tls.key", False),
    ("tls.certificates[].key", "k" * 600, "tls.certificates[0].key", False),
    # values the JSON parser refuses were named by their place only
    ("limits.max_headers", 18446744073709551617, "limits.max_headers", False),
    ("probes.startup", "/a\x00b", "probes.startup", False),
    ("services[].prefix", ["/a", "/b\x00"], "services[0].prefix[1]", False),
]


def found_config(files, key, value):
    cfg = base_for(key, enabling(files))
    put(cfg, key, value)
    return cfg


@gwtest.timeout(120)
def test_what_the_sweep_found_is_an_error_with_its_place():
    files = Files()
    env = check_env()
    d = gwtest._mkdtemp("cfgfound")
    bad = []
    for n, (key, value, named, _) in enumerate(FOUND):
        path = write(d, n, found_config(files, key, value))
        code, out = run_check(path, env)
        place = re.search(r"^%s:\d+:\d+: %s: " % (re.escape(path), re.escape(named)), out, re.M)
        if code != 1 or not place or any(m in out for m in SANITIZER):
            bad.append("%s = %r: exit %d\n%s" % (key, value, code, out[:800]))
    assert not bad, "\n".join(bad)


def served(o, key, value=None):
    """A config gantry starts with: a service on origin o, FOUND's key's section on (as the
    sweep's base turns it on, without the parts that need more than this test starts), and
    key set to value unless None."""
    files = Files()
    cfg = gwtest.simple_config(o, prefix="/")
    base = base_for(key, enabling(files))
    for section in key.split(".")[:1]:
        cfg[section] = base[section]
    cfg.pop("auth", None)
    if value is not None:
        put(cfg, key, value)
    return cfg


@gwtest.timeout(120)
def test_a_reload_with_what_the_sweep_found_keeps_the_old_config():
    with Origin() as o:
        for key, value, named, _ in [f for f in FOUND if f[3]]:
            with Gantry(served(o, key)) as g:
                assert request(g.port, "GET", "/echo/x").status == 200
                off = len(g.stderr())
                g.write_config(served(o, key, value))
                g.signal(signal.SIGHUP)
                gwtest.wait_until(lambda: "reload refused" in g.stderr()[off:], 20,
                                  message="the reload refused")
                log = g.stderr()[off:]
                assert re.search(r":\d+:\d+: %s: " % re.escape(named), log), (key, value, log)
                assert g.alive(), g.logs()
                assert request(g.port, "GET", "/echo/x").status == 200


@gwtest.timeout(400)
def test_every_base_config_is_valid():
    files = Files()
    table = enabling(files)
    env = check_env()
    seen = {}
    for prefix, _ in table:
        cfg = base_for(prefix, table)
        seen[json.dumps(cfg, sort_keys=True)] = prefix
    d = gwtest._mkdtemp("cfgbase")
    bad = []
    for n, (text, prefix) in enumerate(sorted(seen.items())):
        path = write(d, n, json.loads(text))
        code, out = run_check(path, env)
        if code != 0:
            bad.append("%s: %s" % (prefix, out))
    assert not bad, "\n".join(bad)


@gwtest.timeout(int(os.environ.get("GW_SWEEP_TIMEOUT", "600")))
def test_every_documented_key_with_bad_values():
    keys = doc_keys()
    assert len(keys) > 400, len(keys)
    only = os.environ.get("GW_SWEEP_KEYS")
    if only:
        keys = [k for k in keys if re.search(only, k[0])]
    files = Files()
    table = enabling(files)
    pairs = cases(keys)
    t0 = time.monotonic()
    bad = sweep(pairs, table, gwtest._mkdtemp("cfgsweep"))
    print("swept %d keys x values = %d cases in %.1f s" % (len(keys), len(pairs),
                                                           time.monotonic() - t0))
    assert not bad, "%d bad answers:\n%s" % (len(bad), "\n\n".join(bad[:40]))


if __name__ == "__main__":
    gwtest.main(globals())
