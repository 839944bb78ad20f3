"""metrics.proxy_path on the proxy port: a bad path is a config error with its place (never a
crash of check, start or reload), the path cannot hide behind a probe, a 401 carries its
challenge, other methods get 405 and a trailing slash is the same endpoint, as on the admin
listener."""

import json
import os
import signal

import gwtest
from gwtest import Gantry, Origin, request

KEY = {"Authorization": "Bearer s3cret"}


def keyed(o, **metrics):
    m = {"expose_on_proxy": True, "proxy_api_key": "s3cret"}
    m.update(metrics)
    return gwtest.simple_config(o, prefix="/", metrics=m)


def check(cfg):
    path = os.path.join(gwtest._mkdtemp("mpath"), "gantry.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return gwtest.run_gantry(["check", path]), path


def test_a_bad_proxy_path_is_an_error_with_its_place():
    for bad in ("metrics", "/metrics/", "", "/m?x=1", "/m x", 5):
        r, path = check(keyed(80, proxy_path=bad))
        out = r.stdout + r.stderr
        assert r.returncode == 1, (bad, r.returncode, out)
        assert "metrics.proxy_path" in out and path + ":" in out, (bad, out)


def test_a_reload_with_a_bad_proxy_path_keeps_the_old_config():
    with Origin() as o:
        with Gantry(keyed(o)) as g:
            assert request(g.port, "GET", "/metrics", headers=KEY).status == 200
            off = len(g.stderr())
            g.write_config(keyed(o, proxy_path="_gw/metrics"))
            g.signal(signal.SIGHUP)
            gwtest.wait_until(lambda: "reload refused" in g.stderr()[off:], 10,
                              message="the reload refused")
            assert "metrics.proxy_path" in g.stderr()[off:], g.logs()
            assert g.alive(), g.logs()
            assert request(g.port, "GET", "/metrics", headers=KEY).status == 200
            assert request(g.port, "GET", "/echo/x").status == 200


def test_the_proxy_path_cannot_be_a_probes_path():
    for path, probes in (("/health", {}), ("/ready", {}), ("/live", {"health": "/live"}),
                         ("/m", {"ready": "/m/json"}), ("/m", {"startup": "/m/health-score"})):
        cfg = keyed(80, proxy_path=path)
        if probes:
            cfg["probes"] = probes
        r, file = check(cfg)
        out = r.stdout + r.stderr
        assert r.returncode == 1, (path, probes, out)
        assert "metrics.proxy_path" in out and "probes." in out, (path, probes, out)
    # Not when metrics stay off the proxy port: then the path is not in use.
    cfg = gwtest.simple_config(80, metrics={"proxy_path": "/health"})
    assert check(cfg)[0].returncode == 0


def test_a_refused_scrape_says_how_to_authenticate():
    with Origin() as o:
        with Gantry(keyed(o)) as g:
            for headers in (None, {"Authorization": "Bearer nope"}):
                r = request(g.port, "GET", "/metrics", headers=headers)
                assert r.status == 401, r
                assert (r.header("WWW-Authenticate") or "").startswith("Bearer realm="), r.headers


def test_other_methods_get_405_and_a_trailing_slash_is_the_same_endpoint():
    with Origin() as o:
        with Gantry(keyed(o)) as g:
            for path in ("/metrics", "/metrics/json", "/metrics/health-score"):
                r = request(g.port, "POST", path, headers=KEY, body=b"x")
                assert r.status == 405 and r.header("X-Origin-Port") is None, (path, r)
                assert r.header("Allow") == "GET, HEAD", (path, r.headers)
                # Without the key the method is not told: the key is asked for first.
                assert request(g.port, "DELETE", path).status == 401, path
            r = request(g.port, "GET", "/metrics/", headers=KEY)
            assert r.status == 200 and r.header("X-Origin-Port") is None, r
            assert "gantry_http_requests_total" in r.body.decode()
            r = request(g.port, "GET", "/metrics/json/", headers=KEY)
            assert r.status == 200 and "services" in r.json(), r
            # Anything else under the path is still the service's.
            r = request(g.port, "POST", "/metrics/other", body=b"x")
            assert r.header("X-Origin-Port") == str(o.port), r


if __name__ == "__main__":
    gwtest.main(globals())
