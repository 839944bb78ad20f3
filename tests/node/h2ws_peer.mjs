// A WebSocket client over HTTP/2 (RFC 8441) for the integration tests
// (tests/integration/test_h2_websocket.py), on Node's own http2 module: it waits for the
// server's SETTINGS_ENABLE_CONNECT_PROTOCOL, sends an extended CONNECT (:protocol websocket)
// and then speaks RFC 6455 frames of its own on the stream (Node has no RFC 8441 WebSocket
// client, and the npm `ws` client speaks HTTP/1.1 only). The peer behind gantry is the `ws`
// echo server of ws_peer.mjs.
//
//   node h2ws_peer.mjs settings URL
//       Prints the server's SETTINGS as JSON.
//   node h2ws_peer.mjs echo URL
//       Echo of a text, a binary, a fragmented and a 4 MiB message; prints a JSON report and exits
//       0 when every echo came back equal.
//   node h2ws_peer.mjs handshake URL [HEADERS_JSON] [PROTOCOLS]
//       One extended CONNECT: prints {"open": true, "status": 200, "headers", "upstream"} (the
//       upstream's view of the handshake, from the echo server's "__headers") or
//       {"open": false, "status": N, "body", "reset"}.
//   node h2ws_peer.mjs flood URL N
//       Asks for N MiB ("__flood N") and reads nothing: prints "PAUSED", waits for "resume" on
//       stdin, reads, prints "GOT <bytes>" once all of it came.
//   node h2ws_peer.mjs hold URL
//       Opens, prints "OPEN"; then prints "CLOSE <code>" for a close frame, "END" for the
//       stream's end, "RESET <code>" for a reset. stdin: "ping" sends a text and prints "PONG"
//       when it comes back; "end" ends our side of the stream; "reset" resets it; "quit" exits.
//
// URL is http://host:port/path (h2c prior knowledge) or https://... (ALPN h2, any certificate).
import http2 from 'node:http2';
import { createHash, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';

const [mode, url, ...args] = process.argv.slice(2);

function out(line) {
    process.stdout.write(line + '\n');
}

function sha(buf) {
    return createHash('sha256').update(buf).digest('hex');
}

// A client frame (RFC 6455 5.2): masked.
function frame(opcode, payload, fin = true) {
    const n = payload.length;
    let head;
    if (n < 126) {
        head = Buffer.alloc(2);
        head[1] = 0x80 | n;
    } else if (n < 65536) {
        head = Buffer.alloc(4);
        head[1] = 0x80 | 126;
        head.writeUInt16BE(n, 2);
    } else {
        head = Buffer.alloc(10);
        head[1] = 0x80 | 127;
        head.writeBigUInt64BE(BigInt(n), 2);
    }
    head[0] = (fin ? 0x80 : 0) | opcode;
    const mask = randomBytes(4);
    const body = Buffer.alloc(n);
    for (let i = 0; i < n; i++) body[i] = payload[i] ^ mask[i & 3];
    return Buffer.concat([head, mask, body]);
}

// Server frames (unmasked) out of a byte stream; messages put together from their fragments.
class Reader {
    constructor() {
        this.buf = Buffer.alloc(0);
        this.parts = [];
        this.opcode = 0;
        this.waiting = [];
        this.messages = [];
        this.onClose = null;
        this.bytes = 0;
    }
    push(chunk) {
        this.bytes += chunk.length;
        this.buf = Buffer.concat([this.buf, chunk]);
        for (;;) {
            if (this.buf.length < 2) return;
            const b0 = this.buf[0], b1 = this.buf[1];
            let len = b1 & 0x7f, off = 2;
            if (len === 126) {
                if (this.buf.length < 4) return;
                len = this.buf.readUInt16BE(2);
                off = 4;
            } else if (len === 127) {
                if (this.buf.length < 10) return;
                len = Number(this.buf.readBigUInt64BE(2));
                off = 10;
            }
            if (b1 & 0x80) off += 4; // a masked server frame would be an error; skip the key
            if (this.buf.length < off + len) return;
            const payload = this.buf.subarray(off, off + len);
            this.buf = this.buf.subarray(off + len);
            const op = b0 & 0x0f;
            if (op === 8) {
                const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
                if (this.onClose) this.onClose(code);
                continue;
            }
            if (op === 9 || op === 10) continue;
            if (op !== 0) this.opcode = op;
            this.parts.push(Buffer.from(payload));
            if (b0 & 0x80) {
                const m = { data: Buffer.concat(this.parts), isBinary: this.opcode === 2 };
                this.parts = [];
                const w = this.waiting.shift();
                if (w) w(m);
                else this.messages.push(m);
            }
        }
    }
    next() {
        const m = this.messages.shift();
        if (m) return Promise.resolve(m);
        return new Promise((resolve) => this.waiting.push(resolve));
    }
}

function connect(target) {
    const u = new URL(target);
    const opts = u.protocol === 'https:' ? { rejectUnauthorized: false } : {};
    return new Promise((resolve, reject) => {
        const s = http2.connect(u.origin, opts);
        s.once('error', reject);
        s.once('remoteSettings', (settings) => resolve({ s, u, settings }));
    });
}

// The extended CONNECT. Resolves {stream, status, headers} once the response head came.
async function open(target, extra = {}, protocols = undefined) {
    const { s, u, settings } = await connect(target);
    if (!settings.enableConnectProtocol) {
        s.close();
        throw Object.assign(new Error('no SETTINGS_ENABLE_CONNECT_PROTOCOL'), { noSetting: true });
    }
    const headers = {
        ':method': 'CONNECT',
        ':protocol': 'websocket',
        ':scheme': u.protocol === 'https:' ? 'https' : 'http',
        ':path': u.pathname + u.search,
        ':authority': u.host,
        'sec-websocket-version': '13',
        ...extra,
    };
    if (protocols) headers['sec-websocket-protocol'] = protocols;
    const stream = s.request(headers, { endStream: false });
    const reader = new Reader();
    return new Promise((resolve, reject) => {
        stream.once('error', (e) => reject(e));
        stream.once('close', () => {
            if (stream.rstCode) reject(Object.assign(new Error('reset'), { reset: stream.rstCode }));
        });
        stream.once('response', (h) => {
            const status = h[':status'];
            resolve({ s, stream, status, headers: h, reader });
        });
    });
}

function readAll(stream) {
    return new Promise((resolve) => {
        let body = '';
        stream.on('data', (c) => (body += c));
        stream.on('end', () => resolve(body));
        stream.on('close', () => resolve(body));
    });
}

function wire(conn) {
    conn.stream.on('data', (c) => conn.reader.push(c));
}

async function settings() {
    const { s, settings } = await connect(url);
    out(JSON.stringify(settings));
    s.close();
}

async function echo() {
    const conn = await open(url);
    if (conn.status !== 200) {
        out(JSON.stringify({ status: conn.status, body: await readAll(conn.stream) }));
        process.exit(1);
    }
    wire(conn);
    const { stream, reader } = conn;
    const report = { status: conn.status };
    let m;
    const text = 'hello over h2 \u00e9\u4e2d';
    stream.write(frame(1, Buffer.from(text)));
    m = await reader.next();
    report.text = !m.isBinary && m.data.toString() === text;
    const bin = Buffer.from([0, 1, 2, 255, 254, 13, 10, 0x88, 0x81]);
    stream.write(frame(2, bin));
    m = await reader.next();
    report.binary = m.isBinary && Buffer.compare(m.data, bin) === 0;
    stream.write(frame(1, Buffer.from('frag-one,'), false));
    stream.write(frame(0, Buffer.from('frag-two,'), false));
    stream.write(frame(0, Buffer.from('frag-three'), true));
    m = await reader.next();
    report.fragmented = !m.isBinary && m.data.toString() === 'frag-one,frag-two,frag-three';
    const big = Buffer.alloc(4 << 20);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    stream.write(frame(2, big));
    m = await reader.next();
    report.big = m.isBinary && m.data.length === big.length && sha(m.data) === sha(big);
    stream.write(frame(1, Buffer.from('__headers')));
    m = await reader.next();
    report.upstream = JSON.parse(m.data.toString());
    // A close handshake, then the stream's end both ways.
    const closed = new Promise((r) => (reader.onClose = r));
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000);
    stream.write(frame(8, code));
    report.close = await closed;
    stream.end();
    await new Promise((r) => stream.once('close', r));
    report.ended = stream.rstCode === 0 || stream.rstCode === undefined;
    // A graceful close that has flushed our END_STREAM before the process exits.
    await new Promise((r) => conn.s.close(r));
    out(JSON.stringify(report));
    const ok = report.text && report.binary && report.fragmented && report.big;
    process.exit(ok ? 0 : 1);
}

