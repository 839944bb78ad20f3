#!/usr/bin/env python3
"""Streaming and memory (issue "Proxy core"): gigabyte bodies in both directions pass through
gantry with its resident memory staying flat, chunked bodies are re-framed intact, and a slow
reader makes gantry stop reading from the upstream instead of buffering.

gantry's RSS (VmRSS) is sampled every 0.2 s during each transfer and compared with its RSS
after a warm-up exchange. A proxy that buffered a body would grow by the body's size (256 MiB
to 1 GiB here); the bound (16 MiB) allows for the allocator.
"""

import hashlib
import socket
import threading
import time

import gwtest
from gwtest import Gantry, HttpConn, Origin

GIB = 1024 * 1024 * 1024
MIB = 1024 * 1024


# Peak RSS minus idle RSS must stay under this, sanitizer build included (measured there:
# under 1 MiB of growth for 1 GiB bodies, since ASan's shadow of the fixed buffers is touched
# during the warm-up and nothing is allocated per chunk).
RSS_BOUND_KIB = 16 * 1024


class RssSampler:
    """Samples gantry's VmRSS every 0.2 s in a thread while the with block runs."""

    def __init__(self, g, interval=0.2):
        self.g = g
        self.interval = interval
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.samples.append(self.g.rss_kib())
            except (OSError, gwtest.HarnessError):
                return
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        try:
            self.samples.append(self.g.rss_kib())
        except (OSError, gwtest.HarnessError):
            pass

    @property
    def peak(self):
        return max(self.samples)


def streaming_config(o):
    return gwtest.simple_config(
        o,
        limits={"max_body_bytes": 0},
        timeouts={"client_body": "30s", "upstream_response": "60s"},
    )


def warm_up(g):
    """One upload and one download of a few MiB, so that every buffer gantry uses for a
    transfer exists; returns the idle RSS afterwards (KiB)."""
    with HttpConn(g.port, timeout=30) as c:
        for _ in range(2):
            c.send_request("POST", "/upload", body=8 * MIB)
            assert c.read_response().json()["received"] == 8 * MIB
            c.send_request("GET", "/bytes/%d" % (8 * MIB))
            assert c.read_response(hash_body=True).body_len == 8 * MIB
            c.send_request("POST", "/upload", headers={"Transfer-Encoding": "chunked"})
            c.send_pattern_chunked(MIB)
            assert c.read_response().json()["received"] == MIB
            c.send_request("GET", "/chunked/%d" % MIB)
            assert c.read_response(hash_body=True).body_len == MIB
    return g.rss_kib()


def check_rss(what, idle, sampler, n):
    growth = sampler.peak - idle
    print(
        "  %s: %d bytes, idle RSS %.1f MiB, peak %.1f MiB, growth %.1f MiB (bound %.0f MiB, "
        "%d samples)"
        % (what, n, idle / 1024, sampler.peak / 1024, growth / 1024, RSS_BOUND_KIB / 1024,
           len(sampler.samples)),
        flush=True,
    )
    assert len(sampler.samples) >= 2, sampler.samples
    assert growth < RSS_BOUND_KIB, "%s: RSS grew by %.1f MiB" % (what, growth / 1024)


@gwtest.timeout(150)
def test_1gib_upload_and_download_with_flat_memory():
    with Origin() as o, Gantry(streaming_config(o)) as g:
        idle = warm_up(g)
        with HttpConn(g.port, timeout=60) as c:
            with RssSampler(g) as s:
                t0 = time.monotonic()
                c.send_request("POST", "/upload", body=GIB)  # 256 KiB sends
                r = c.read_response()
                t_up = time.monotonic() - t0
            assert r.status == 200, r
            assert r.json() == {"received": GIB, "sha256": gwtest.pattern_sha256(GIB)}, r.json()
            check_rss("upload (%.1f s)" % t_up, idle, s, GIB)

            with RssSampler(g) as s:
                t0 = time.monotonic()
                c.send_request("GET", "/bytes/%d" % GIB)
                r = c.read_response(hash_body=True)
                t_down = time.monotonic() - t0
            assert r.status == 200 and r.header("Content-Length") == str(GIB), r
            assert r.body_len == GIB and r.body_sha256 == gwtest.pattern_sha256(GIB)
            check_rss("download (%.1f s)" % t_down, idle, s, GIB)
        assert o.stats()["requests"] == 10


@gwtest.timeout(90)
def test_256mib_chunked_upload_and_download_intact():
    n = 256 * MIB + 12345  # a last partial chunk
    with Origin() as o, Gantry(streaming_config(o)) as g:
        idle = warm_up(g)
        with HttpConn(g.port, timeout=60) as c:
            with RssSampler(g) as s:
                c.send_request("POST", "/upload", headers={"Transfer-Encoding": "chunked"})
                c.send_pattern_chunked(n)
                r = c.read_response()
            assert r.status == 200, r
            assert r.json() == {"received": n, "sha256": gwtest.pattern_sha256(n)}, r.json()
            check_rss("chunked upload", idle, s, n)

            with RssSampler(g) as s:
                c.send_request("GET", "/chunked/%d" % n)
                r = c.read_response(hash_body=True)
            assert r.status == 200 and r.framing == "chunked", (r, r.headers)
            assert r.header("Content-Length") is None
            assert r.body_len == n and r.body_sha256 == gwtest.pattern_sha256(n)
            check_rss("chunked download", idle, s, n)
        last = o.last_requests()
        assert ["transfer-encoding", "chunked"] in [[k.lower(), v] for k, v in last[-2]["headers"]]


@gwtest.timeout(90)
def test_slow_reader_backpressure_keeps_memory_bounded():
    # 512 MiB download; the client reads 64 MiB, stops reading for 2 s, then reads the rest.
    # gantry must stop reading from the origin while the client does not read (its RSS stays
    # flat during the pause) and the download completes intact.
    n = 512 * MIB
    with Origin() as o, Gantry(streaming_config(o)) as g:
        idle = warm_up(g)
        with HttpConn(g.port, timeout=60) as c:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
            with RssSampler(g) as s:
                c.send_request("GET", "/bytes/%d" % n)
                got = 0
                head = b""
                while b"\r\n\r\n" not in head:
                    head += c.sock.recv(65536)
                head, _, rest = head.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200"), head
                assert b"\r\nContent-Length: %d" % n in head, head
                h = hashlib.sha256(rest)
                got = len(rest)
                buf = bytearray(256 * 1024)
                view = memoryview(buf)
                paused = False
                while got < n:
                    if not paused and got >= 64 * MIB:
                        paused = True
                        pause_samples = len(s.samples)
                        time.sleep(2)  # the slow reader: what is under test, not a wait
                        during = s.samples[pause_samples:]
                    k = c.sock.recv_into(view, min(len(buf), n - got))
                    assert k > 0, "connection closed after %d bytes" % got
                    h.update(view[:k])
                    got += k
            assert got == n and h.hexdigest() == gwtest.pattern_sha256(n)
            assert len(during) >= 5, during
            check_rss("slow reader", idle, s, n)
            # While paused, memory did not climb: gantry stopped reading from the origin.
            assert max(during) - min(during) < 4 * 1024, during
            # The connection is still usable afterwards.
            c.send_request("GET", "/echo/after")
            assert c.read_response().status == 200


if __name__ == "__main__":
    gwtest.main(globals())
