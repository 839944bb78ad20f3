// A WebSocket hub client for the integration tests (tests/integration/test_hub.py), on the npm
// `ws` package.
//
//   node hub_peer.mjs URL [HEADERS_JSON] [PROTOCOLS]
//       Connects: prints "OPEN <protocol>" or "FAIL <status> <body>" (then exits). Then prints
//       "MSG <text>" for every message and "CLOSE <code>" when the connection ends, and obeys
//       stdin, one command a line:
//         send TEXT    sends TEXT as a text message
//         binary TEXT  sends TEXT as a binary message
//         pause        stops reading from the socket (a slow consumer); resume reads again
//         quit         closes (1000) and exits once closed
// TLS (wss://): env WS_CA names a PEM file of CA certificates to trust.
import { WebSocket } from 'ws';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';

const [url, headersJson, protocols] = process.argv.slice(2);
const headers = headersJson ? JSON.parse(headersJson) : {};

function out(line) {
    process.stdout.write(line + '\n');
}

// Exits once line (and everything printed before it) is out: a pipe the reader has not drained
// takes writes asynchronously, and process.exit would drop them.
function exitAfter(line) {
    process.stdout.write(line + '\n', () => process.exit(0));
}

const ws = new WebSocket(url, protocols ? protocols.split(',') : undefined,
    { headers, maxPayload: 64 << 20,
      ca: process.env.WS_CA ? readFileSync(process.env.WS_CA) : undefined });
ws.on('unexpected-response', (req, res) => {
    let body = '';
    res.on('data', (d) => { body += d; });
    res.on('end', () => {
        exitAfter('FAIL ' + res.statusCode + ' ' + body.replace(/\n/g, ' '));
    });
});
ws.on('open', () => out('OPEN ' + (ws.protocol || '-')));
ws.on('message', (data, isBinary) => out((isBinary ? 'BIN ' : 'MSG ') + data.toString()));
ws.on('close', (code) => exitAfter('CLOSE ' + code));
ws.on('error', (e) => out('ERROR ' + e.message));

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
    const sp = line.indexOf(' ');
    const cmd = sp < 0 ? line : line.slice(0, sp);
    const arg = sp < 0 ? '' : line.slice(sp + 1);
    if (cmd === 'send') ws.send(arg);
    else if (cmd === 'binary') ws.send(Buffer.from(arg), { binary: true });
    else if (cmd === 'pause') ws._socket.pause();
    else if (cmd === 'resume') ws._socket.resume();
    else if (cmd === 'quit') ws.close(1000);
});
rl.on('close', () => ws.terminate());
