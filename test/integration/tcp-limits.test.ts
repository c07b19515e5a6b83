import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { BackendPool } from '../../src/control/backend-pool.js';
import { backendSpec, type Backend } from '../../src/core/backend.js';
import {
  Handles, closedPort, closedWithin, connectClient, echoHandler, readAll, spec, startBackend, startProxy, waitFor,
} from './tcp-helpers.js';

/** Runs `fn` with a fresh Handles and closes every handle afterwards, whatever happens. */
async function withHandles(fn: (h: Handles) => Promise<void>): Promise<void> {
  const h = new Handles();
  try {
    await fn(h);
  } finally {
    await h.closeAll();
  }
}

/** An echo backend that counts the connections it accepts. */
async function countingBackend(h: Handles): Promise<{ port: number; conns: () => number }> {
  let conns = 0;
  const be = await startBackend(h, (s) => {
    conns++;
    echoHandler(s);
  });
  return { port: be.port, conns: () => conns };
}

/** Connects a client, sends `msg` and half-closes; resolves with all it read back. */
async function roundTrip(h: Handles, port: number, msg: string, host?: string): Promise<string> {
  const c = await connectClient(h, port, host);
  const r = readAll(c);
  c.end(msg);
  return (await r).toString();
}

/** The first eligible backend, asserted to exist. */
function firstBackend(pool: BackendPool): Backend {
  const b = pool.eligible[0];
  assert.ok(b !== undefined);
  return b;
}

/** Asserts a backend's connection counters (only the ones given). */
function assertCounts(b: Backend, want: { active?: number; total?: number; refused?: number }): void {
  if (want.active !== undefined) assert.equal(b.active, want.active);
  if (want.total !== undefined) assert.equal(b.total, want.total);
  if (want.refused !== undefined) assert.equal(b.refused, want.refused);
}

test('server max_connections closes the excess at once', { timeout: 20_000 }, () => withHandles(async (h) => {
  const be = await countingBackend(h);
  const { server, counters, port } = await startProxy(h, [spec(be.port)], { maxConnections: 2 });
  const a = await connectClient(h, port);
  const b = await connectClient(h, port);
  await waitFor(() => be.conns() === 2, 3000, 'two relayed');
  assert.equal(counters.active, 2);
  const c = await connectClient(h, port);
  const got = readAll(c);
  await closedWithin(c, 2000);
  assert.equal((await got).length, 0, 'no bytes for the refused client');
  assert.equal(be.conns(), 2, 'no dial for the excess');
  assert.equal(counters.active, 2);
  // Once one leaves, a new one is admitted.
  a.end();
  await waitFor(() => server.connections === 1, 3000, 'one left');
  assert.equal(await roundTrip(h, port, 'ok'), 'ok');
  b.end();
  await waitFor(() => counters.active === 0, 3000, 'all released');
}));

test('negative max_connections rejects every connection', { timeout: 10_000 }, () => withHandles(async (h) => {
  const be = await startBackend(h, echoHandler);
  const { counters, port } = await startProxy(h, [spec(be.port)], { maxConnections: -1 });
  const c = await connectClient(h, port);
  await closedWithin(c, 2000);
  assert.equal(counters.active, 0);
}));

test('per-backend max_connections: the election refuses the excess', { timeout: 20_000 }, () => withHandles(async (h) => {
  const be = await startBackend(h, echoHandler);
  const { pool, counters, port } = await startProxy(h, [spec(be.port, { maxConnections: 1 })]);
  const a = await connectClient(h, port);
  await waitFor(() => pool.eligible[0]?.active === 1, 3000, 'reserved');
  const b = await connectClient(h, port);
  await closedWithin(b, 2000);
  const backend = firstBackend(pool);
  assertCounts(backend, { active: 1, total: 1, refused: 0 });
  a.end();
  await waitFor(() => backend.active === 0 && counters.active === 0, 3000, 'released');
  assert.equal(await roundTrip(h, port, 'again'), 'again');
}));

