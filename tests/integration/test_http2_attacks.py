#!/usr/bin/env python3
"""HTTP/2 attacks past the classic ones of test_http2.py (issue 15, found by an outside audit),
with raw frames over h2c: MadeYouReset (CVE-2025-8671: the client makes gantry reset its
streams instead of resetting them itself), floods of frames that carry no work (empty DATA,
CVE-2019-9518; PRIORITY; tiny WINDOW_UPDATEs), a stream id that goes down (RFC 9113 5.1.1), and
an :authority with the scheme's default port next to a host without it (RFC 9110 4.2.3).
"""

import struct
import sys

try:
    import hpack
except ImportError:  # Debian's python3-hpack, under a Python that is not Debian's
    sys.path.append("/usr/lib/python3/dist-packages")
    import hpack

import gwtest
from gwtest import Gantry, Origin, request
from gwtest.h2frames import (ENHANCE_YOUR_CALM, FLOW_CONTROL_ERROR, PROTOCOL_ERROR, frame, get,
                             goaway_code, h2c_config, headers, metric, post, raw_conn, read_frames,
                             send)


def test_made_you_reset_ends_with_goaway():
    # The client never sends RST_STREAM: each request is followed by a WINDOW_UPDATE that
    # overflows its stream's window (RFC 9113 6.9.1), so gantry resets the stream with
    # FLOW_CONTROL_ERROR after the request went upstream. Those resets share the budget of
    # the client's own (max_resets_per_second).
    with Origin() as o, Gantry(h2c_config(o, max_resets_per_second=20)) as g:
        s = raw_conn(g.port)
        enc = hpack.Encoder()
        sid = 1
        frames = []
        for _ in range(10):
            out = b""
            for _ in range(10):
                out += headers(enc, sid, get("/sleep/3000"))
                out += frame(8, 0, sid, struct.pack(">I", 0x7FFFFFFF))
                sid += 2
            send(s, out)
            frames += read_frames(s, until=lambda fs: any(t in (3, 7) for t, _, _, _ in fs))
            if goaway_code(frames) is not None:
                break
        frames += read_frames(s, until=lambda fs: goaway_code(frames + fs) is not None)
        s.close()
        resets = [struct.unpack(">I", p)[0] for t, f, i, p in frames if t == 3]
        assert FLOW_CONTROL_ERROR in resets, frames[:5]
        assert goaway_code(frames) == ENHANCE_YOUR_CALM, frames[-3:]
        assert metric(g, "gantry_http2_refused_total", "provoked_reset") == 1
        assert metric(g, "gantry_http2_refused_total", "rapid_reset") == 0
        # gantry is fine afterwards.
        assert request(g.port, "GET", "/echo/after").status == 200


def test_a_few_provoked_resets_stay_within_the_budget():
    with Origin() as o, Gantry(h2c_config(o, max_resets_per_second=20)) as g:
        s = raw_conn(g.port)
        enc = hpack.Encoder()
        out = b""
        for sid in (1, 3, 5):
            out += headers(enc, sid, get("/echo/y"), end_stream=False)
            out += frame(8, 0, sid, struct.pack(">I", 0x7FFFFFFF))
        out += headers(enc, 7, get("/echo/ok"))
        send(s, out)
        frames = read_frames(s, until=lambda fs: any(
            t in (0, 1) and f & 1 and sid == 7 for t, f, sid, _ in fs))
        s.close()
        assert goaway_code(frames) is None, frames
        assert metric(g, "gantry_http2_refused_total", "provoked_reset") == 0


def empty_frame_floods(enc):
    """What three floods of frames that carry no work send, each on its own connection."""
    yield "empty DATA", headers(enc, 1, post("/echo/z"), end_stream=False) + frame(0, 0, 1) * 2000
    yield "PRIORITY on idle streams", b"".join(
        frame(2, 0, 2 * i + 1, struct.pack(">IB", 0, 15)) for i in range(2000))
    yield "WINDOW_UPDATE +1", frame(8, 0, 0, struct.pack(">I", 1)) * 2000


def test_floods_of_frames_without_work_end_with_goaway():
    # CVE-2019-9518 (zero-length DATA without END_STREAM), PRIORITY frames for streams that
    # never open, WINDOW_UPDATEs of one byte: each costs gantry a frame's work and does nothing.
    with Origin() as o, Gantry(h2c_config(o, max_empty_frames_per_second=100)) as g:
        for n, (kind, data) in enumerate(empty_frame_floods(hpack.Encoder())):
            s = raw_conn(g.port)
            send(s, data)
            frames = read_frames(s, until=lambda fs: goaway_code(fs) is not None)
            s.close()
            assert goaway_code(frames) == ENHANCE_YOUR_CALM, (kind, frames[-3:])
            assert metric(g, "gantry_http2_refused_total", "empty_frame_flood") == n + 1, kind
        assert request(g.port, "GET", "/echo/after").status == 200


