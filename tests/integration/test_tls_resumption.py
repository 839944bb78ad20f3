#!/usr/bin/env python3
"""TLS session resumption on the HTTPS listener, with openssl s_client: tickets (TLS 1.3 and
1.2) and the session cache survive a reload, a session is never resumed under another server
name, and a TLS 1.3 resumption gets a fresh ticket. With client certificates:
test_tls_client_auth.py.
"""

import signal

import gwtest
from gwtest import Gantry, Origin
from gwtest.tls_listener import path, s_client, tls_config


def fetch_with_session(g, sess_in=None, sess_out=None, proto="-tls1_3", name="x.example.com"):
    """One request over s_client (so a TLS 1.3 ticket arrives before the connection ends)."""
    args = [proto, "-servername", name, "-ign_eof"]
    if sess_in:
        args += ["-sess_in", sess_in]
    if sess_out:
        args += ["-sess_out", sess_out]
    req = b"GET /echo/r HTTP/1.1\r\nHost: x.example.com\r\nConnection: close\r\n\r\n"
    rc, out = s_client(g, *args, inp=req)
    assert "HTTP/1.1 200" in out, out
    return out


def test_session_resumption_tickets_and_cache_survive_reload():
    with Origin() as o, Gantry(tls_config(o)) as g:
        for proto in ("-tls1_3", "-tls1_2"):
            sess = path("sess" + proto)
            out = fetch_with_session(g, sess_out=sess, proto=proto)
            assert "New," in out, out
            out = fetch_with_session(g, sess_in=sess, proto=proto)
            assert "Reused," in out, out
            # RFC 6066 3: never resumed under another server name (a full handshake instead),
            # even one the same certificate serves
            out = fetch_with_session(g, sess_in=sess, proto=proto, name="y.example.com")
            assert "New," in out and "Reused," not in out, (proto, out)
            # a reload builds new contexts; the ticket keys are the process's
            off = len(g.stderr())
            g.signal(signal.SIGHUP)
            gwtest.wait_until(lambda: "configuration reloaded" in g.stderr()[off:], 10,
                              message="reload")
            out = fetch_with_session(g, sess_in=sess, proto=proto)
            assert "Reused," in out, (proto, out)
        assert g.metric_total("gantry_tls_resumed_total") >= 4
    # without tickets, TLS 1.2 resumes from the session cache
    with Origin() as o, Gantry(tls_config(o, session_tickets=False)) as g:
        sess = path("sess-cache")
        fetch_with_session(g, sess_out=sess, proto="-tls1_2")
        out = fetch_with_session(g, sess_in=sess, proto="-tls1_2")
        assert "Reused," in out, out
        out = fetch_with_session(g, sess_in=sess, proto="-tls1_2", name="y.example.com")
        assert "New," in out and "Reused," not in out, out


def test_tls13_resumption_gets_a_fresh_ticket():
    # RFC 8446 C.4: a client should use a ticket once. OpenSSL's client keeps the session it
    # resumed with, which does not resume again: without a new ticket after each resumption a
    # client that reconnects in a loop (wrk) does a full handshake every other time.
    with Origin() as o, Gantry(tls_config(o)) as g:
        first, second = path("fresh-1"), path("fresh-2")
        fetch_with_session(g, sess_out=first)
        out = fetch_with_session(g, sess_in=first, sess_out=second)
        assert "Reused," in out, out
        rc, msgs = s_client(g, "-tls1_3", "-servername", "x.example.com", "-sess_in", first,
                            "-msg", "-ign_eof",
                            inp=b"GET /echo/r HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert "Reused," in msgs, msgs
        assert "NewSessionTicket" in msgs, msgs
        # the fresh ticket resumes in turn
        out = fetch_with_session(g, sess_in=second)
        assert "Reused," in out, out


if __name__ == "__main__":
    gwtest.main(globals())
