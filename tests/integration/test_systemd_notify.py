#!/usr/bin/env python3
"""systemd's notification protocol, spoken by gantry itself (src/runtime/sdnotify.c).

A Python datagram socket stands in for systemd: NOTIFY_SOCKET names it, as a path or as an
abstract socket ('@name'), and the test reads what gantry sends through start, a SIGHUP
reload (a good and a refused one) and the SIGTERM drain, and the watchdog pings when
WATCHDOG_USEC asks for them."""
import os
import signal
import socket
import tempfile

import gwtest
from gwtest import Gantry, Origin


class FakeSystemd:
    """The receiving end of $NOTIFY_SOCKET: every datagram, parsed into a dict."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.dir = None
        if abstract:
            name = "gantry-notify-%d-%s" % (os.getpid(), os.urandom(4).hex())
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            self.dir = tempfile.TemporaryDirectory(prefix="gwtest-notify-")
            path = os.path.join(self.dir.name, "notify.sock")
            self.sock.bind(path)
            self.env = path
        self.sock.settimeout(10)
        self.messages = []

    def next(self, timeout=10):
        self.sock.settimeout(timeout)
        data = self.sock.recv(4096).decode()
        msg = dict(line.split("=", 1) for line in data.split("\n") if line)
        self.messages.append(msg)
        return msg

    def expect(self, key, timeout=10):
        """Reads datagrams until one has key; returns it (earlier ones are kept in .messages)."""
        while True:
            msg = self.next(timeout)
            if key in msg:
                return msg

    def close(self):
        self.sock.close()
        if self.dir is not None:
            self.dir.cleanup()


def run_lifecycle(abstract):
    sd = FakeSystemd(abstract=abstract)
    try:
        with Origin() as o:
            cfg = gwtest.simple_config(o)
            with Gantry(cfg, extra_env={"NOTIFY_SOCKET": sd.env}) as g:
                ready = sd.expect("READY")
                assert ready["READY"] == "1", ready
                # READY=1 comes once the listener answers: /ready is 200 by then.
                assert gwtest.request(g.port, "GET", "/ready").status == 200

                g.signal(signal.SIGHUP)
                reloading = sd.next()
                assert reloading.get("RELOADING") == "1", reloading
                mono = int(reloading["MONOTONIC_USEC"])
                assert mono > 0
                after = sd.next()
                assert after.get("READY") == "1", after
                assert "reloaded" in after.get("STATUS", ""), after

                # A refused reload still ends with READY=1: the old config keeps serving.
                g.write_config("{ not json")
                g.signal(signal.SIGHUP)
                again = sd.next()
                assert again.get("RELOADING") == "1", again
                assert int(again["MONOTONIC_USEC"]) >= mono  # CLOCK_MONOTONIC, like systemd's
                refused = sd.next()
                assert refused.get("READY") == "1", refused
                assert "refused" in refused.get("STATUS", ""), refused

                g.signal(signal.SIGTERM)  # the drain
                stopping = sd.next()
                assert stopping.get("STOPPING") == "1", stopping
                assert g.wait_exit() == 0
    finally:
        sd.close()


def test_notifications_on_a_path_socket():
    run_lifecycle(abstract=False)


def test_notifications_on_an_abstract_socket():
    run_lifecycle(abstract=True)


def test_watchdog_pings_when_asked():
    sd = FakeSystemd(abstract=True)
    try:
        with Origin() as o:
            env = {"NOTIFY_SOCKET": sd.env, "WATCHDOG_USEC": "200000"}
            with Gantry(gwtest.simple_config(o), extra_env=env):
                sd.expect("READY")
                # Interval 200 ms: pings every 100 ms. Three in a row prove it repeats.
                for _ in range(3):
                    assert sd.expect("WATCHDOG")["WATCHDOG"] == "1"
    finally:
        sd.close()


def test_no_watchdog_for_another_pid():
    sd = FakeSystemd(abstract=True)
    try:
        with Origin() as o:
            env = {"NOTIFY_SOCKET": sd.env, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"}
            with Gantry(gwtest.simple_config(o), extra_env=env) as g:
                sd.expect("READY")
                g.signal(signal.SIGHUP)  # something that certainly sends more datagrams
                while True:
                    msg = sd.next()
                    assert "WATCHDOG" not in msg, msg
                    if msg.get("READY") == "1":
                        break
    finally:
        sd.close()


def test_without_notify_socket_nothing_changes():
    with Origin() as o, Gantry(gwtest.simple_config(o)) as g:
        assert gwtest.request(g.port, "GET", "/ready").status == 200


if __name__ == "__main__":
    gwtest.main(globals())
