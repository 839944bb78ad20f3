"""Gantry configs for the tests: simple_config() builds a one-service config, with_ports()
fills in what Gantry needs to know before it starts (the listen port, an admin port of its
own), write_config_file() writes one atomically."""

import json
import os

from .procs import Backend, free_port


def simple_config(*backends, prefix="/", name="svc", **top):
    """A one-service config on a free port: backends are Backend objects, ports or URLs.
    Keyword arguments are added at the top level (or replace the defaults)."""
    targets = []
    for b in backends:
        if isinstance(b, Backend):
            targets.append(b.target())
        elif isinstance(b, int):
            targets.append({"url": "http://127.0.0.1:%d" % b})
        elif isinstance(b, dict):
            targets.append(b)
        else:
            targets.append({"url": str(b)})
    cfg = {
        "listen": "127.0.0.1:%d" % free_port(),
        "workers": 1,
        "services": [{"name": name, "prefix": prefix, "targets": targets}],
        "log": {"access": "stdout"},
    }
    cfg.update(top)
    return cfg


def _admin_port(admin):
    """The port of an "admin" config object's listen address (None when "off" or unknown)."""
    listen = admin.get("listen") if isinstance(admin, dict) else None
    if listen is None:
        return 9000
    try:
        return _listen_port(listen)[1]
    except ValueError:
        return None


def _listen_port(listen):
    host, _, port = str(listen).rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::", "*"):
        host = "127.0.0.1"
    return host, int(port)


def with_ports(config):
    """(config, host, port, admin_port) for starting gantry on config. A dict is copied: a
    missing "listen" gets 127.0.0.1 and a free port, a missing "admin" gets
    {"listen": "127.0.0.1:<free port>"} so that gantries never share the default admin port;
    admin_port is that port, or the port of the given "admin.listen" (None when "off"). Text
    is returned as is, with host 127.0.0.1 and no ports known."""
    if not isinstance(config, dict):
        return config, "127.0.0.1", None, None
    config = dict(config)
    config.setdefault("listen", "127.0.0.1:%d" % free_port())
    host, port = _listen_port(config["listen"])
    if "admin" not in config:
        admin_port = free_port()
        config["admin"] = {"listen": "127.0.0.1:%d" % admin_port}
    else:
        admin_port = _admin_port(config["admin"])
    return config, host, port, admin_port


def write_config_file(path, config, admin_port=None):
    """Replaces the file at path atomically with config: a str as is, a dict as JSON. A dict
    without "admin" gets {"listen": "127.0.0.1:<admin_port>"} when admin_port is given."""
    if isinstance(config, dict) and "admin" not in config and admin_port:
        config = dict(config, admin={"listen": "127.0.0.1:%d" % admin_port})
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        if isinstance(config, str):
            f.write(config)
        else:
            json.dump(config, f, indent=2)
            f.write("\n")
    os.replace(tmp, path)
