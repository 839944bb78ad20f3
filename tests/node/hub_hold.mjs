// Many hub connections for the hub benchmark (bench/hub_bench.py), on the npm `ws` package.
//
//   node hub_hold.mjs URL_PREFIX N CHANNEL
//       Opens N connections URL_PREFIX<i> (BATCH at a time, env WS_BATCH, default 500), each
//       subscribing to CHANNEL; prints "READY N" once every one is subscribed. Then, for every
//       message on CHANNEL, counts receipts; when all N got message id X, prints
//       "ALL X <ms between the first and the last receipt>". "quit" on stdin closes them all.
import { WebSocket } from 'ws';
import { createInterface } from 'node:readline';

const [prefix, nArg, channel] = process.argv.slice(2);
const n = Number(nArg);
const batch = Number(process.env.WS_BATCH || 500);
const socks = [];
const seen = new Map(); // id -> {count, first}
let subscribed = 0;

function out(line) {
    process.stdout.write(line + '\n');
}

function onMessage(data) {
    const ev = JSON.parse(data.toString());
    if (ev.type === 'subscribed') {
        if (++subscribed === n) out('READY ' + n);
        return;
    }
    if (ev.type !== 'message') return;
    let s = seen.get(ev.id);
    if (!s) {
        s = { count: 0, first: performance.now() };
        seen.set(ev.id, s);
    }
    if (++s.count === n) {
        out('ALL ' + ev.id + ' ' + (performance.now() - s.first).toFixed(2));
        seen.delete(ev.id);
    }
}

function openOne(i) {
    return new Promise((resolve) => {
        const ws = new WebSocket(prefix + i);
        ws.on('open', () => {
            ws.send(JSON.stringify({ type: 'subscribe', channel }));
            resolve();
        });
        ws.on('message', onMessage);
        ws.on('error', (e) => out('ERROR ' + e.message));
        socks.push(ws);
    });
}

for (let i = 0; i < n; i += batch) {
    const todo = [];
    for (let k = i; k < Math.min(n, i + batch); k++) todo.push(openOne(k));
    await Promise.all(todo);
}

createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === 'quit') {
        for (const ws of socks) ws.terminate();
        process.stdout.write('', () => process.exit(0));
    }
});
