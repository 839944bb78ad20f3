#!/usr/bin/env python3
"""What built-in identity's revocation check costs an authenticated request, in exact
instructions (issue 17, "Must hold": at most 2%).

Like policy_callgrind.py: each variant's gantry (1 worker, the same nginx origin) runs under
`valgrind --tool=callgrind` twice, serving BASE and then BASE + N keep-alive GETs with a bearer
token, one at a time on one connection; the difference of the two runs' totals divided by N is
one request's cost in user space, all threads. Every run starts from a fresh SQLite file,
registers a user and logs in (cheap argon2id) before the GETs, so that work cancels out.

    jwt          auth.jwt only (an HS256 key), identity off: the check is not reached
    identity     identity's token, nothing revoked: the check is one relaxed atomic load
    revoked      the same after another session of the user logged out (the set holds its
                 sid and jti): the check takes the set's mutex and probes twice

    python3 bench/identity_callgrind.py [--gantry-bin build/release/gantry] [--requests N]
"""

import argparse
import base64
import glob
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import policy_callgrind as pcg  # noqa: E402
import proxy_compare as pc  # noqa: E402


def hs256(secret, claims, kid):
    def b64(d):
        return base64.urlsafe_b64encode(json.dumps(d, separators=(",", ":")).encode()) \
            .rstrip(b"=").decode()
    head = b64({"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + b64(claims)
    sig = hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest()
    return head + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()

SECRET = "identity-callgrind-secret-0123456789abcdef"
PASSWORD = "correct horse battery"


def config(port, origin, db, identity):
    cfg = {
        "listen": "127.0.0.1:%d" % port, "workers": 1, "log": {"access": "off", "level": "warn"},
        "admin": {"listen": "off"},
        "services": [{"name": "s", "prefix": "/", "targets": ["http://127.0.0.1:%d" % origin],
                      "auth": {"methods": ["jwt"]}}],
    }
    if identity:
        cfg["identity"] = {"sqlite": db, "jwt": {"kid": "id", "secret": SECRET},
                           "password": {"opslimit": 1, "memlimit": "8KiB"},
                           "register": {"mode": "open"},
                           "paths": {"login": "/idp/login", "register": "/idp/register",
                                     "logout": "/idp/logout", "refresh": "/idp/refresh",
                                     "me": "/idp/me", "password": "/idp/password"}}
    else:
        cfg["auth"] = {"jwt": {"keys": [{"kid": "k", "alg": "HS256", "secret": SECRET}]}}
    return cfg


def post(port, path, body, tok=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    hs = {"Content-Type": "application/json"}
    if tok:
        hs["Authorization"] = "Bearer " + tok
    c.request("POST", path, body=json.dumps(body), headers=hs)
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status >= 300:
        raise pc.BenchError("%s answered %d: %r" % (path, r.status, data))
    return json.loads(data)


def token(variant, port):
    """The bearer token the GETs carry (made through the gantry under test)."""
    if variant == "jwt":
        return hs256(SECRET, {"sub": "alice", "exp": 4102444800}, kid="k")
    post(port, "/idp/register", {"username": "alice", "email": "a@example.com",
                                  "password": PASSWORD})
    tok = post(port, "/idp/login", {"login": "alice", "password": PASSWORD})["access_token"]
    if variant == "revoked":
        other = post(port, "/idp/login", {"login": "alice", "password": PASSWORD})
        post(port, "/idp/logout", {}, other["access_token"])
    return tok


def instructions(gantry_bin, variant, port, origin, n, outdir):
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    path = os.path.join(outdir, "gantry.json")
    with open(path, "w") as f:
        json.dump(config(port, origin, os.path.join(outdir, "id.db"), variant != "jwt"), f)
    with open(os.path.join(outdir, "stderr"), "w") as err:
        proc = subprocess.Popen(["valgrind", "--tool=callgrind", "-q",
                                 f"--callgrind-out-file={outdir}/cg.%p", gantry_bin, "-c", path],
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        pcg.wait_port(port, proc, "gantry under callgrind")
        headers = {"Authorization": "Bearer " + token(variant, port)}
        pcg.load(port, 50, headers)
        pcg.load(port, n, headers)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    out = subprocess.run(["callgrind_annotate", glob.glob(f"{outdir}/cg.*")[0]],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if "PROGRAM TOTALS" in line:
            return int(line.split()[0].replace(",", ""))
    raise pc.BenchError("no totals in the callgrind output")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--gantry-bin", default=os.environ.get("GANTRY_BIN", "build/release/gantry"))
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--base", type=int, default=200)
    p.add_argument("variants", nargs="*", default=["jwt", "identity", "revoked"])
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="gantry-idcg-")
    ports = pc.free_ports(2)
    os.mkdir(os.path.join(tmp, "www"))
    os.mkdir(os.path.join(tmp, "temp"))
    with open(os.path.join(tmp, "www", "4k"), "wb") as f:
        f.write(pc.BODIES["4k"][1])
    user_line = "user root;" if os.geteuid() == 0 else ""
    conf = pc.render("origin.nginx.conf", tmp, tmp=tmp, user_line=user_line, origin_port=ports[0])
    nginx = subprocess.Popen(["nginx", "-p", tmp + "/", "-e", os.path.join(tmp, "error.log"),
                              "-c", conf, "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    per = {}
    try:
        pcg.wait_port(ports[0], nginx, "origin")
        for v in args.variants:
            a = instructions(args.gantry_bin, v, ports[1], ports[0], args.base,
                             os.path.join(tmp, v + "-base"))
            b = instructions(args.gantry_bin, v, ports[1], ports[0], args.base + args.requests,
                             os.path.join(tmp, v + "-full"))
            per[v] = (b - a) / args.requests
            print(f"{v:9s} {per[v]:10,.0f} instructions per request", flush=True)
        if "identity" in per and "revoked" in per:
            d = per["revoked"] - per["identity"]
            print(f"revocation check with entries: {d:+,.0f} instructions "
                  f"({100 * d / per['identity']:+.2f}% of an authenticated request)")
    except pc.BenchError as e:
        print(f"identity_callgrind: {e}", file=sys.stderr)
        return 1
    finally:
        nginx.terminate()
        nginx.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
