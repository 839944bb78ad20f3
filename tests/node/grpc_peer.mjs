// gRPC peer of tests/integration/test_grpc.py, on @grpc/grpc-js (the reference Node
// implementation). `server`: serves gwtest.Echo (echo.proto) over h2c on a free port and
// prints "READY <port>"; `server --tls CERT KEY`: the same over TLS (HTTP/2 with ALPN h2). `call TARGET KIND [options as JSON]`: makes one call through TARGET
// and prints one JSON line {code, details, messages, trailers}. Options: metadata, deadline_ms,
// messages (or big and n), stream_ms (kind client: write a message every stream_ms ms and never
// end the client's side, as a long client-streaming call does).
//
// Server behaviour, by the request's text: "slow:<ms>" answers after ms (deadline tests);
// "fail" answers NOT_FOUND with a grpc-message and a trailer "x-why: fail"; "code:<n>" answers
// status n (0 is an echo); "health:<service>=<status>" sets what grpc.health.v1.Health/Check
// answers for <service> ("" the server; a status number, "unset": NOT_FOUND, as for a
// service it never heard of, or "hang": no answer at all); anything else is echoed with the metadata "x-authorization" it
// saw and a trailer "x-served-by: grpc-peer". The server also serves grpc.health.v1.Health
// (health.proto: Check), every name SERVING at start, unless started as `server nohealth`.
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
const def = protoLoader.loadSync(path.join(dir, 'echo.proto'), { keepCase: true, defaults: true });
const proto = grpc.loadPackageDefinition(def).gwtest;
const healthDef = protoLoader.loadSync(path.join(dir, 'health.proto'), { keepCase: true, defaults: true, enums: Number });
const healthProto = grpc.loadPackageDefinition(healthDef).grpc.health.v1;
// Check's answers by service name; absent: NOT_FOUND.
const health = new Map([['', 1], ['gwtest.Echo', 1]]);

function trailer(extra) {
  const md = new grpc.Metadata();
  md.set('x-served-by', 'grpc-peer');
  for (const [k, v] of Object.entries(extra || {})) md.set(k, v);
  return md;
}

function serve(opts) {
  const withHealth = !opts.includes('nohealth');
  const server = new grpc.Server();
  if (withHealth) {
    server.addService(healthProto.Health.service, {
      Check(call, cb) {
        const st = health.get(call.request.service);
        if (st === undefined) cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
        else if (st !== 'hang') cb(null, { status: st });
      },
    });
  }
  server.addService(proto.Echo.service, {
    Unary(call, cb) {
      const text = call.request.text;
      const seen = call.metadata.get('x-authorization')[0] || '';
      if (text === 'fail') {
        cb({ code: grpc.status.NOT_FOUND, details: 'no such thing', metadata: trailer({ 'x-why': 'fail' }) });
        return;
      }
      const hs = /^health:([^=]*)=(\w+)$/.exec(text);
      if (hs) {
        if (hs[2] === 'unset') health.delete(hs[1]);
        else health.set(hs[1], hs[2] === 'hang' ? 'hang' : Number(hs[2]));
        cb(null, { text: 'ok', count: 0 });
        return;
      }
      const code = /^code:(\d+)$/.exec(text);
      if (code && Number(code[1]) !== 0) {
        cb({ code: Number(code[1]), details: 'asked for ' + code[1], metadata: trailer() });
        return;
      }
      const m = /^slow:(\d+)$/.exec(text);
      const answer = () => cb(null, { text: 'echo:' + text + (seen ? ' auth:' + seen : ''), count: call.request.count + 1 }, trailer());
      if (m) setTimeout(answer, Number(m[1]));
      else answer();
    },
    ServerStream(call) {
      const n = call.request.count;
      let i = 0;
      const next = () => {
        if (i === n) { call.end(trailer()); return; }
        call.write({ text: call.request.text + ':' + i, count: i });
        i++;
        setImmediate(next);
      };
      next();
    },
    ClientStream(call, cb) {
      const texts = [];
      let sum = 0;
      call.on('data', (m) => { texts.push(m.text); sum += m.count; });
      call.on('end', () => cb(null, { text: texts.join(','), count: sum }, trailer()));
    },
    Bidi(call) {
      call.on('data', (m) => call.write({ text: 'bidi:' + m.text, count: m.count * 2 }));
      call.on('end', () => call.end(trailer()));
    },
  });
  const ti = opts.indexOf('--tls');
  const creds = ti >= 0
    ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: fs.readFileSync(opts[ti + 1]), private_key: fs.readFileSync(opts[ti + 2]) }], false)
    : grpc.ServerCredentials.createInsecure();
  server.bindAsync('127.0.0.1:0', creds, (err, port) => {
    if (err) { console.error(err); process.exit(1); }
    process.stdout.write('READY ' + port + '\n');
  });
}