def test_a_request_with_a_few_empty_frames_is_answered():
    with Origin() as o, Gantry(h2c_config(o, max_empty_frames_per_second=100)) as g:
        s = raw_conn(g.port)
        enc = hpack.Encoder()
        out = headers(enc, 1, post("/echo/p"), end_stream=False) + frame(0, 0, 1) * 20
        out += frame(2, 0, 3, struct.pack(">IB", 0, 15)) * 20
        out += frame(8, 0, 0, struct.pack(">I", 1)) * 20
        out += frame(0, 1, 1, b"body")
        send(s, out)
        frames = read_frames(s, until=lambda fs: any(
            t in (0, 1) and f & 1 and sid == 1 for t, f, sid, _ in fs))
        s.close()
        assert goaway_code(frames) is None, frames
        assert any(t == 1 and sid == 1 for t, f, sid, _ in frames), frames
        assert metric(g, "gantry_http2_refused_total", "empty_frame_flood") == 0


def test_a_stream_id_below_the_last_one_is_a_connection_error():
    # RFC 9113 5.1.1: stream 3 after stream 5 (3 was skipped, so it is closed for good) is a
    # connection error PROTOCOL_ERROR; nghttp2 alone ignored the HEADERS.
    with Origin() as o, Gantry(h2c_config(o)) as g:
        s = raw_conn(g.port)
        enc = hpack.Encoder()
        send(s, headers(enc, 5, get("/echo/five")))
        frames = read_frames(s, until=lambda fs: any(
            t in (0, 1) and f & 1 and sid == 5 for t, f, sid, _ in fs))
        send(s, headers(enc, 3, get("/echo/three")) + headers(enc, 7, get("/echo/seven")))
        frames += read_frames(s, until=lambda fs: goaway_code(fs) is not None)
        s.close()
        assert goaway_code(frames) == PROTOCOL_ERROR, frames[-3:]
        assert o.stats()["by_path"].get("/echo/three", 0) == 0
        assert o.stats()["by_path"].get("/echo/seven", 0) == 0
        assert metric(g, "gantry_http2_refused_total", "protocol_error") >= 1


def test_trailers_on_an_older_open_stream_are_fine():
    with Origin() as o, Gantry(h2c_config(o)) as g:
        s = raw_conn(g.port)
        enc = hpack.Encoder()
        out = headers(enc, 1, post("/echo/t"), end_stream=False) + frame(0, 0, 1, b"body")
        out += headers(enc, 5, get("/echo/five"))  # skips 3
        out += headers(enc, 1, [("x-trailer", "t")])  # trailers end stream 1
        send(s, out)
        done = lambda fs: all(any(t in (0, 1) and f & 1 and sid == i for t, f, sid, _ in fs)
                              for i in (1, 5))
        frames = read_frames(s, until=lambda fs: done(fs) or goaway_code(fs) is not None)
        s.close()
        assert goaway_code(frames) is None, frames
        assert done(frames), frames


def answer(port, fields):
    """The :status gantry answered a one-stream request with, or ("reset", code)."""
    s = raw_conn(port)
    dec = hpack.Decoder()
    send(s, headers(hpack.Encoder(), 1, fields))
    frames = read_frames(s, until=lambda fs: any(
        sid == 1 and (t == 3 or (t in (0, 1) and f & 1)) for t, f, sid, _ in fs))
    s.close()
    for t, f, sid, p in frames:
        if sid == 1 and t == 3:
            return ("reset", struct.unpack(">I", p)[0])
        if sid == 1 and t == 1:
            return dict(dec.decode(p))[":status"]
    raise AssertionError(frames)


def test_authority_and_host_agree_up_to_the_default_port():
    # RFC 9110 4.2.3: "b.test:80" and "b.test" are the same authority for http (":443" for
    # https; an empty port is the default one too). Another port is another authority.
    https = [(":method", "GET"), (":path", "/echo/s"), (":scheme", "https")]
    with Origin() as o, Gantry(h2c_config(o)) as g:
        for auth, host in (("b.test:80", "b.test"), ("b.test", "B.test:80"), ("b.test:", "b.test"),
                           ("[::1]:80", "[::1]")):
            assert answer(g.port, get("/echo/a", auth, [("host", host)])) == "200", (auth, host)
        assert answer(g.port, https + [(":authority", "b.test:443"), ("host", "b.test")]) == "200"
        for auth, host in (("b.test:81", "b.test"), ("b.test:443", "b.test"),
                           ("c.test:80", "b.test"), ("b.test", "b.test:8080")):
            assert answer(g.port, get("/echo/a", auth, [("host", host)])) == \
                ("reset", PROTOCOL_ERROR), (auth, host)
        assert answer(g.port, https + [(":authority", "b.test:80"), ("host", "b.test")]) == \
            ("reset", PROTOCOL_ERROR)


if __name__ == "__main__":
    gwtest.main(globals())