test('access deny: closed at once, no backend dial, active back to 0', { timeout: 10_000 }, () => withHandles(async (h) => {
  const be = await countingBackend(h);
  const access = { default: 'allow', rules: ['deny 127.0.0.0/8'] };
  const { pool, counters, port } = await startProxy(h, [spec(be.port)], { access });
  const c = await connectClient(h, port);
  const got = readAll(c);
  c.write('hello');
  await closedWithin(c, 2000);
  assert.equal((await got).length, 0);
  assert.equal(be.conns(), 0);
  assert.equal(counters.active, 0);
  assert.equal(pool.eligible[0]?.total, 0);
  assert.equal(pool.eligible[0]?.active, 0);
  // An allowing rule lets it through.
  const allow = { default: 'deny', rules: ['allow 127.0.0.1'] };
  const p2 = await startProxy(h, [spec(be.port)], { access: allow });
  assert.equal(await roundTrip(h, p2.port, 'in'), 'in');
}));

test('no eligible backend: client closed, nothing counted on backends', { timeout: 10_000 }, () => withHandles(async (h) => {
  const { counters, port } = await startProxy(h, []);
  const c = await connectClient(h, port);
  await closedWithin(c, 2000);
  assert.equal(counters.active, 0);
}));

test('refused backend: counted in refused, client closed, lease released', { timeout: 10_000 }, () => withHandles(async (h) => {
  const dead = await closedPort();
  const { pool, counters, port } = await startProxy(h, [spec(dead)]);
  const c = await connectClient(h, port);
  await closedWithin(c, 3000);
  const b = firstBackend(pool);
  await waitFor(() => b.active === 0 && counters.active === 0, 3000, 'released');
  assertCounts(b, { refused: 1, total: 0 });
  // Same backend elected again (no passive marking).
  const d = await connectClient(h, port);
  await closedWithin(d, 3000);
  await waitFor(() => b.refused === 2, 3000, 'second refusal');
}));

/** A listener that never accepts (python, backlog 0) with its queue filled, so SYNs are dropped. */
async function blackholePort(h: Handles): Promise<{ port: number; stop: () => void } | null> {
  const py = spawn('python3', ['-c', [
    'import socket, sys, time',
    's = socket.socket()',
    "s.bind(('127.0.0.1', 0))",
    's.listen(0)',
    'print(s.getsockname()[1], flush=True)',
    'sys.stdin.read()',
  ].join('\n')], { stdio: ['pipe', 'pipe', 'ignore'] });
  const stop = (): void => {
    if (py.exitCode === null) py.kill();
  };
  try {
    const [line] = (await Promise.race([
      once(py.stdout, 'data'),
      once(py, 'error'),
      new Promise((_, rej) => setTimeout(() => rej(new Error('python did not start')), 5000)),
    ])) as [Buffer | Error];
    if (line instanceof Error) return null;
    const port = Number(line.toString().trim());
    // Fill the accept queue: these connections complete into the backlog and are never accepted.
    for (let i = 0; i < 3; i++) {
      const s = h.socket((await import('node:net')).connect({ host: '127.0.0.1', port }));
      s.on('error', () => undefined);
    }
    await new Promise((r) => setTimeout(r, 100));
    return { port, stop };
  } catch {
    stop();
    return null;
  }
}

/** Runs `fn` against a blackhole backend port; skips the test when python3 is missing. */
async function withBlackhole(t: TestContext, fn: (h: Handles, holePort: number) => Promise<void>): Promise<void> {
  const h = new Handles();
  const hole = await blackholePort(h);
  if (hole === null) {
    t.skip('python3 not available');
    await h.closeAll();
    return;
  }
  try {
    await fn(h, hole.port);
  } finally {
    hole.stop();
    await h.closeAll();
  }
}

test('backend connect timeout: refused++ after the timeout, client closed', { timeout: 20_000 }, (t) => withBlackhole(t, async (h, holePort) => {
  const { pool, counters, port } = await startProxy(h, [spec(holePort)], { backendConnectionTimeoutMs: 300 });
  const t0 = Date.now();
  const c = await connectClient(h, port);
  await closedWithin(c, 5000);
  const took = Date.now() - t0;
  assert.ok(took >= 250 && took < 5000, `closed after ${took} ms`);
  const b = firstBackend(pool);
  await waitFor(() => b.active === 0 && counters.active === 0, 3000, 'released');
  assertCounts(b, { refused: 1, total: 0 });
}));

/** A backend that writes a byte every `everyMs` and reads whatever comes. */
function tickingBackend(everyMs: number): (s: Socket) => void {
  return (s) => {
    s.on('error', () => undefined);
    s.resume();
    const t = setInterval(() => s.write('.'), everyMs);
    s.on('close', () => clearInterval(t));
  };
}