async function handshake(headersJson, protocols) {
    const extra = headersJson ? JSON.parse(headersJson) : {};
    try {
        const conn = await open(url, extra, protocols);
        if (conn.status !== 200) {
            const body = await readAll(conn.stream);
            out(JSON.stringify({ open: false, status: conn.status, body, headers: conn.headers }));
            process.exit(0);
        }
        wire(conn);
        conn.stream.write(frame(1, Buffer.from('__headers')));
        const m = await conn.reader.next();
        out(JSON.stringify({ open: true, status: conn.status, headers: conn.headers,
                             upstream: JSON.parse(m.data.toString()) }));
        conn.stream.close(http2.constants.NGHTTP2_CANCEL);
        conn.s.close();
    } catch (e) {
        out(JSON.stringify({ open: false, status: 0, reset: e.reset || 0,
                             noSetting: !!e.noSetting, body: String(e) }));
    }
    process.exit(0);
}

async function flood(n) {
    const conn = await open(url);
    const { stream, reader } = conn;
    stream.pause();
    stream.write(frame(1, Buffer.from('__flood ' + n)));
    out('PAUSED');
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) {
        if (line.trim() === 'resume') break;
    }
    const want = n * ((1 << 20) + 10);
    stream.on('data', (c) => {
        reader.push(c);
        if (reader.bytes >= want) {
            out('GOT ' + reader.bytes);
            process.exit(0);
        }
    });
    stream.resume();
}

