import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import pino from 'pino';
import { backendSpec } from '../../src/core/backend.js';
import { compileAccess } from '../../src/data/access.js';
import {
  Handles, closedPort, closedWithin, connectClient, echoHandler, readAll, spec, startBackend, startProxy, waitFor,
} from './tcp-helpers.js';

test('server max_connections closes the excess at once', { timeout: 20_000 }, async () => {
  const h = new Handles();
  try {
    let backendConns = 0;
    const be = await startBackend(h, (s) => {
      backendConns++;
      echoHandler(s);
    });
    const { server, counters, port } = await startProxy(h, [spec(be.port)], { maxConnections: 2 });
    const a = await connectClient(h, port);
    const b = await connectClient(h, port);
    await waitFor(() => backendConns === 2, 3000, 'two relayed');
    assert.equal(counters.active, 2);
    const c = await connectClient(h, port);
    const got = readAll(c);
    await closedWithin(c, 2000);
    assert.equal((await got).length, 0, 'no bytes for the refused client');
    assert.equal(backendConns, 2, 'no dial for the excess');
    assert.equal(counters.active, 2);
    // Once one leaves, a new one is admitted.
    a.end();
    await waitFor(() => server.connections === 1, 3000, 'one left');
    const d = await connectClient(h, port);
    const r = readAll(d);
    d.end('ok');
    assert.equal((await r).toString(), 'ok');
    b.end();
    await waitFor(() => counters.active === 0, 3000, 'all released');
  } finally {
    await h.closeAll();
  }
});

test('negative max_connections rejects every connection', { timeout: 10_000 }, async () => {
  const h = new Handles();
  try {
    const be = await startBackend(h, echoHandler);
    const { counters, port } = await startProxy(h, [spec(be.port)], { maxConnections: -1 });
    const c = await connectClient(h, port);
    await closedWithin(c, 2000);
    assert.equal(counters.active, 0);
  } finally {
    await h.closeAll();
  }
});

test('per-backend max_connections: the election refuses the excess', { timeout: 20_000 }, async () => {
  const h = new Handles();
  try {
    const be = await startBackend(h, echoHandler);
    const { pool, counters, port } = await startProxy(h, [spec(be.port, { maxConnections: 1 })]);
    const a = await connectClient(h, port);
    await waitFor(() => pool.eligible[0]?.active === 1, 3000, 'reserved');
    const b = await connectClient(h, port);
    await closedWithin(b, 2000);
    const backend = pool.eligible[0];
    assert.ok(backend !== undefined);
    assert.equal(backend.active, 1);
    assert.equal(backend.total, 1);
    assert.equal(backend.refused, 0);
    a.end();
    await waitFor(() => backend.active === 0 && counters.active === 0, 3000, 'released');
    const c = await connectClient(h, port);
    const r = readAll(c);
    c.end('again');
    assert.equal((await r).toString(), 'again');
  } finally {
    await h.closeAll();
  }
});

test('access deny: closed at once, no backend dial, active back to 0', { timeout: 10_000 }, async () => {
  const h = new Handles();
  try {
    let backendConns = 0;
    const be = await startBackend(h, (s) => {
      backendConns++;
      echoHandler(s);
    });
    const access = compileAccess({ default: 'allow', rules: ['deny 127.0.0.0/8'] }, 'servers.test.access');
    const { pool, counters, port } = await startProxy(h, [spec(be.port)], { access });
    const c = await connectClient(h, port);
    const got = readAll(c);
    c.write('hello');
    await closedWithin(c, 2000);
    assert.equal((await got).length, 0);
    assert.equal(backendConns, 0);
    assert.equal(counters.active, 0);
    assert.equal(pool.eligible[0]?.total, 0);
    assert.equal(pool.eligible[0]?.active, 0);
    // An allowing rule lets it through.
    const allow = compileAccess({ default: 'deny', rules: ['allow 127.0.0.1'] }, 'servers.test.access');
    const p2 = await startProxy(h, [spec(be.port)], { access: allow });
    const d = await connectClient(h, p2.port);
    const r = readAll(d);
    d.end('in');
    assert.equal((await r).toString(), 'in');
  } finally {
    await h.closeAll();
  }
});

test('no eligible backend: client closed, nothing counted on backends', { timeout: 10_000 }, async () => {
  const h = new Handles();
  try {
    const { counters, port } = await startProxy(h, []);
    const c = await connectClient(h, port);
    await closedWithin(c, 2000);
    assert.equal(counters.active, 0);
  } finally {
    await h.closeAll();
  }
});