test('client idle timeout closes the pair even while the backend streams', { timeout: 20_000 }, () => withHandles(async (h) => {
  const be = await startBackend(h, tickingBackend(40));
  const { counters, port } = await startProxy(h, [spec(be.port)], { clientIdleTimeoutMs: 400 });
  const t0 = Date.now();
  const c = await connectClient(h, port);
  let bytes = 0;
  c.on('data', (d: Buffer) => (bytes += d.length));
  await closedWithin(c, 8000);
  const took = Date.now() - t0;
  assert.ok(took >= 350 && took < 5000, `closed after ${took} ms`);
  assert.ok(bytes > 3, 'backend traffic flowed meanwhile');
  await waitFor(() => counters.active === 0, 3000, 'released');
}));

test('client activity re-arms the client idle timer', { timeout: 20_000 }, () => withHandles(async (h) => {
  const be = await startBackend(h, echoHandler);
  const { server, port } = await startProxy(h, [spec(be.port)], { clientIdleTimeoutMs: 600 });
  const c = await connectClient(h, port);
  c.resume();
  const tick = setInterval(() => c.write('x'), 50);
  await new Promise((r) => setTimeout(r, 1500));
  clearInterval(tick);
  assert.equal(server.connections, 1, 'still open after 1.5 s of client activity');
  const t0 = Date.now();
  await closedWithin(c, 8000);
  const took = Date.now() - t0;
  assert.ok(took >= 450 && took < 5000, `closed ${took} ms after the client went quiet`);
}));

test('backend idle timeout closes the pair even while the client sends', { timeout: 20_000 }, () => withHandles(async (h) => {
  let backendGot = 0;
  const be = await startBackend(h, (s) => {
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => (backendGot += d.length));
  });
  const { counters, port } = await startProxy(h, [spec(be.port)], { backendIdleTimeoutMs: 400 });
  const t0 = Date.now();
  const c = await connectClient(h, port);
  const tick = setInterval(() => c.write('y'), 40);
  try {
    await closedWithin(c, 8000);
  } finally {
    clearInterval(tick);
  }
  const took = Date.now() - t0;
  assert.ok(took >= 350 && took < 5000, `closed after ${took} ms`);
  assert.ok(backendGot > 3, 'client traffic flowed meanwhile');
  await waitFor(() => counters.active === 0, 3000, 'released');
}));

test('a backend removed from the pool lingers until its connection closes', { timeout: 20_000 }, () => withHandles(async (h) => {
  const be = await startBackend(h, echoHandler);
  const { pool, counters, port } = await startProxy(h, [spec(be.port)]);
  const key = `127.0.0.1:${be.port}`;
  const c = await connectClient(h, port);
  const r = readAll(c);
  c.write('abc');
  await waitFor(() => pool.get(key)?.total === 1, 3000, 'connected');
  pool.setDiscovered([]);
  const lingering = pool.get(key);
  assert.ok(lingering !== undefined, 'still in the table');
  assert.equal(lingering.discovered, false);
  assert.equal(pool.eligible.length, 0);
  c.end('def');
  assert.equal((await r).toString(), 'abcdef');
  await waitFor(() => pool.get(key) === undefined, 3000, 'removed after the last connection');
  assert.equal(lingering.active, 0);
  assert.equal(lingering.tx, 6);
  assert.equal(lingering.rx, 6);
  assert.equal(counters.active, 0);
}));

/** A pino logger that keeps its JSON records in memory. */
function memoryLogger(): { log: pino.Logger; records: { level: number; msg: string; suppressed?: number }[] } {
  const records: { level: number; msg: string; suppressed?: number }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      for (const line of chunk.toString().split('\n')) if (line !== '') records.push(JSON.parse(line) as { level: number; msg: string });
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, sink), records };
}

/** Opens `n` clients to `port` one after the other and waits until each was closed (then 50 ms for the logs). */
async function flood(h: Handles, port: number, n: number): Promise<void> {
  const clients: Socket[] = [];
  for (let i = 0; i < n; i++) clients.push(await connectClient(h, port));
  await Promise.all(clients.map((c) => closedWithin(c, 3000)));
  await new Promise((r) => setTimeout(r, 50));
}

