/**
 * `backend_prewarm` (tsbetween-only): the pool of pre-warmed backend connections over real
 * loopback sockets — fill, hand-off, replacement, snapshot changes, backend-closed and dead
 * backends (backoff), exact counters, banners, PROXY header at hand-off, TLS to backends.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { ServerPlan } from '../../src/core/plan.js';
import { buildPipeline } from '../../src/data/stream/pipeline.js';
import { BACKOFF_BASE_MS } from '../../src/data/stream/prewarm.js';
import { prewarmOf } from '../../src/data/stream/prewarm-dial.js';
import type { TestProxyOptions } from '../helpers/proxy.js';
import { sleep } from '../helpers/wait.js';
import {
  Handles, closedPort, closedWithin, connectClient, readAll, spec, startBackend, startProxy, waitFor,
} from '../integration/tcp-helpers.js';
import { OPENSSL, makeTestPki } from './tls/pki.js';

/** A backend that records its connections in accept order and echoes; `open` counts live ones. */
async function recordingBackend(h: Handles, onConn?: (s: Socket, i: number) => void): Promise<{ port: number; conns: Socket[]; open(): number }> {
  const conns: Socket[] = [];
  const srv = await startBackend(h, (s) => {
    s.on('error', () => undefined);
    const i = conns.push(s) - 1;
    if (onConn !== undefined) onConn(s, i);
    else s.pipe(s);
  });
  return { port: srv.port, conns, open: () => conns.filter((s) => !s.destroyed).length };
}

async function proxyWith(h: Handles, ports: number[], opts: Partial<TestProxyOptions>): Promise<Awaited<ReturnType<typeof startProxy>>> {
  return startProxy(h, ports.map((p) => spec(p)), opts);
}

/** One request/response through the proxy: writes `msg`, ends, reads the echo to EOF. */
async function roundTrip(h: Handles, port: number, msg: string): Promise<string> {
  const c = await connectClient(h, port);
  const all = readAll(c);
  c.end(msg);
  return (await all).toString();
}

test('off by default: no pool, the plain dial stage, nothing dialed before a client', async (t) => {
  const h = new Handles();
  t.after(() => h.closeAll());
  const plan: ServerPlan = {
    name: 'p', protocol: 'tcp', bind: '127.0.0.1:0', balance: 'roundrobin', maxConnections: 0,
    clientIdleTimeoutMs: 0, backendIdleTimeoutMs: 0, backendConnectionTimeoutMs: 0, access: null,
  };
  assert.deepEqual(buildPipeline(plan).map((s) => s.name), ['admission', 'pick', 'dial', 'forward']);
  const b = await recordingBackend(h);
  const { server } = await proxyWith(h, [b.port], {});
  assert.equal(prewarmOf(server.runtime), undefined);
  await sleep(100);
  assert.equal(b.conns.length, 0);
});

test('fills to N per backend; a client gets a pooled socket, which is replaced', async (t) => {
  const h = new Handles();
  t.after(() => h.closeAll());
  const b1 = await recordingBackend(h);
  const b2 = await recordingBackend(h);
  const { server, pool, port } = await proxyWith(h, [b1.port, b2.port], { backendPrewarm: 3 });
  await waitFor(() => b1.conns.length === 3 && b2.conns.length === 3, 5000, '3 pooled connections per backend');
  const rt = server.runtime;
  const slot1 = pool.get(`127.0.0.1:${b1.port}`)?.slot ?? -1;
  await waitFor(() => prewarmOf(rt)?.idleCount(slot1) === 3, 5000, 'idle count');
  const before = [...b1.conns, ...b2.conns];
  assert.equal(await roundTrip(h, port, 'hello'), 'hello');
  // The echo went through a connection the backend had accepted before the client connected.
  const used = before.filter((s) => s.bytesRead > 0);
  assert.equal(used.length, 1);
  await waitFor(() => b1.conns.length + b2.conns.length === 7, 5000, 'a replacement dial');
  await sleep(50);
  assert.equal(b1.conns.length + b2.conns.length, 7, 'exactly one replacement');
});

test('counters stay exact: pooled sockets count only once handed to a client', async (t) => {
  const h = new Handles();
  t.after(() => h.closeAll());
  const b = await recordingBackend(h);
  const { pool, counters, port } = await proxyWith(h, [b.port], { backendPrewarm: 2 });
  await waitFor(() => b.conns.length === 2, 5000, 'pool filled');
  const be = pool.get(`127.0.0.1:${b.port}`);
  assert.ok(be !== undefined);
  assert.deepEqual([be.total, be.active, be.refused, be.rx, be.tx], [0, 0, 0, 0, 0]);
  const n = 12;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const msg = `message ${i}`;
    bytes += msg.length;
    assert.equal(await roundTrip(h, port, msg), msg);
  }
  await waitFor(() => be.active === 0 && counters.active === 0, 5000, 'connections finished');
  assert.deepEqual([be.total, be.refused, be.rx, be.tx], [n, 0, bytes, bytes]);
  assert.deepEqual([counters.rx, counters.tx], [bytes, bytes]);
});