test('refused backend: counted in refused, client closed, lease released', { timeout: 10_000 }, async () => {
  const h = new Handles();
  try {
    const dead = await closedPort();
    const { pool, counters, port } = await startProxy(h, [spec(dead)]);
    const c = await connectClient(h, port);
    await closedWithin(c, 3000);
    const b = pool.eligible[0];
    assert.ok(b !== undefined);
    await waitFor(() => b.active === 0 && counters.active === 0, 3000, 'released');
    assert.equal(b.refused, 1);
    assert.equal(b.total, 0);
    // Same backend elected again (no passive marking).
    const d = await connectClient(h, port);
    await closedWithin(d, 3000);
    await waitFor(() => b.refused === 2, 3000, 'second refusal');
  } finally {
    await h.closeAll();
  }
});

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

test('backend connect timeout: refused++ after the timeout, client closed', { timeout: 20_000 }, async (t) => {
  const h = new Handles();
  const hole = await blackholePort(h);
  if (hole === null) {
    t.skip('python3 not available');
    await h.closeAll();
    return;
  }
  try {
    const { pool, counters, port } = await startProxy(h, [spec(hole.port)], { backendConnectionTimeoutMs: 300 });
    const t0 = Date.now();
    const c = await connectClient(h, port);
    await closedWithin(c, 5000);
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 5000, `closed after ${took} ms`);
    const b = pool.eligible[0];
    assert.ok(b !== undefined);
    await waitFor(() => b.active === 0 && counters.active === 0, 3000, 'released');
    assert.equal(b.refused, 1);
    assert.equal(b.total, 0);
  } finally {
    hole.stop();
    await h.closeAll();
  }
});

/** A backend that writes a byte every `everyMs` and reads whatever comes. */
function tickingBackend(everyMs: number): (s: Socket) => void {
  return (s) => {
    s.on('error', () => undefined);
    s.resume();
    const t = setInterval(() => s.write('.'), everyMs);
    s.on('close', () => clearInterval(t));
  };
}

test('client idle timeout closes the pair even while the backend streams', { timeout: 20_000 }, async () => {
  const h = new Handles();
  try {
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
  } finally {
    await h.closeAll();
  }
});

test('client activity re-arms the client idle timer', { timeout: 20_000 }, async () => {
  const h = new Handles();
  try {
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
  } finally {
    await h.closeAll();
  }
});

test('backend idle timeout closes the pair even while the client sends', { timeout: 20_000 }, async () => {
  const h = new Handles();
  try {
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
  } finally {
    await h.closeAll();
  }
});

test('a backend removed from the pool lingers until its connection closes', { timeout: 20_000 }, async () => {
  const h = new Handles();
  try {
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
  } finally {
    await h.closeAll();
  }
});

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

test('refusal logs are rate-limited: too many connections (warn), election failures (error)', { timeout: 20_000 }, async () => {
  const h = new Handles();
  try {
    const be = await startBackend(h, echoHandler);
    const mem = memoryLogger();
    const { port } = await startProxy(h, [spec(be.port)], { maxConnections: 1, log: mem.log });
    const held = await connectClient(h, port);
    held.write('x');
    const flood: Socket[] = [];
    for (let i = 0; i < 40; i++) flood.push(await connectClient(h, port));
    await Promise.all(flood.map((c) => closedWithin(c, 3000)));
    await new Promise((r) => setTimeout(r, 50));
    const warns = mem.records.filter((r) => r.level === 40);
    assert.ok(warns.length >= 1 && warns.length <= 10, `${warns.length} warn lines for 40 refusals`);
    assert.ok(warns.every((r) => r.msg === 'Too many connections to 127.0.0.1:0'));

    const mem2 = memoryLogger();
    const empty = await startProxy(h, [], { log: mem2.log });
    const flood2: Socket[] = [];
    for (let i = 0; i < 40; i++) flood2.push(await connectClient(h, empty.port));
    await Promise.all(flood2.map((c) => closedWithin(c, 3000)));
    await new Promise((r) => setTimeout(r, 50));
    const errors = mem2.records.filter((r) => r.level === 50);
    assert.ok(errors.length >= 1 && errors.length <= 10, `${errors.length} error lines for 40 failed elections`);
    assert.ok(errors.every((r) => r.msg === "Can't elect backend, Backends empty"));
    assert.equal(empty.counters.active, 0);
  } finally {
    await h.closeAll();
  }
});

test('IPv6 literal bind ([::1]:0) when the host has IPv6', { timeout: 10_000 }, async (t) => {
  const h = new Handles();
  try {
    const be = await startBackend(h, echoHandler);
    let setup: Awaited<ReturnType<typeof startProxy>>;
    try {
      setup = await startProxy(h, [spec(be.port)], { bind: '[::1]:0' });
    } catch {
      t.skip('no IPv6 loopback');
      return;
    }
    assert.equal(setup.server.address().address, '::1');
    const c = await connectClient(h, setup.port, '::1');
    const r = readAll(c);
    c.end('six');
    assert.equal((await r).toString(), 'six');
  } finally {
    await h.closeAll();
  }
});

