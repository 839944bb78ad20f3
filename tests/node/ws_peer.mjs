// WebSocket peers for the integration tests (tests/integration/test_websocket.py), on the npm
// `ws` package (installed by scripts/deps.sh test from package-lock.json).
//
//   node ws_peer.mjs server
//       An echo server on a free loopback port: prints "READY <port>", then one line per event
//       ("OPEN <path>", "CLOSE <code>"). Every message comes back as it came (text or binary);
//       the text "__headers" is answered with the handshake's URL and headers as JSON, and
//       "__flood N" with N binary messages of 1 MiB.
//   node ws_peer.mjs flood URL N
//       Asks for N MiB ("__flood N") without reading: prints "PAUSED", waits for "resume" on
//       stdin, then reads and prints "GOT <bytes>" once all of it came.
//   node ws_peer.mjs echo URL
//       Echo of a text, a binary, a fragmented and a 16 MiB message through URL; prints a JSON
//       report and exits 0 when every echo came back equal.
//   node ws_peer.mjs handshake URL [HEADERS_JSON] [PROTOCOLS]
//       One handshake: prints {"open": true, "headers": ...} or {"status": N, "body": ...}.
//   node ws_peer.mjs hold URL N
//       Opens N connections, prints "OPEN N", then obeys stdin: "check" sends a message on each
//       open connection and prints "CHECKED <echoed> <open>"; "quit" closes them and exits. Every
//       close prints "CLOSE <code>". Connections open BATCH at a time (env WS_BATCH, default
//       all at once).
//   node ws_peer.mjs latency URL CONNS MESSAGES [SIZE]
//       Round trips: each of CONNS connections sends a SIZE-byte (default 32) message and waits
//       for its echo, MESSAGES times in a row; prints {"p50_us", "p99_us", "n"} over all of them.
//   node ws_peer.mjs throughput URL CONNS SECONDS [SIZE]
//       Each of CONNS connections keeps 16 SIZE-byte (default 4096) binary messages in flight
//       to the echo for SECONDS; prints {"msgs_per_s", "mib_per_s", "n"} (echoes received).
//
// TLS (wss://): env WS_CA names a PEM file of CA certificates the clients trust; the server
// speaks TLS with env WS_TLS_CERT and WS_TLS_KEY (PEM files).
import { WebSocket, WebSocketServer } from 'ws';
import { createInterface } from 'node:readline';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';

const CA = process.env.WS_CA ? readFileSync(process.env.WS_CA) : undefined;

const [mode, ...args] = process.argv.slice(2);

function out(line) {
    process.stdout.write(line + '\n');
}

function server() {
    let wss;
    if (process.env.WS_TLS_CERT) {
        const https = createHttpsServer({ cert: readFileSync(process.env.WS_TLS_CERT),
                                          key: readFileSync(process.env.WS_TLS_KEY) });
        wss = new WebSocketServer({ server: https, maxPayload: 64 << 20 });
        https.listen(0, '127.0.0.1', () => out('READY ' + https.address().port));
    } else {
        wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 << 20 });
        wss.on('listening', () => out('READY ' + wss.address().port));
    }
    wss.on('connection', (ws, req) => {
        out('OPEN ' + req.url);
        ws.on('message', (data, isBinary) => {
            if (!isBinary && data.toString().startsWith('__flood ')) {
                const mib = Number(data.toString().slice(8));
                const chunk = Buffer.alloc(1 << 20, 120);
                for (let i = 0; i < mib; i++) ws.send(chunk, { binary: true });
                return;
            }
            if (!isBinary && data.toString() === '__headers') {
                ws.send(JSON.stringify({ url: req.url, headers: req.headers }));
                return;
            }
            ws.send(data, { binary: isBinary });
        });
        ws.on('close', (code) => out('CLOSE ' + code));
        ws.on('error', (e) => out('ERROR ' + e.message));
    });
}

