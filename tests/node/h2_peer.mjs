// HTTP/2 origin of tests/integration/test_h2_upstream.py, on Node's http2 module: an h2c
// server (prior knowledge) on a free port that prints "READY <port>".
//
//   /echo         answers JSON {method, path, headers, body_sha256, body_len, stream_id,
//                 session}: what arrived, and on which connection (session: a number per
//                 HTTP/2 connection) and stream
//   /stream?n=&size=  n DATA chunks of size bytes, one per event-loop turn, then trailers
//                 "x-trailer: done"
//   /slow?ms=     answers after ms
//   /early        answers "early" at once, before the request body has arrived
//   /refuse       resets the stream with REFUSED_STREAM
//   /goaway       answers, then sends GOAWAY
//   /health       answers the status last set with /__set_health/NNN (200 at first)
//
// Options (argv): --max-streams N sets SETTINGS_MAX_CONCURRENT_STREAMS; --tls CERT KEY serves
// HTTP/2 over TLS instead (ALPN "h2" only, as Node's secure server does without allowHTTP1),
// and /echo then also reports the TLS session's "tls_resumed", "tls_sni" and "client_cn";
// --client-ca CA (with --tls) requires a client certificate signed by CA.
import http2 from 'node:http2';
import crypto from 'node:crypto';
import fs from 'node:fs';

const args = process.argv.slice(2);
const settings = {};
const mi = args.indexOf('--max-streams');
if (mi >= 0) settings.maxConcurrentStreams = Number(args[mi + 1]);

let sessions = 0;
let health = 200;
const ti = args.indexOf('--tls');
const ci = args.indexOf('--client-ca');
const tlsOpts = { settings };
if (ti >= 0) {
  tlsOpts.cert = fs.readFileSync(args[ti + 1]);
  tlsOpts.key = fs.readFileSync(args[ti + 2]);
}
if (ci >= 0) Object.assign(tlsOpts, { ca: fs.readFileSync(args[ci + 1]), requestCert: true, rejectUnauthorized: true });
const server = ti >= 0 ? http2.createSecureServer(tlsOpts) : http2.createServer({ settings });
server.on('session', (s) => {
  s.gwId = ++sessions;
  // Why a connection ends, in the log a failing test prints.
  s.on('error', (e) => process.stderr.write(`session ${s.gwId} error: ${e.code || ''} ${e.message}\n`));
  s.on('frameError', (type, code, id) =>
    process.stderr.write(`session ${s.gwId} frame error: type ${type} code ${code} stream ${id}\n`));
  s.on('goaway', (code) => process.stderr.write(`session ${s.gwId} goaway from gantry: code ${code}\n`));
  s.on('close', () => process.stderr.write(`session ${s.gwId} closed\n`));
});
server.on('sessionError', (e) => process.stderr.write(`sessionError: ${e.code || ''} ${e.message}\n`));
server.on('stream', (stream, headers) => {
  const url = new URL(headers[':path'], 'http://x');
  const hash = crypto.createHash('sha256');
  let len = 0;
  stream.on('data', (d) => { hash.update(d); len += d.length; });
  stream.on('error', () => {});
  const route = url.pathname;
  const set = /^\/__set_health\/(\d{3})$/.exec(route);
  if (set || route === '/health') {
    if (set) health = Number(set[1]);
    stream.respond({ ':status': set ? 200 : health });
    stream.end('health ' + health);
    return;
  }
  if (route === '/early') {
    // The whole answer before the request body has arrived, then RST_STREAM NO_ERROR (RFC
    // 9113 8.1: the client must stop sending; the answer stands).
    stream.respond({ ':status': 200, 'x-origin': 'h2-peer' });
    stream.end('early', () => setImmediate(() => stream.close(http2.constants.NGHTTP2_NO_ERROR)));
    return;
  }
  if (route === '/refuse') {
    stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    return;
  }
  stream.on('end', () => {
    if (route === '/stream') {
      const n = Number(url.searchParams.get('n') || 3);
      const size = Number(url.searchParams.get('size') || 10);
      stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-trailer': 'done' }));
      let i = 0;
      const next = () => {
        if (i === n) { stream.end(); return; }
        i++;
        if (stream.write(Buffer.alloc(size, 97 + (i % 26)))) setImmediate(next);
        else stream.once('drain', next);
      };
      next();
      return;
    }
    const answer = () => {
      if (stream.destroyed) return;
      const body = JSON.stringify({
        method: headers[':method'], path: headers[':path'], authority: headers[':authority'],
        headers, body_sha256: hash.digest('hex'), body_len: len, stream_id: stream.id,
        session: stream.session.gwId,
        tls_resumed: stream.session.socket.isSessionReused ? stream.session.socket.isSessionReused() : null,
        tls_sni: stream.session.socket.servername || null,
        client_cn: stream.session.socket.getPeerCertificate ? (stream.session.socket.getPeerCertificate().subject || {}).CN || null : null,
      });
      stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-origin': 'h2-peer' });
      stream.end(body);
      if (route === '/goaway') stream.session.goaway();
    };
    if (route === '/slow') setTimeout(answer, Number(url.searchParams.get('ms') || 1000));
    else answer();
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write('READY ' + server.address().port + '\n'));
