// HTTP/2 client of tests/integration/test_early_answers.py, on Node's http2 module: one POST
// whose body never ends (16 KiB every 20 ms, for as long as the stream is open), to see how the
// server ends a stream it answered before the body did.
//
//   node h2_upload.mjs URL [--ca FILE] [--servername NAME] [--header name:value]... [--wait-ms N]
//
// Prints one JSON line and exits 0 once the stream closed: {status, rst (the RST_STREAM code the
// stream closed with, 0 for NO_ERROR), body (the response body as text), sent (bytes written)}.
// When the stream is still open N ms (default 10000) after the response ended, prints
// {hang: true, status, sent} and exits 3: the server left the stream half-open.
import http2 from 'node:http2';
import fs from 'node:fs';

const args = process.argv.slice(2);
const url = new URL(args[0]);
const headers = { ':method': 'POST', ':path': url.pathname + url.search };
let waitMs = 10000;
const opts = {};
for (let i = 1; i < args.length; i++) {
  if (args[i] === '--ca') opts.ca = fs.readFileSync(args[++i]);
  else if (args[i] === '--servername') opts.servername = args[++i];
  else if (args[i] === '--header') {
    const [k, ...v] = args[++i].split(':');
    headers[k.trim().toLowerCase()] = v.join(':').trim();
  } else if (args[i] === '--wait-ms') waitMs = Number(args[++i]);
}

const session = http2.connect(url.origin, opts);
session.on('error', (e) => { console.error('session error:', e.message); process.exit(1); });
const req = session.request(headers);
const out = { status: 0, rst: null, body: '', sent: 0 };
const chunk = Buffer.alloc(16384, 'u');
const pump = setInterval(() => {
  if (req.closed || req.destroyed) return;
  req.write(chunk);
  out.sent += chunk.length;
}, 20);
let guard = null;
req.setEncoding('utf8');
req.on('response', (h) => { out.status = h[':status']; });
req.on('data', (d) => { out.body += d; });
req.on('end', () => {
  // The response is complete; the stream must not stay open waiting for our body.
  guard = setTimeout(() => {
    process.stdout.write(JSON.stringify({ hang: true, status: out.status, sent: out.sent }) + '\n');
    process.exit(3);
  }, waitMs);
});
req.on('error', () => {}); // a reset other than NO_ERROR: reported by 'close' as rst
req.on('close', () => {
  clearInterval(pump);
  if (guard) clearTimeout(guard);
  out.rst = req.rstCode;
  process.stdout.write(JSON.stringify(out) + '\n');
  session.close();
});
// A bound on the whole exchange, so that a regression fails instead of hanging.
setTimeout(() => {
  process.stdout.write(JSON.stringify({ hang: true, status: out.status, sent: out.sent }) + '\n');
  process.exit(3);
}, waitMs + 20000).unref();
