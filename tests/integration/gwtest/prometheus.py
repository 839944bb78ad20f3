"""A real Prometheus (Debian's prometheus package, installed by scripts/deps.sh test) for the
integration tests, and its HTTP API.

    require_prometheus()                       # skips the test when it is not installed
    with PrometheusServer(config_text) as p:   # on a free loopback port, its own TSDB dir
        p.path("alerts.yml")                   # a file beside its config (rule_files are
                                               # resolved relative to the config file)
        p.wait_ready()                         # polls /-/ready
        p.wait_scraped()                       # polls /api/v1/targets: every target up and
                                               # scraped after the call
        p.query("sum(up)")                     # /api/v1/query: the result list (status checked)
        p.api("/api/v1/rules")                 # any GET of the API, parsed JSON

Write the files the config refers to before starting it: PrometheusServer(config_text,
files={"alerts.yml": text}). The server is tracked like the harness's other processes: stopped
when the test that started it ends (or when the script exits).
"""

import datetime
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from . import procs
from .runner import skip


def require_prometheus():
    if shutil.which("prometheus") is None:
        skip("prometheus is not installed (scripts/deps.sh test installs it)")


def rfc3339(s):
    """Seconds since the epoch of Prometheus's timestamps (2026-12-06T10:15:30.123456789Z)."""
    s = s.rstrip("Z")
    head, _, frac = s.partition(".")
    dt = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    return dt.timestamp() + float("0." + (frac[:6] or "0"))


class PrometheusServer:
    """prometheus --config.file=<tmp>/prometheus.yml on a free loopback port."""

    name = "prometheus"

    def __init__(self, config_text, files=None):
        require_prometheus()
        self.port = procs.free_port()
        self.dir = procs._mkdtemp("prometheus")
        for name, text in (files or {}).items():
            with open(self.path(name), "w") as f:
                f.write(text)
        self.config_path = self.path("prometheus.yml")
        with open(self.config_path, "w") as f:
            f.write(config_text)
        self.log_path = self.path("prometheus.log")
        self._log = open(self.log_path, "w")
        self.proc = procs._spawn(
            [shutil.which("prometheus"), "--config.file=" + self.config_path,
             "--storage.tsdb.path=" + self.path("data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=self._log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        procs._track(self)

    def path(self, name):
        return os.path.join(self.dir, name)

    def api(self, path, **params):
        url = "http://127.0.0.1:%d%s" % (self.port, path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            # A bad query is answered 400 with {"status": "error", ...}: return it.
            return json.loads(e.read())

    def query(self, q):
        r = self.api("/api/v1/query", query=q)
        assert r["status"] == "success", (q, r)
        return r["data"]["result"]

    def ready(self):
        if self.proc.poll() is not None:
            raise procs.HarnessError("prometheus exited with status %s\n%s"
                                     % (self.proc.returncode, self.logs()))
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port,
                                        timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def wait_ready(self, timeout=60):
        procs.wait_until(self.ready, timeout, interval=0.2, message="prometheus ready")

    def scraped_since(self, t):
        """Every active target is up and was scraped after wall time t."""
        ts = self.api("/api/v1/targets")["data"]["activeTargets"]
        return bool(ts) and all(
            tg.get("health") == "up" and tg.get("lastScrape")
            and rfc3339(tg["lastScrape"]) > t for tg in ts)

    def wait_scraped(self, timeout=60):
        t0 = time.time()
        procs.wait_until(lambda: self.scraped_since(t0), timeout, interval=0.2,
                         message="prometheus scraped every target")

    def logs(self):
        self._log.flush()
        return procs._read_text(self.log_path)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=10):
        procs._sigterm_then_kill(self.proc, timeout)
        procs._untrack(self)
        self._log.close()

    def _kill_quietly(self):
        try:
            self.stop()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
