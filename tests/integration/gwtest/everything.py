"""A gantry with every optional subsystem that has metric families on at once: tracing (to a
real OTLP receiver), the response cache (memory and Redis), rate limits on Redis, consumers'
metrics, TLS with HTTP/2, cleartext HTTP/2, the WebSocket hub (on Redis), built-in identity
(revocations on Redis), the audit log, health checks, circuits and outlier detection (one
target down). Used by the tests that read the whole
exposition (test_metrics_exposition.py, test_metrics_json_parity.py).

    with Everything() as e:
        e.traffic()            # one request of each kind, so that every family has samples
        e.g.admin_request("GET", "/metrics")
"""

import hashlib
import os
import subprocess

from .certs import CertDir
from .config import simple_config
from .gantry import Gantry
from .procs import _mkdtemp, free_port
from .client import request
from .servers import Origin, OtlpReceiver
from .redis_server import RedisServer

API_KEY = "everything-key"


def _hashed(key):
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class Everything:
    def __init__(self, workers=2):
        self.workers = workers
        self._open = []

    def _enter(self, obj):
        self._open.append(obj)
        return obj.__enter__()

    def __enter__(self):
        try:
            self.origin = self._enter(Origin())
            self.redis = self._enter(RedisServer())
            self.rx = self._enter(OtlpReceiver())
            self.certs = CertDir("everything")
            self.certs.make_ca()
            self.certs.make_leaf("srv", "a.test", ["DNS:a.test", "IP:127.0.0.1"])
            self.tmp = _mkdtemp("everything")
            self.tls_port = free_port()
            self.config = self._config()
            self.g = self._enter(Gantry(self.config))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        while self._open:
            self._open.pop().__exit__(*exc)

    def _config(self):
        o, dead = self.origin, free_port()
        cfg = simple_config(o, prefix="/a", name="a", workers=self.workers,
                            http2={"cleartext": True},
                            tls={"listen": "127.0.0.1:%d" % self.tls_port,
                                 "certificates": [{"cert": self.certs.path("srv.pem"),
                                                   "key": self.certs.path("srv.key")}]})
        cfg["services"][0].update(
            strip_prefix=True, circuit_breaker={"failure_threshold": 2},
            health_check={"path": "/health", "interval": "200ms", "timeout": "100ms"},
            cache={"ttl": "10s"}, auth={"methods": ["api_key"]}, metrics={"consumers": True},
            slo={"latency_p99": "250ms", "error_rate": 0.02})
        cfg["services"] += [
            {"name": "b", "prefix": "/b", "strip_prefix": True,
             "targets": [o.target(), "http://127.0.0.1:%d" % dead],
             "circuit_breaker": {"failure_threshold": 1},
             "outlier_detection": {"consecutive_failures": 1},
             "retries": {"attempts": 2}},
            {"name": "c", "prefix": "/c", "strip_prefix": True, "targets": [o.target()],
             "cache": {"ttl": "10s", "backend": "redis"}},
        ]
        cfg["auth"] = {"consumers": [{"id": "alice", "api_keys": [_hashed(API_KEY)]}]}
        cfg["rate_limit"] = {"backend": "redis", "redis": {"url": self.redis.url()},
                             "limits": [{"name": "all", "limit": 100000, "period": "1s",
                                         "key": "global"}]}
        cfg["tracing"] = {"endpoint": self.rx.endpoint(), "flush_interval": "20ms",
                          "sample_ratio": 1}
        cfg["hub"] = {"channels": [{"channels": ["news"], "subscribe": ["*"]}],
                      "backend": "redis"}
        cfg["identity"] = {
            "sqlite": os.path.join(self.tmp, "identity.db"), "issuer": "https://gantry.test",
            "audience": "api", "jwt": {"kid": "id1", "secret": "everything-secret-" + "0" * 32},
            "password": {"opslimit": 1, "memlimit": "8KiB", "min_length": 10},
            "revocation": {"backend": "redis"}}
        cfg["audit"] = {"file": os.path.join(self.tmp, "audit.log")}
        return cfg

    def traffic(self):
        """Requests of every kind: a consumer's, cached (a miss then a hit), to a service with a
        dead target (a connect error, an ejection, a retry), over TLS with HTTP/2 and over
        cleartext HTTP/2."""
        port, key = self.g.port, {"X-API-Key": API_KEY}
        for _ in range(2):
            assert request(port, "GET", "/a/echo/x", headers=key).status == 200
            assert request(port, "GET", "/c/echo/y").status == 200
        assert request(port, "GET", "/a/echo/x").status == 401
        for _ in range(4):
            request(port, "GET", "/b/echo/z")
        request(port, "GET", "/nowhere")
        for args in (["--http2", "--cacert", self.certs.path("ca.pem"), "--resolve",
                      "a.test:%d:127.0.0.1" % self.tls_port, "-H", "X-API-Key: " + API_KEY,
                      "https://a.test:%d/a/echo/tls" % self.tls_port],
                     ["--http2-prior-knowledge", "-H", "X-API-Key: " + API_KEY,
                      "http://127.0.0.1:%d/a/echo/h2c" % port]):
            p = subprocess.run(["curl", "-sS", "-m", "10", "-o", "/dev/null", "-w",
                                "%{http_version} %{http_code}"] + args,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
            assert p.stdout == b"2 200", (args, p.stdout, p.stderr)