test('refusal logs are rate-limited: too many connections (warn), election failures (error)', { timeout: 20_000 }, () => withHandles(async (h) => {
  const be = await startBackend(h, echoHandler);
  const mem = memoryLogger();
  const { port } = await startProxy(h, [spec(be.port)], { maxConnections: 1, log: mem.log });
  const held = await connectClient(h, port);
  held.write('x');
  await flood(h, port, 40);
  const warns = mem.records.filter((r) => r.level === 40);
  assert.ok(warns.length >= 1 && warns.length <= 10, `${warns.length} warn lines for 40 refusals`);
  assert.ok(warns.every((r) => r.msg === 'Too many connections to 127.0.0.1:0'));

  const mem2 = memoryLogger();
  const empty = await startProxy(h, [], { log: mem2.log });
  await flood(h, empty.port, 40);
  const errors = mem2.records.filter((r) => r.level === 50);
  assert.ok(errors.length >= 1 && errors.length <= 10, `${errors.length} error lines for 40 failed elections`);
  assert.ok(errors.every((r) => r.msg === "Can't elect backend, Backends empty"));
  assert.equal(empty.counters.active, 0);
}));

test('IPv6 literal bind ([::1]:0) when the host has IPv6', { timeout: 10_000 }, (t) => withHandles(async (h) => {
  const be = await startBackend(h, echoHandler);
  let setup: Awaited<ReturnType<typeof startProxy>>;
  try {
    setup = await startProxy(h, [spec(be.port)], { bind: '[::1]:0' });
  } catch {
    t.skip('no IPv6 loopback');
    return;
  }
  assert.equal(setup.server.address().address, '::1');
  assert.equal(await roundTrip(h, setup.port, 'six', '::1'), 'six');
}));

test('access on a dual-stack listener: IPv4 clients (seen as ::ffff:a.b.c.d) match IPv4 rules', { timeout: 10_000 }, () => withHandles(async (h) => {
  const be = await countingBackend(h);
  const deny = { default: 'allow', rules: ['deny 127.0.0.1'] };
  const denied = await startProxy(h, [spec(be.port)], { bind: ':0', access: deny });
  const c = await connectClient(h, denied.port, '127.0.0.1');
  await closedWithin(c, 2000);
  assert.equal(be.conns(), 0);
  const allow = { default: 'deny', rules: ['allow 127.0.0.0/8'] };
  const allowed = await startProxy(h, [spec(be.port)], { bind: ':0', access: allow });
  assert.equal(await roundTrip(h, allowed.port, 'mapped', '127.0.0.1'), 'mapped');
  assert.equal(be.conns(), 1);
}));

test('backend given by host name (localhost) is dialed', { timeout: 10_000 }, () => withHandles(async (h) => {
  const be = await startBackend(h, echoHandler);
  const { pool, port } = await startProxy(h, [backendSpec('localhost', String(be.port))], { backendConnectionTimeoutMs: 2000 });
  assert.equal(await roundTrip(h, port, 'by-name'), 'by-name');
  assert.equal(pool.eligible[0]?.total, 1);
  assert.equal(pool.eligible[0]?.refused, 0);
}));

test('a balancer that throws is a failed election, not a crash', { timeout: 10_000 }, () => withHandles(async (h) => {
  const be = await startBackend(h, echoHandler);
  let calls = 0;
  const { counters, port, pool } = await startProxy(h, [spec(be.port)], {
    balancer: {
      pick: (_ctx, candidates) => {
        calls++;
        if (calls === 1) throw new Error('boom');
        return candidates[0];
      },
    },
  });
  const c = await connectClient(h, port);
  await closedWithin(c, 2000);
  assert.equal(counters.active, 0);
  assert.equal(await roundTrip(h, port, 'still serving'), 'still serving');
  assert.equal(pool.eligible[0]?.total, 1);
}));

test('the balancer sees the client address as Node reports it', { timeout: 10_000 }, () => withHandles(async (h) => {
  const be = await startBackend(h, echoHandler);
  const seen: string[] = [];
  const { port } = await startProxy(h, [spec(be.port)], {
    bind: ':0',
    balancer: {
      pick: (ctx, candidates) => {
        seen.push(`${ctx.clientIp} ${ctx.clientPort} ${JSON.stringify(ctx.sni)}`);
        return candidates[0];
      },
    },
  });
  const c = await connectClient(h, port, '127.0.0.1');
  const localPort = c.localPort;
  const r = readAll(c);
  c.end('ctx');
  await r;
  assert.equal(seen.length, 1);
  const expectIp = /^::ffff:127\.0\.0\.1$|^127\.0\.0\.1$/;
  const [ip, p, sni] = (seen[0] as string).split(' ');
  assert.match(ip as string, expectIp);
  assert.equal(Number(p), localPort);
  assert.equal(sni, '""');
}));