test('a backend leaving the snapshot or going down has its pooled sockets closed', async (t) => {
  const h = new Handles();
  t.after(() => h.closeAll());
  const b1 = await recordingBackend(h);
  const b2 = await recordingBackend(h);
  const { pool } = await proxyWith(h, [b1.port, b2.port], { backendPrewarm: 2 });
  await waitFor(() => b1.open() === 2 && b2.open() === 2, 5000, 'pool filled');
  pool.setDiscovered([spec(b2.port)]);
  await Promise.all(b1.conns.map((s) => closedWithin(s, 5000)));
  pool.setLive(`127.0.0.1:${b2.port}`, false);
  await Promise.all(b2.conns.map((s) => closedWithin(s, 5000)));
  await sleep(BACKOFF_BASE_MS * 3);
  assert.equal(b1.conns.length + b2.conns.length, 4, 'nothing dialed to a backend that is not eligible');
  pool.setLive(`127.0.0.1:${b2.port}`, true);
  await waitFor(() => b2.open() === 2, 5000, 'refilled once live again');
});

test('an idle pooled socket closed by the backend is replaced; the client gets a live one', async (t) => {
  const h = new Handles();
  t.after(() => h.closeAll());
  const b = await recordingBackend(h, (s, i) => {
    if (i === 0) setTimeout(() => s.end(), 20);
    else s.pipe(s);
  });
  const { port, server } = await proxyWith(h, [b.port], { backendPrewarm: 1 });
  await waitFor(() => b.conns.length === 2 && b.open() === 1, 5000, 'the closed socket replaced');
  const slot = server.pool.all()[0]?.slot ?? -1;
  await waitFor(() => prewarmOf(server.runtime)?.idleCount(slot) === 1, 5000, 'replacement idle');
  assert.equal(await roundTrip(h, port, 'ping'), 'ping');
  assert.equal(b.conns[1]?.bytesRead, 4);
});

test('a pooled socket idle longer than its maximum age is closed and replaced, never handed out', async (t) => {
  const h = new Handles();
  t.after(() => h.closeAll());
  const b = await recordingBackend(h);
  // backend_idle_timeout shorter than 60 s bounds the age: 400 ms here, swept every 250 ms.
  const { port, server } = await proxyWith(h, [b.port], { backendPrewarm: 1, backendIdleTimeoutMs: 400 });
  const pool = prewarmOf(server.runtime);
  assert.ok(pool !== undefined);
  assert.equal(pool.maxIdleMs, 400);
  await waitFor(() => b.conns.length === 1, 5000, 'the first pooled connection');
  const first = b.conns[0];
  await waitFor(() => b.conns.length >= 2 && first?.destroyed === true, 5000, 'the aged socket closed and replaced');
  assert.ok(pool.expired >= 1);
  // Not a failure: the replacement was dialed at once, without backoff.
  const slot = server.pool.all()[0]?.slot ?? -1;
  await waitFor(() => pool.idleCount(slot) === 1, 5000, 'replacement idle');
  const used = b.conns.length;
  assert.equal(await roundTrip(h, port, 'fresh'), 'fresh');
  const through = b.conns.filter((s) => s.bytesRead > 0);
  assert.equal(through.length, 1);
  assert.ok(b.conns.indexOf(through[0] as Socket) < used, 'a pooled socket served the client');
  assert.equal(first?.bytesRead, 0, 'the aged socket carried nothing');
});

test('take() skips an aged socket the sweep has not reached yet', async (t) => {
  const h = new Handles();
  t.after(() => h.closeAll());
  const b = await recordingBackend(h);
  const { port, server } = await proxyWith(h, [b.port], { backendPrewarm: 1, backendIdleTimeoutMs: 60_000 });
  const pool = prewarmOf(server.runtime);
  assert.ok(pool !== undefined);
  const slot = server.pool.all()[0]?.slot ?? -1;
  await waitFor(() => pool.idleCount(slot) === 1, 5000, 'pooled');
  // Age the pooled socket past the maximum without waiting 60 s: move its birth back.
  const warm = (pool as unknown as { entries: Map<number, { idle: Array<{ born: number }> }> }).entries.get(slot)?.idle[0];
  assert.ok(warm !== undefined);
  warm.born -= 61_000;
  assert.equal(await roundTrip(h, port, 'x'), 'x');
  assert.equal(b.conns[0]?.bytesRead, 0, 'the aged socket was not handed out');
  assert.equal(pool.expired, 1);
  await waitFor(() => b.conns[0]?.destroyed === true, 5000, 'the aged socket closed');
});