async function hold() {
    const conn = await open(url);
    if (conn.status !== 200) {
        out('STATUS ' + conn.status);
        process.exit(1);
    }
    const { stream, reader } = conn;
    wire(conn);
    reader.onClose = (code) => out('CLOSE ' + code);
    stream.on('end', () => out('END'));
    stream.on('close', () => {
        if (stream.rstCode) out('RESET ' + stream.rstCode);
        out('CLOSED');
    });
    stream.on('error', () => {});
    out('OPEN');
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) {
        const cmd = line.trim();
        if (cmd === 'ping') {
            stream.write(frame(1, Buffer.from('ping')));
            const m = await reader.next();
            out(m.data.toString() === 'ping' ? 'PONG' : 'BAD');
        } else if (cmd === 'end') {
            stream.end();
        } else if (cmd === 'reset') {
            stream.close(http2.constants.NGHTTP2_CANCEL);
        } else if (cmd === 'quit') {
            break;
        }
    }
    process.exit(0);
}

const modes = {
    settings: () => settings(),
    echo: () => echo(),
    handshake: () => handshake(args[0], args[1]),
    flood: () => flood(Number(args[0])),
    hold: () => hold(),
};
if (!modes[mode]) {
    process.stderr.write('usage: h2ws_peer.mjs settings|echo|handshake|flood|hold URL ...\n');
    process.exit(2);
}
modes[mode]().catch((e) => {
    process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
    process.exit(1);
});
