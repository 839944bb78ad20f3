"""gantry's admin API under test (the test_admin_api*.py files): configs of named services,
one admin request with a JSON body, its JSON answer checked, the config file as gantry holds
it, and where a path is routed.

    with Origin() as a, Gantry(config(svc("users", "/api/users", a))) as g:
        body = expect_json(admin(g, "GET", "/api/services/users"), 200)
        assert served_by(g, "/api/users/1", a)
"""

import json

from .client import request


def svc(name, prefix, *origins, **extra):
    """A service named name on prefix (a string or a list) with origins as its targets, extra
    keys added as they are."""
    return dict({"name": name, "prefix": prefix, "targets": [o.url() for o in origins]}, **extra)


def config(*services, **top):
    """A config of services on one worker with the access log off, top-level keys added."""
    cfg = {"workers": 1, "services": list(services), "log": {"access": "off"}}
    cfg.update(top)
    return cfg


def admin(g, method, path, body=None, headers=None, **kw):
    """One admin request; body (unless bytes, sent as is) is sent as JSON."""
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body)
    hs = list(headers or [])
    if body is not None:
        hs.append(("Content-Type", "application/json"))
    return request(g.admin_port, method, path, headers=hs, body=body, **kw)


def expect_json(r, status):
    """r's JSON body, once r is a JSON answer with status (an error's body says it too)."""
    assert r.status == status, (r.status, r.body[:500])
    assert r.header("Content-Type") == "application/json", r.headers
    body = r.json()
    if status >= 400:
        assert body["status"] == status and isinstance(body["error"], str), body
    return body


def file_text(g):
    """gantry's config file as it is now."""
    with open(g.config_path) as f:
        return f.read()


def served_by(g, path, origin):
    """The request reached origin (whatever it answered)."""
    r = g.request("GET", path)
    return r.header("X-Origin-Port") == str(origin.port)