test('a dead backend: pool dials back off (no loop), no refused count; clients still dial', async (t) => {
  const h = new Handles();
  t.after(() => h.closeAll());
  const dead = await closedPort();
  const { server, pool, port } = await proxyWith(h, [dead], { backendPrewarm: 4 });
  const t0 = Date.now();
  const rt = server.runtime;
  await sleep(1500);
  const elapsed = Date.now() - t0;
  const dials = prewarmOf(rt)?.dials ?? 0;
  // Rounds at 0, 100, 300, 700, 1500, ... ms: at most 2 + log2(elapsed/100) rounds of 4 dials.
  const bound = 4 * (2 + Math.ceil(Math.log2(1 + elapsed / BACKOFF_BASE_MS)));
  assert.ok(dials >= 4 && dials <= bound, `${dials} dials in ${elapsed} ms (bound ${bound})`);
  const be = pool.get(`127.0.0.1:${dead}`);
  assert.equal(be?.refused, 0, 'pool dials are not refused client connections');
  const c = await connectClient(h, port);
  await closedWithin(c, 5000);
  await waitFor(() => be?.refused === 1, 5000, 'the client dial counted as today');
});

test('a backend that accepts and closes at once is not dialed in a loop', async (t) => {
  const h = new Handles();
  t.after(() => h.closeAll());
  const b = await recordingBackend(h, (s) => s.destroy());
  const { server } = await proxyWith(h, [b.port], { backendPrewarm: 2 });
  const t0 = Date.now();
  await sleep(1500);
  const elapsed = Date.now() - t0;
  const dials = prewarmOf(server.runtime)?.dials ?? 0;
  const bound = 2 * (2 + Math.ceil(Math.log2(1 + elapsed / BACKOFF_BASE_MS)));
  assert.ok(dials >= 2 && dials <= bound, `${dials} dials in ${elapsed} ms (bound ${bound})`);
  assert.ok(b.conns.length <= dials);
});

test('server close closes the pool', async (t) => {
  const h = new Handles();
  t.after(() => h.closeAll());
  const b = await recordingBackend(h);
  const { server } = await proxyWith(h, [b.port], { backendPrewarm: 3 });
  await waitFor(() => b.open() === 3, 5000, 'pool filled');
  await server.close();
  await Promise.all(b.conns.map((s) => closedWithin(s, 5000)));
  await sleep(BACKOFF_BASE_MS * 2);
  assert.equal(b.conns.length, 3);
});

test('a banner sent while idle reaches the client first and counts in rx', async (t) => {
  const h = new Handles();
  t.after(() => h.closeAll());
  const banner = '220 ready\r\n';
  const b = await recordingBackend(h, (s) => {
    s.write(banner);
    s.pipe(s);
  });
  const { pool, port } = await proxyWith(h, [b.port], { backendPrewarm: 1 });
  await waitFor(() => b.conns.length === 1 && b.conns[0]?.bytesWritten === banner.length, 5000, 'banner sent');
  await sleep(50);
  assert.equal(await roundTrip(h, port, 'EHLO x\r\n'), `${banner}EHLO x\r\n`);
  const be = pool.get(`127.0.0.1:${b.port}`);
  await waitFor(() => be?.active === 0, 5000, 'finished');
  assert.equal(be?.rx, banner.length + 8);
});

test('proxy_protocol: the header is written at hand-off with the real client address', async (t) => {
  const h = new Handles();
  t.after(() => h.closeAll());
  const b = await recordingBackend(h);
  const { port } = await proxyWith(h, [b.port], { backendPrewarm: 1, proxyProtocol: { version: 1 } });
  await waitFor(() => b.conns.length === 1, 5000, 'pool filled');
  const c = await connectClient(h, port);
  const clientPort = c.localPort;
  const all = readAll(c);
  c.end('x');
  const got = (await all).toString();
  assert.equal(got, `PROXY TCP4 127.0.0.1 127.0.0.1 ${clientPort} ${port}\r\nx`);
});

test('backends_tls: the TLS handshake is done ahead, the client gets the session', async (t) => {
  if (OPENSSL === undefined) {
    t.skip('openssl not installed');
    return;
  }
  const pki = makeTestPki();
  const h = new Handles();
  t.after(async () => {
    await h.closeAll();
    pki.dispose();
  });
  const conns: tls.TLSSocket[] = [];
  const spoke: number[] = [];
  const srv = h.server(tls.createServer({ cert: readFileSync(pki.cert), key: readFileSync(pki.key) }, (s) => {
    const i = conns.push(s) - 1;
    s.on('error', () => undefined);
    s.once('data', () => spoke.push(i));
    s.pipe(s);
  }));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const bport = (srv.address() as { port: number }).port;
  const { pool, port } = await proxyWith(h, [bport], {
    backendPrewarm: 1,
    backendsTls: {
      ignore_verify: false, root_ca_cert_path: pki.ca, cert_path: null, key_path: null, ciphers: null,
      min_version: '', max_version: '', session_tickets: false,
    },
  });
  await waitFor(() => conns.length === 1, 10000, 'pooled TLS session');
  assert.equal(await roundTrip(h, port, 'over tls'), 'over tls');
  assert.deepEqual(spoke, [0], 'the session opened before the client carried its bytes');
  const be = pool.get(`127.0.0.1:${bport}`);
  await waitFor(() => be?.active === 0 && conns.length === 2, 10000, 'finished and replaced');
  assert.deepEqual([be?.total, be?.rx, be?.tx], [1, 8, 8]);
});
