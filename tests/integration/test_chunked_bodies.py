#!/usr/bin/env python3
"""Chunked request bodies streamed through gantry in many differently split writes (issue 11,
"Valid chunked request bodies are sometimes refused with 400 'invalid chunk size'").

gantry decodes a chunked body as it arrives and re-chunks it upstream. What it reads from the
client in one go depends on how TCP splits the client's writes, so a decoder or a caller that
mishandles one particular split fails only when TCP happens to produce it (about one POST in
25,000 with random chunk sizes). These tests produce the splits on purpose: the client writes
with TCP_NODELAY and, at chosen points, waits until gantry has read everything sent so far
(its socket's receive queue in /proc/net/tcp is empty and our bytes are acknowledged), so
gantry's next read starts exactly at the client's next write. Before such a split the client
also waits until the backend has received every payload byte sent so far, so gantry's input
buffer is empty and its upstream connected when the split arrives.

The split that refused valid bodies: a read holding only framing bytes (the CRLF after a
chunk's data, and possibly part of the next chunk-size line), with nothing left over in the
buffer. The decoder consumed them without producing data; gantry did not drop them from its
input buffer and fed them to the decoder again with the next read, which saw "\\r\\n" where a
chunk size must start. The response side had the same defect (a truncated body and a closed
client connection); the last test splits a chunked response the same way.
"""

import hashlib
import json
import random
import select
import threading

import gwtest
from gwtest import Gantry, HttpConn, RawServer


class ChunkedSink(RawServer):
    """A backend that reads one chunked request per connection, counts and hashes its payload
    as it arrives (.received(), for the client's readiness checks) and answers 200 with
    {"received": N, "sha256": hex}, then closes."""

    def __init__(self):
        self.progress = 0
        self.heads = []
        super().__init__()

    def received(self):
        with self.lock:
            return self.progress

    def reset(self):
        """Before each request (the previous one was answered, so its thread is done
        counting)."""
        with self.lock:
            self.progress = 0

    def serve(self, sock, index):
        buf = bytearray()
        h = hashlib.sha256()

        def fill():
            data = sock.recv(262144)
            if not data:
                raise ConnectionError("peer closed")
            buf.extend(data)

        def line():
            while True:
                i = buf.find(b"\r\n")
                if i >= 0:
                    out = bytes(buf[:i])
                    del buf[: i + 2]
                    return out
                fill()

        try:
            head = []
            while True:
                ln = line()
                if not ln:
                    break
                head.append(ln)
            with self.lock:
                self.heads.append(head)
            total = 0
            while True:
                size = int(line().split(b";")[0], 16)
                if size == 0:
                    break
                left = size
                while left:
                    if not buf:
                        fill()
                    take = min(left, len(buf))
                    h.update(bytes(buf[:take]))
                    del buf[:take]
                    left -= take
                    total += take
                    with self.lock:
                        self.progress = total
                while len(buf) < 2:
                    fill()
                assert buf[:2] == b"\r\n", bytes(buf[:8])
                del buf[:2]
            while line():  # trailer section
                pass
            body = json.dumps({"received": total, "sha256": h.hexdigest()}).encode()
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        except (OSError, ValueError, AssertionError):
            pass
        finally:
            try:
                sock.close()
            except OSError:
                pass


def answered(c):
    """True once gantry sent something back (an early answer ends the upload)."""
    return bool(c.buf) or bool(select.select([c.sock], [], [], 0)[0])


def wait_gantry_read_all(c, gantry_port):
    """Polls until gantry has read every byte written on c (or answered early)."""
    gwtest.wait_peer_read(c.sock, also=lambda: answered(c))


def body_parts(rng, total, max_chunk=65536):
    """Random chunk sizes 1..max_chunk adding up to total, and the payload."""
    sizes = []
    left = total
    while left:
        s = min(left, rng.randint(1, max_chunk))
        sizes.append(s)
        left -= s
    return sizes, rng.randbytes(total)


def _stream(c, g, sink, chunks, payload, split_at, rng):
    """Writes the body: chunk k is "size CRLF data CRLF" in one send() unless k is in
    split_at; then the framing after k's data ("CRLF size CRLF" of k+1, or the last chunk)
    is cut at a random point and its first part is written alone, once the backend has
    every payload byte before it, and read by gantry alone. Stops early when gantry
    answers (a refused body)."""
    sent_framing = b""  # the part of the next chunk's framing already sent
    for k, (off, s) in enumerate(chunks):
        nxt = b"%x\r\n" % chunks[k + 1][1] if k + 1 < len(chunks) else b"0\r\n\r\n"
        if rng.random() < 0.5:
            nxt = nxt.upper()
        head = b"%x\r\n" % s if k == 0 else b""
        data = payload[off : off + s]
        framing = b"\r\n" + nxt  # after this chunk's data, up to the next chunk's data
        if k in split_at:
            c.send(sent_framing + head + data)
            gwtest.wait_until(lambda: sink.received() == off + s or answered(c), timeout=10,
                              interval=0.002, message="backend receiving %d bytes" % (off + s))
            if answered(c):
                return
            j = rng.randint(1, len(framing) - 1)
            c.send(framing[:j])
            wait_gantry_read_all(c, g.port)
            sent_framing = framing[j:]
        else:
            c.send(sent_framing + head + data + framing)
            sent_framing = b""
        if answered(c):
            return
    if sent_framing:
        c.send(sent_framing)