test('access on a dual-stack listener: IPv4 clients (seen as ::ffff:a.b.c.d) match IPv4 rules', { timeout: 10_000 }, async () => {
  const h = new Handles();
  try {
    let backendConns = 0;
    const be = await startBackend(h, (s) => {
      backendConns++;
      echoHandler(s);
    });
    const deny = compileAccess({ default: 'allow', rules: ['deny 127.0.0.1'] }, 'servers.test.access');
    const denied = await startProxy(h, [spec(be.port)], { bind: ':0', access: deny });
    const c = await connectClient(h, denied.port, '127.0.0.1');
    await closedWithin(c, 2000);
    assert.equal(backendConns, 0);
    const allow = compileAccess({ default: 'deny', rules: ['allow 127.0.0.0/8'] }, 'servers.test.access');
    const allowed = await startProxy(h, [spec(be.port)], { bind: ':0', access: allow });
    const d = await connectClient(h, allowed.port, '127.0.0.1');
    const r = readAll(d);
    d.end('mapped');
    assert.equal((await r).toString(), 'mapped');
    assert.equal(backendConns, 1);
  } finally {
    await h.closeAll();
  }
});

test('backend given by host name (localhost) is dialed', { timeout: 10_000 }, async () => {
  const h = new Handles();
  try {
    const be = await startBackend(h, echoHandler);
    const { pool, port } = await startProxy(h, [backendSpec('localhost', String(be.port))], { backendConnectionTimeoutMs: 2000 });
    const c = await connectClient(h, port);
    const r = readAll(c);
    c.end('by-name');
    assert.equal((await r).toString(), 'by-name');
    assert.equal(pool.eligible[0]?.total, 1);
    assert.equal(pool.eligible[0]?.refused, 0);
  } finally {
    await h.closeAll();
  }
});

test('an elector that throws is a failed election, not a crash', { timeout: 10_000 }, async () => {
  const h = new Handles();
  try {
    const be = await startBackend(h, echoHandler);
    let calls = 0;
    const { counters, port, pool } = await startProxy(h, [spec(be.port)], {
      elector: {
        elect: (_ctx, eligible) => {
          calls++;
          if (calls === 1) throw new Error('boom');
          return eligible[0] ?? 'none';
        },
      },
    });
    const c = await connectClient(h, port);
    await closedWithin(c, 2000);
    assert.equal(counters.active, 0);
    const d = await connectClient(h, port);
    const r = readAll(d);
    d.end('still serving');
    assert.equal((await r).toString(), 'still serving');
    assert.equal(pool.eligible[0]?.total, 1);
  } finally {
    await h.closeAll();
  }
});

test('the elector sees the client address as Node reports it', { timeout: 10_000 }, async () => {
  const h = new Handles();
  try {
    const be = await startBackend(h, echoHandler);
    const seen: string[] = [];
    const { port } = await startProxy(h, [spec(be.port)], {
      bind: ':0',
      elector: {
        elect: (ctx, eligible) => {
          seen.push(`${ctx.clientIp} ${ctx.clientPort} ${JSON.stringify(ctx.sni)}`);
          return eligible[0] ?? 'none';
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
  } finally {
    await h.closeAll();
  }
});

test('a client reset mid-transfer tears the backend side down and releases once', { timeout: 10_000 }, async () => {
  const h = new Handles();
  try {
    let backendClosed = 0;
    const be = await startBackend(h, (s) => {
      s.on('error', () => undefined);
      s.on('close', () => backendClosed++);
      s.resume();
      s.write(Buffer.alloc(4 * 1024 * 1024));
    });
    const { pool, counters, port } = await startProxy(h, [spec(be.port)]);
    const c = await connectClient(h, port);
    await new Promise<void>((r) => c.once('data', () => r()));
    c.resetAndDestroy();
    await waitFor(() => backendClosed === 1 && counters.active === 0, 3000, 'backend side closed');
    const b = pool.eligible[0];
    assert.ok(b !== undefined);
    assert.equal(b.active, 0);
    assert.equal(b.total, 1);
    assert.equal(b.refused, 0);
  } finally {
    await h.closeAll();
  }
});

test('close() while dialing: no refused count, lease released', { timeout: 20_000 }, async (t) => {
  const h = new Handles();
  const hole = await blackholePort(h);
  if (hole === null) {
    t.skip('python3 not available');
    await h.closeAll();
    return;
  }
  try {
    const { server, pool, counters, port } = await startProxy(h, [spec(hole.port)]);
    const c = await connectClient(h, port);
    await waitFor(() => server.connections === 1, 3000, 'dialing');
    await server.close();
    await closedWithin(c, 3000);
    const b = pool.eligible[0];
    assert.ok(b !== undefined);
    assert.equal(b.active, 0);
    assert.equal(b.refused, 0);
    assert.equal(counters.active, 0);
  } finally {
    hole.stop();
    await h.closeAll();
  }
});