test('a client reset mid-transfer tears the backend side down and releases once', { timeout: 10_000 }, () => withHandles(async (h) => {
  let backendClosed = 0;
  const be = await startBackend(h, (s) => {
    s.on('error', () => undefined);
    s.on('close', () => backendClosed++);
    // The proxy's close reaches the backend as RST (data still unread) or, once the proxy had read
    // all 4 MiB, as FIN: a backend closes on either (this one is half-open capable, so say so).
    s.on('end', () => s.destroy());
    s.resume();
    s.write(Buffer.alloc(4 * 1024 * 1024));
  });
  const { pool, counters, port } = await startProxy(h, [spec(be.port)]);
  const c = await connectClient(h, port);
  await new Promise<void>((r) => c.once('data', () => r()));
  c.resetAndDestroy();
  await waitFor(() => backendClosed === 1 && counters.active === 0, 3000, 'backend side closed');
  assertCounts(firstBackend(pool), { active: 0, total: 1, refused: 0 });
}));

test('close() while dialing: no refused count, lease released', { timeout: 20_000 }, (t) => withBlackhole(t, async (h, holePort) => {
  const { server, pool, counters, port } = await startProxy(h, [spec(holePort)]);
  const c = await connectClient(h, port);
  await waitFor(() => server.connections === 1, 3000, 'dialing');
  await server.close();
  await closedWithin(c, 3000);
  assertCounts(firstBackend(pool), { active: 0, refused: 0 });
  assert.equal(counters.active, 0);
}));

test('a half-closed client that stops reading cannot hold the pair (blocked time counts once the client sent FIN)', { timeout: 20_000 }, () => withHandles(async (h) => {
  // The backend streams without end; the client sends its request, half-closes and never reads.
  const be = await startBackend(h, (s) => {
    s.on('error', () => undefined);
    s.resume();
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = (): void => {
      while (!s.destroyed && s.write(chunk)) { /* until the proxy stops reading */ }
    };
    s.on('drain', pump);
    pump();
  });
  const { counters, port } = await startProxy(h, [spec(be.port)], { clientIdleTimeoutMs: 400, backendIdleTimeoutMs: 400 });
  const c = await connectClient(h, port);
  c.pause();
  c.end('GET\n');
  await waitFor(() => counters.active === 0, 10_000, 'pair destroyed after the idle timeout');
}));

test('a direction blocked on a peer that still talks is not idle (GoBetween re-arms after the write)', { timeout: 20_000 }, () => withHandles(async (h) => {
  // The backend keeps sending a byte every 50 ms but stops reading for 1.5 s; the client
  // uploads as fast as it can. With 400 ms idle timeouts the pair must survive the stall.
  let received = 0;
  const be = await startBackend(h, (s) => {
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => (received += d.length));
    s.pause();
    setTimeout(() => s.resume(), 1500);
    const t = setInterval(() => s.write('.'), 50);
    s.on('close', () => clearInterval(t));
  });
  const { server, counters, port } = await startProxy(h, [spec(be.port)], { clientIdleTimeoutMs: 400, backendIdleTimeoutMs: 400 });
  const c = await connectClient(h, port);
  c.resume();
  const chunk = Buffer.alloc(64 * 1024, 0x62);
  let sent = 0;
  let writing = true;
  const pump = (): void => {
    while (writing && !c.destroyed) {
      sent += chunk.length;
      if (!c.write(chunk)) return;
    }
  };
  c.on('drain', pump);
  pump();
  await new Promise((r) => setTimeout(r, 2500));
  writing = false;
  assert.equal(server.connections, 1, 'still open after a 1.5 s stall with 400 ms idle timeouts');
  await waitFor(() => received === sent, 10_000, 'the whole upload arrived after the stall');
  c.destroy();
  await waitFor(() => counters.active === 0, 5000, 'released');
}));