def _post(g, sink, sizes, payload, split_at, rng):
    chunks = []
    off = 0
    for s in sizes:
        chunks.append((off, s))
        off += s
    sink.reset()
    with HttpConn(g.port, timeout=30) as c:
        c.send(gwtest.build_request("POST", "/upload",
                                    headers={"Transfer-Encoding": "chunked"}))
        try:
            _stream(c, g, sink, chunks, payload, split_at, rng)
        except (BrokenPipeError, ConnectionResetError):
            pass  # gantry answered and closed: read its answer
        return c.read_response()


def _check(r, payload, what):
    assert r.status == 200, (what, r, r.body[:300])
    got = r.json()
    want = {"received": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    assert got == want, (what, got, want)


def sink_config(sink):
    return gwtest.simple_config(sink.target(), limits={"max_body_bytes": 0},
                                timeouts={"client_body": "30s", "upstream_response": "30s"})


class FixedCut:
    """Stands in for random.Random in _stream: always cuts the framing after `cut` bytes and
    keeps size lines lowercase."""

    def __init__(self, cut):
        self.cut = cut

    def randint(self, a, b):
        return max(a, min(b, self.cut))

    def random(self):
        return 1.0


def test_framing_alone_in_a_read_between_two_chunks():
    # The smallest reproduction: "5 CRLF hello" reaches the backend, then gantry reads a
    # bare CRLF (or CRLF plus the start of the next size line) on its own, then the rest.
    rng = random.Random(11)
    with ChunkedSink() as sink, Gantry(sink_config(sink)) as g:
        for cut in range(1, len(b"\r\n5\r\n")):
            _check(_post(g, sink, [5, 5], b"helloworld", {0}, FixedCut(cut)), b"helloworld",
                   "cut %d" % cut)
        # and before the last chunk: CRLF, "0", "0 CR", "0 CRLF", "0 CRLF CR"
        for cut in range(1, len(b"\r\n0\r\n\r\n")):
            _check(_post(g, sink, [5], b"hello", {0}, FixedCut(cut)), b"hello", "last %d" % cut)
        assert len(sink.heads) == 4 + 6, len(sink.heads)


@gwtest.timeout(240)
def test_large_chunked_bodies_in_random_writes_arrive_whole():
    # The workload: bodies of random size up to 1 MiB, random chunk sizes 1..65,536,
    # each chunk written with its own send(); a few chunk boundaries per body also get the
    # framing-only split. Every byte must arrive, and every answer is 200.
    rng = random.Random(20261211)
    with ChunkedSink() as sink, Gantry(sink_config(sink)) as g:
        for n in range(40):
            total = rng.randint(1, 1 << 20)
            sizes, payload = body_parts(rng, total)
            split_at = {k for k in range(len(sizes)) if rng.random() < 0.3}
            _check(_post(g, sink, sizes, payload, split_at, rng), payload,
                   "body %d: %d bytes in %d chunks, split after %s"
                   % (n, total, len(sizes), sorted(split_at)))
        # Small chunks too: many chunks per read of gantry's 16 KiB buffer.
        for n in range(8):
            sizes, payload = body_parts(rng, rng.randint(1, 200000), max_chunk=300)
            split_at = {k for k in range(len(sizes)) if rng.random() < 0.02}
            _check(_post(g, sink, sizes, payload, split_at, rng), payload,
                   "small-chunk body %d: %d chunks" % (n, len(sizes)))


class SplitChunkedResponder(RawServer):
    """Answers with a chunked response: "5 CRLF hello", then (once the client got "hello")
    the first `cut` bytes of "CRLF 5 CRLF" alone, which gantry reads alone, then the rest."""

    def __init__(self, cut):
        self.cut = cut
        self.client_got_hello = threading.Event()
        super().__init__()

    def serve(self, sock, index):
        try:
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += sock.recv(65536)
            sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello")
            self.client_got_hello.wait(10)
            framing = b"\r\n5\r\n"
            sock.sendall(framing[: self.cut])
            gwtest.wait_peer_read(sock)  # gantry read the framing alone
            sock.sendall(framing[self.cut :] + b"world\r\n0\r\n\r\n")
            sock.recv(16)  # until gantry closes or pools the connection
        except (OSError, AssertionError):
            pass


def test_chunked_response_with_framing_alone_in_a_read():
    # The same split on the response side (upstream -> gantry): framing the decoder consumed
    # without producing data must leave the upstream buffer too, or the client gets a
    # truncated body and a closed connection.
    for cut in range(1, len(b"\r\n5\r\n")):
        with SplitChunkedResponder(cut) as up, Gantry(gwtest.simple_config(up.target())) as g:
            with HttpConn(g.port) as c:
                c.send(gwtest.build_request("GET", "/x"))
                data = b""
                while b"hello" not in data:
                    got = c.sock.recv(65536)
                    assert got, data
                    data += got
                up.client_got_hello.set()
                try:
                    while not data.endswith(b"\r\n0\r\n\r\n"):
                        got = c.sock.recv(65536)
                        if not got:
                            break
                        data += got
                except OSError:
                    pass
                head, _, body = data.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200"), head
                assert body == b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", (cut, body)


if __name__ == "__main__":
    gwtest.main(globals())