function call(target, kind, opts) {
  const client = new proto.Echo(target, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(opts.metadata || {})) md.set(k, v);
  const options = opts.deadline_ms ? { deadline: Date.now() + opts.deadline_ms } : {};
  const out = { code: 0, details: '', messages: [], trailers: {} };
  const done = (err) => {
    if (err) { out.code = err.code; out.details = err.details; }
    process.stdout.write(JSON.stringify(out) + '\n');
    client.close();
  };
  const onStatus = (st) => { out.trailers = st.metadata ? st.metadata.getMap() : {}; };
  // opts.big: opts.n messages of opts.big bytes each (too large for a command line).
  const msgs = opts.big ? Array.from({ length: opts.n || 1 }, () => ({ text: 'x'.repeat(opts.big), count: 1 }))
    : (opts.messages || [{ text: 'hello', count: 1 }]);
  if (kind === 'unary') {
    const c = client.Unary(msgs[0], md, options, (err, res) => { if (res) out.messages.push(res); setImmediate(() => done(err)); });
    c.on('status', onStatus);
  } else if (kind === 'server') {
    const c = client.ServerStream(msgs[0], md, options);
    c.on('data', (m) => out.messages.push(m));
    c.on('status', onStatus);
    c.on('error', (err) => setImmediate(() => done(err)));
    c.on('end', () => setImmediate(() => done(null)));
  } else if (kind === 'client' && opts.stream_ms) {
    // A client that keeps streaming (a message every stream_ms ms, never ending its side):
    // the call ends only by the status the other side sends.
    let tick = null;
    const c = client.ClientStream(md, options, (err, res) => {
      clearInterval(tick);
      if (res) out.messages.push(res);
      setImmediate(() => done(err));
    });
    c.on('status', onStatus);
    let i = 0;
    tick = setInterval(() => c.write(msgs[i++ % msgs.length]), opts.stream_ms);
    c.write(msgs[0]);
  } else if (kind === 'client') {
    const c = client.ClientStream(md, options, (err, res) => { if (res) out.messages.push(res); setImmediate(() => done(err)); });
    c.on('status', onStatus);
    for (const m of msgs) c.write(m);
    c.end();
  } else if (kind === 'bidi') {
    // One message at a time: the next goes only after the answer to the previous came back
    // through the gateway, so the exchange is really interleaved.
    const c = client.Bidi(md, options);
    let i = 0;
    c.on('data', (m) => {
      out.messages.push(m);
      i++;
      if (i < msgs.length) c.write(msgs[i]);
      else c.end();
    });
    c.on('status', onStatus);
    c.on('error', (err) => setImmediate(() => done(err)));
    c.on('end', () => setImmediate(() => done(null)));
    c.write(msgs[0]);
  } else {
    throw new Error('unknown kind ' + kind);
  }
}

const [, , mode, ...rest] = process.argv;
if (mode === 'server') serve(rest);
else if (mode === 'call') call(rest[0], rest[1], rest[2] ? JSON.parse(rest[2]) : {});
else { console.error('usage: grpc_peer.mjs server | call TARGET KIND [JSON]'); process.exit(2); }