function open(url, opts = {}, protocols = undefined) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(url, protocols, { maxPayload: 64 << 20, ca: CA, ...opts });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
        ws.once('unexpected-response', (req, res) => {
            let body = '';
            res.on('data', (c) => (body += c));
            res.on('end', () => {
                const e = new Error('unexpected response ' + res.statusCode);
                e.status = res.statusCode;
                e.body = body;
                e.headers = res.headers;
                reject(e);
            });
        });
    });
}

function next(ws) {
    return new Promise((resolve, reject) => {
        const onClose = (code) => reject(new Error('closed ' + code));
        ws.once('message', (data, isBinary) => {
            ws.off('close', onClose);
            resolve({ data, isBinary });
        });
        ws.once('close', onClose);
    });
}

function sha(buf) {
    return createHash('sha256').update(buf).digest('hex');
}

async function echo(url) {
    const ws = await open(url);
    const report = {};
    let m;
    // text
    const text = 'hello through gantry \u00e9\u4e2d';
    ws.send(text);
    m = await next(ws);
    report.text = !m.isBinary && m.data.toString() === text;
    // binary
    const bin = Buffer.from([0, 1, 2, 255, 254, 13, 10, 0x88, 0x81]);
    ws.send(bin, { binary: true });
    m = await next(ws);
    report.binary = m.isBinary && Buffer.compare(m.data, bin) === 0;
    // fragmented: one message in three frames
    ws.send('frag-one,', { fin: false });
    ws.send('frag-two,', { fin: false });
    ws.send('frag-three', { fin: true });
    m = await next(ws);
    report.fragmented = !m.isBinary && m.data.toString() === 'frag-one,frag-two,frag-three';
    // 16 MiB
    const big = Buffer.alloc(16 << 20);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    ws.send(big, { binary: true });
    m = await next(ws);
    report.big = m.isBinary && m.data.length === big.length && sha(m.data) === sha(big);
    // the upstream saw the handshake's headers
    ws.send('__headers');
    m = await next(ws);
    report.upstream = JSON.parse(m.data.toString());
    ws.close(1000);
    await new Promise((r) => ws.once('close', r));
    out(JSON.stringify(report));
    const ok = report.text && report.binary && report.fragmented && report.big;
    process.exit(ok ? 0 : 1);
}

async function handshake(url, headersJson, protocols) {
    const headers = headersJson ? JSON.parse(headersJson) : {};
    try {
        const ws = await open(url, { headers }, protocols ? protocols.split(',') : undefined);
        ws.send('__headers');
        const m = await next(ws);
        out(JSON.stringify({ open: true, protocol: ws.protocol, upstream: JSON.parse(m.data) }));
        ws.close(1000);
        await new Promise((r) => ws.once('close', r));
    } catch (e) {
        out(JSON.stringify({ open: false, status: e.status || 0, body: e.body || String(e),
                             headers: e.headers || {} }));
    }
    process.exit(0);
}

async function hold(url, n) {
    const conns = [];
    const batch = Number(process.env.WS_BATCH || n) || n;
    for (let start = 0; start < n; start += batch) {
        const opening = [];
        for (let i = start; i < Math.min(n, start + batch); i++) {
            opening.push(open(url).then((ws) => {
                conns.push(ws);
                ws.on('close', (code) => {
                    ws.closedWith = code;
                    out('CLOSE ' + code);
                });
            }));
        }
        await Promise.all(opening);
    }
    out('OPEN ' + conns.length);
    const rl = createInterface({ input: process.stdin });
    rl.on('line', async (line) => {
        if (line === 'check') {
            const live = conns.filter((ws) => ws.readyState === WebSocket.OPEN);
            const echoed = await Promise.all(live.map(async (ws, i) => {
                const msg = 'check-' + i;
                const p = next(ws);
                ws.send(msg);
                try {
                    const m = await p;
                    return m.data.toString() === msg ? 1 : 0;
                } catch {
                    return 0;
                }
            }));
            out('CHECKED ' + echoed.reduce((a, b) => a + b, 0) + ' ' + live.length);
        } else if (line === 'quit') {
            for (const ws of conns) ws.terminate();
            process.exit(0);
        }
    });
    rl.on('close', () => process.exit(0));
}

