#!/usr/bin/env python3
"""YAML config files and environment overrides through the real binary: `gantry -c FILE.yaml`
serves and reloads (a refused YAML reload logs file:line:column and keeps serving), `gantry
check` and `gantry convert` on both formats, and LOG_LEVEL, GATEWAY_PORT and ADMIN_API_KEY
winning over the file."""
import json
import os
import re
import signal
import tempfile

import gwtest
from gwtest import Gantry, Origin, request
from gwtest.procs import free_port


def to_yaml(cfg, path):
    """Writes cfg (a dict) as YAML at path with `gantry convert`."""
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "c.json")
        with open(src, "w") as f:
            json.dump(cfg, f)
        r = gwtest.run_gantry(["convert", src])
        assert r.returncode == 0, r.stderr
    with open(path + ".tmp", "w") as f:
        f.write(r.stdout)
    os.replace(path + ".tmp", path)
    return r.stdout


def config(origin, **top):
    admin = {"listen": "127.0.0.1:%d" % free_port()}
    return gwtest.simple_config(origin, prefix="/echo", admin=admin, **top)


def test_runs_from_yaml_and_reloads_it():
    with Origin() as o, tempfile.TemporaryDirectory() as d:
        cfg = config(o)
        path = os.path.join(d, "gantry.yaml")
        text = to_yaml(cfg, path)
        assert "services:\n- name: svc\n" in text, text
        with Gantry(cfg, args=("-c", path)) as g:
            assert request(g.port, "GET", "/echo/x").status == 200
            assert request(g.port, "GET", "/status/200").status == 404
            cfg2 = dict(cfg, services=cfg["services"] + [
                {"name": "b", "prefix": "/status", "targets": [o.target()]}])
            to_yaml(cfg2, path)
            g.signal(signal.SIGHUP)
            gwtest.wait_until(lambda: request(g.port, "GET", "/status/200").status == 200, 10,
                              message="the reloaded YAML's route")
            with open(path) as f:
                text = f.read()
            assert "\nworkers: 1\n" in text
            with open(path, "w") as f:
                f.write(text.replace("\nworkers: 1\n", "\nworkers: many\n"))
            g.signal(signal.SIGHUP)
            g.wait_log(re.escape(path) + r":\d+:10: workers: expected an integer", stream="stderr")
            assert request(g.port, "GET", "/status/200").status == 200  # the old config serves


def test_check_and_convert():
    with tempfile.TemporaryDirectory() as d:
        bad = os.path.join(d, "bad.yml")
        with open(bad, "w") as f:
            f.write("listen: 127.0.0.1:8000\nservices:\n  - name: s\n    prefx: /p\n"
                    "    targets: [http://h:1]\n")
        r = gwtest.run_gantry(["check", bad])
        assert r.returncode == 1
        assert "%s:4:5: services[0].prefx: unknown key \"prefx\" (did you mean \"prefix\"?)" % bad \
            in r.stderr, r.stderr
        good = os.path.join(d, "good.yaml")
        with open(good, "w") as f:
            f.write("listen: 127.0.0.1:8000\nworkers: '2'\nservices:\n  - name: s\n"
                    "    prefix: /p\n    targets: [http://h:1]\n")
        r = gwtest.run_gantry(["check", good])
        assert r.returncode == 0 and "ok (1 service)" in r.stdout, r.stderr
        # YAML -> JSON -> YAML keeps the values and their types.
        r = gwtest.run_gantry(["convert", good])
        assert r.returncode == 0, r.stderr
        tree = json.loads(r.stdout)
        assert tree["workers"] == "2" and tree["services"][0]["targets"] == ["http://h:1"]
        js = os.path.join(d, "good.json")
        with open(js, "w") as f:
            f.write(r.stdout)
        r = gwtest.run_gantry(["convert", js])
        assert r.returncode == 0 and "workers: '2'\n" in r.stdout, r.stdout
        assert gwtest.run_gantry(["check", js]).returncode == 0
        # Errors: syntax with a position (exit 1), usage (exit 2).
        broken = os.path.join(d, "broken.yaml")
        with open(broken, "w") as f:
            f.write("a: [1,\n")
        r = gwtest.run_gantry(["convert", broken])
        assert r.returncode == 1 and re.match(re.escape(broken) + r":\d+:\d+: YAML: ", r.stderr)
        assert gwtest.run_gantry(["convert"]).returncode == 2
        assert gwtest.run_gantry(["convert", good, js]).returncode == 2
        assert "gantry convert FILE" in gwtest.run_gantry(["--help"]).stdout


def test_a_target_twice_is_refused_at_its_place_by_check_and_at_start():
    """The same target twice in one service: `gantry check` and a starting gantry both say
    file:line:column and the key path of the second one (it once failed at start with only
    "services[0].targets: cannot build the balancer")."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "dup.json")
        with open(path, "w") as f:
            f.write('{\n  "listen": "127.0.0.1:%d",\n  "services": [\n'
                    '    {"name": "s", "prefix": "/s", "targets": [\n'
                    '      {"url": "http://127.0.0.1:9"},\n'
                    '      {"url": "http://127.0.0.1:9", "weight": 2}]}\n  ]\n}\n' % free_port())
        want = ('%s:6:15: services[0].targets[1].url: "http://127.0.0.1:9" is the same target as '
                'targets[0] (host 127.0.0.1, port 9)' % path)
        r = gwtest.run_gantry(["check", path])
        assert r.returncode == 1 and want in r.stderr, r.stderr
        r = gwtest.run_gantry(["-c", path], timeout=30)
        assert r.returncode == 1 and want in r.stderr, r.stderr
        assert "cannot build the balancer" not in r.stderr, r.stderr


def test_environment_overrides_win_over_the_file():
    with Origin() as o:
        cfg = config(o, log={"access": "stdout", "level": "info"})
        with Gantry(cfg) as g:
            g.wait_log("gantry listening", stream="stderr")
        # LOG_LEVEL=warn: the info line at start is gone; GATEWAY_PORT moves the listener.
        port = free_port()
        with Gantry(cfg, extra_env={"LOG_LEVEL": "warn", "GATEWAY_PORT": str(port)},
                    port=port) as g:
            assert request(port, "GET", "/echo/x").status == 200
            g.stop()
            assert "gantry listening" not in g.stderr(), g.stderr()
        # ADMIN_API_KEY: the admin API now wants the key.
        key = "k-" + "0123456789abcdef" * 2
        with Gantry(cfg, extra_env={"ADMIN_API_KEY": key}) as g:
            assert g.admin_request("GET", "/gateway/status").status == 401
            r = g.admin_request("GET", "/gateway/status",
                                headers={"Authorization": "Bearer " + key})
            assert r.status == 200, r
        # A bad value: the start fails and names the variable.
        r = gwtest.run_gantry(["check", "/dev/null"], env={"LOG_LEVEL": "loud"})
        assert r.returncode == 1
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "g.json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            r = gwtest.run_gantry(["check", path], env={"LOG_LEVEL": "loud"})
            assert r.returncode == 1
            assert "(from environment variable LOG_LEVEL)" in r.stderr, r.stderr


if __name__ == "__main__":
    gwtest.main(globals())
