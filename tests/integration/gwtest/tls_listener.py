"""gantry's HTTPS listener under test (the test_tls*.py files): one set of certificates, a
config that serves them, and the clients that talk to it (curl over HTTP/1.1, openssl
s_client).

The certificates are made with the openssl command at first use, in a temp dir of their own
(gwtest.certs; removed at exit): a CA (ca.pem), leaves for a.test (a, the default),
*.example.com (wild) and api.example.com (api), an expired one for a.test (old), a replacement
for a.test (a2, for the reload swap), and a key that matches nothing (stray.key). path(name)
is a file in that dir, for what a test writes beside them (configs, sessions, more
certificates through certs()).
"""

import subprocess

from .certs import CertDir
from .config import simple_config
from .procs import free_port

_certs = None


def sh(args, inp=None, timeout=30):
    """Runs a command: (exit status, stdout and stderr as text)."""
    p = subprocess.run(
        args, input=inp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout
    )
    return p.returncode, p.stdout.decode("utf-8", "replace")


def certs():
    """The CertDir of the listener's certificates, made on the first call."""
    global _certs
    if _certs is None:
        c = CertDir("tls")
        c.make_ca(cn="gantry test CA")
        c.make_leaf("a", "a.test", ["DNS:a.test"])
        c.make_leaf("a2", "a.test", ["DNS:a.test"])  # the replacement for the reload test
        c.make_leaf("wild", "*.example.com", ["DNS:*.example.com"])
        c.make_leaf("api", "api.example.com", ["DNS:api.example.com"])
        c.make_leaf("old", "a.test", ["DNS:a.test"], expired=True)
        rc, out = sh(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                      "ec_paramgen_curve:P-256", "-out", c.path("stray.key")])
        assert rc == 0, out
        _certs = c
    return _certs


def path(name):
    return certs().path(name)


def cert(name, names=None):
    """A tls.certificates entry for name.pem / name.key, for server_names when given."""
    c = {"cert": path(name + ".pem"), "key": path(name + ".key")}
    if names:
        c["server_names"] = names
    return c


def tls_config(origin, **tls):
    """simple_config for origin with a TLS listener on a free port serving a, wild and api
    (a the default), tls settings overridden by the keywords; access log on stdout, debug."""
    t = {
        "listen": "127.0.0.1:%d" % free_port(),
        "certificates": [cert("a"), cert("wild", ["*.example.com"]),
                         cert("api", ["api.example.com"])],
    }
    t.update(tls)
    return simple_config(origin, tls=t, log={"access": "stdout", "level": "debug"})


def tls_port(g):
    return int(g.config["tls"]["listen"].rsplit(":", 1)[1])


def curl(g, host, urlpath="/echo/x", extra=()):
    """HTTP/1.1 over TLS to host (resolved to the listener; ALPN would pick h2, which
    test_http2.py covers): (exit status, response head and body)."""
    port = tls_port(g)
    return sh(["curl", "-sS", "--http1.1", "--max-time", "10", "--cacert", path("ca.pem"),
               "--resolve",
               "%s:%d:127.0.0.1" % (host, port), "-D", "-",
               "https://%s:%d%s" % (host, port, urlpath)] + list(extra))


def s_client(g, *args, inp=b"", timeout=15):
    """openssl s_client to the listener with args, inp as what it sends: (exit status, its
    output)."""
    return sh(["openssl", "s_client", "-connect", "127.0.0.1:%d" % tls_port(g),
               "-CAfile", path("ca.pem")] + list(args), inp=inp, timeout=timeout)


def origin_headers(o):
    """The headers of the last request origin o received, names in lower case."""
    last = o.last_requests()[-1]
    hs = last["headers"]
    return {k.lower(): v for k, v in (hs.items() if isinstance(hs, dict) else hs)}