async function latency(url, nconns, count, size) {
    const conns = await Promise.all(Array.from({ length: nconns }, () => open(url, { perMessageDeflate: false })));
    const payload = Buffer.alloc(size, 97);
    const samples = [];
    // warm-up
    await Promise.all(conns.map(async (ws) => {
        for (let i = 0; i < 20; i++) {
            const p = next(ws);
            ws.send(payload, { binary: true });
            await p;
        }
    }));
    await Promise.all(conns.map(async (ws) => {
        for (let i = 0; i < count; i++) {
            const p = next(ws);
            const t0 = process.hrtime.bigint();
            ws.send(payload, { binary: true });
            await p;
            samples.push(Number(process.hrtime.bigint() - t0) / 1000);
        }
    }));
    samples.sort((a, b) => a - b);
    const q = (f) => samples[Math.min(samples.length - 1, Math.floor(f * samples.length))];
    out(JSON.stringify({ p50_us: q(0.5), p99_us: q(0.99), n: samples.length }));
    for (const ws of conns) ws.terminate();
    process.exit(0);
}

async function throughput(url, nconns, seconds, size) {
    const conns = await Promise.all(Array.from({ length: nconns }, () => open(url, { perMessageDeflate: false })));
    const payload = Buffer.alloc(size, 98);
    const WINDOW = 16;
    let n = 0;
    let measuring = false;
    let stop = false;
    for (const ws of conns) {
        ws.on('message', () => {
            if (measuring) n++;
            if (!stop) ws.send(payload, { binary: true });
        });
        for (let i = 0; i < WINDOW; i++) ws.send(payload, { binary: true });
    }
    await new Promise((r) => setTimeout(r, 500)); // warm-up
    measuring = true;
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    measuring = false;
    stop = true;
    out(JSON.stringify({ msgs_per_s: n / dt, mib_per_s: (n * size) / dt / (1 << 20), n }));
    for (const ws of conns) ws.terminate();
    process.exit(0);
}

async function flood(url, mib) {
    const ws = await open(url, { perMessageDeflate: false });
    ws._socket.pause();
    ws.send('__flood ' + mib);
    out('PAUSED');
    let got = 0;
    ws.on('message', (data) => {
        got += data.length;
        if (got >= mib << 20) {
            out('GOT ' + got);
            ws.close(1000);
            ws.once('close', () => process.exit(0));
        }
    });
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => {
        if (line === 'resume') ws._socket.resume();
    });
}

if (mode === 'server') server();
else if (mode === 'flood') flood(args[0], Number(args[1])).catch((e) => { out('ERROR ' + e); process.exit(1); });
else if (mode === 'latency') latency(args[0], Number(args[1]), Number(args[2]), Number(args[3] || 32)).catch((e) => { out(JSON.stringify({ error: String(e) })); process.exit(1); });
else if (mode === 'throughput') throughput(args[0], Number(args[1]), Number(args[2]), Number(args[3] || 4096)).catch((e) => { out(JSON.stringify({ error: String(e) })); process.exit(1); });
else if (mode === 'echo') echo(args[0]).catch((e) => { out(JSON.stringify({ error: String(e) })); process.exit(1); });
else if (mode === 'handshake') handshake(args[0], args[1], args[2]);
else if (mode === 'hold') hold(args[0], Number(args[1])).catch((e) => { out('ERROR ' + e); process.exit(1); });
else {
    process.stderr.write('usage: ws_peer.mjs server | echo URL | handshake URL [HEADERS] [PROTOCOLS] | hold URL N\n');
    process.exit(2);
}
