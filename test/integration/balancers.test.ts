/**
 * The six balancers end to end over loopback sockets: identity backends (each answers its id),
 * the in-process data plane in front of a BackendPool (snapshots), real clients. Bounded: every socket is closed,
 * every wait has a deadline.
 *
 * Thousands of short connections on a shared machine: the backend closes first (its FIN is
 * relayed to the client, which closes last), so TIME_WAIT lands on the listening ports and no
 * ephemeral port is held for a minute per connection. Clients bind a local address only when a
 * test needs one (an explicit bind cannot reuse ports in TIME_WAIT).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { test } from 'node:test';
import { Elector } from '../../src/balance/elector.js';
import { createBalancerRegistry } from '../../src/balance/index.js';
import type { PickContext } from '../../src/balance/types.js';
import { ipHash } from '../../src/balance/hash.js';
import { weightBalancer } from '../../src/balance/weight.js';
import type { BackendPool } from '../../src/control/backend-pool.js';
import { backendSpec, type BackendSpec } from '../../src/core/backend.js';
import { seededRandom } from '../../src/core/clock.js';
import type { SnapshotBackend as Backend } from '../../src/core/snapshot.js';
import { TestProxy } from '../helpers/proxy.js';

// ---- fixtures ------------------------------------------------------------------------------------

interface IdBackend {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly server: net.Server;
  readonly sockets: Set<net.Socket>;
}

/**
 * A backend that answers `<id>\n` and half-closes at once; the connection (and the balancer's
 * lease on it) lasts until the client closes its side.
 */
async function idBackend(id: string, host = '127.0.0.1'): Promise<IdBackend> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.on('end', () => s.destroy());
    s.resume();
    s.end(`${id}\n`);
  });
  server.listen(0, host);
  await once(server, 'listening');
  const a = server.address();
  assert.ok(a !== null && typeof a !== 'string');
  return { id, host, port: a.port, server, sockets };
}

async function closeBackend(b: IdBackend): Promise<void> {
  for (const s of b.sockets) s.destroy();
  await new Promise<void>((resolve) => b.server.close(() => resolve()));
}

interface Lb {
  readonly tcp: TestProxy;
  readonly pool: BackendPool;
  readonly elector: Elector;
  readonly port: number;
  readonly family: string;
}

/** The balancers' random seed (only `weight` draws). */
const SEED = 2024;

async function startLb(balance: string, specs: readonly BackendSpec[], bind = '127.0.0.1:0'): Promise<Lb> {
  assert.ok(createBalancerRegistry().has(balance));
  const tcp = new TestProxy({
    name: `it-${balance}`,
    bind,
    balance,
    backendConnectionTimeoutMs: 2000,
    random: seededRandom(SEED),
  });
  tcp.pool.setDiscovered(specs);
  await tcp.listen();
  const a = tcp.address();
  return { tcp, pool: tcp.pool, elector: tcp.elector, port: a.port, family: a.family };
}

interface Answer {
  readonly id: string;
  readonly socket: net.Socket;
}

/**
 * Connects through the balancer and reads the backend id. The client keeps its own side open
 * (allowHalfOpen) after the backend's FIN, so the connection is held until `hangUp`.
 */
function connect(port: number, localAddress?: string): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const socket = net.connect(
      localAddress === undefined
        ? { host: '127.0.0.1', port, allowHalfOpen: true }
        : { host: '127.0.0.1', port, allowHalfOpen: true, localAddress },
    );
    let buf = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer within 5 s'));
    }, 5000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve({ id: buf.slice(0, nl), socket });
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`closed before an answer (got ${JSON.stringify(buf)})`));
    });
  });
}

/** Ends a client socket and waits until it is fully closed. */
async function hangUp(socket: net.Socket): Promise<void> {
  if (socket.destroyed) return;
  const closed = once(socket, 'close');
  socket.end();
  const timer = setTimeout(() => socket.destroy(), 2000);
  await closed;
  clearTimeout(timer);
}

/** One complete request: connect, read the id, hang up. */
async function ask(port: number, localAddress?: string): Promise<string> {
  const a = await connect(port, localAddress);
  await hangUp(a.socket);
  return a.id;
}

async function askMany(port: number, count: number, batch: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let done = 0; done < count; done += batch) {
    const ids = await Promise.all(Array.from({ length: Math.min(batch, count - done) }, () => ask(port)));
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

async function until(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Starts `n` identity backends and maps pool keys to ids. */
async function backends(n: number, prefix = 'b'): Promise<IdBackend[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => idBackend(`${prefix}${i}`)));
}

function spec(b: IdBackend, extra?: Partial<BackendSpec>): BackendSpec {
  return backendSpec(b.host, String(b.port), extra);
}

function idOf(all: readonly IdBackend[], backend: { readonly host: string; readonly port: string } | string): string {
  assert.ok(typeof backend !== 'string', String(backend));
  const found = all.find((b) => b.host === backend.host && String(b.port) === backend.port);
  assert.ok(found !== undefined);
  return found.id;
}

async function withLb(
  balance: string,
  bs: readonly IdBackend[],
  specs: readonly BackendSpec[],
  body: (lb: Lb) => Promise<void>,
  bind?: string,
): Promise<void> {
  const lb = await startLb(balance, specs, bind);
  try {
    await body(lb);
  } finally {
    await lb.tcp.close();
    lb.pool.close();
    await Promise.all(bs.map(closeBackend));
  }
}

const ctx = (clientIp: string): PickContext => ({ clientIp, clientPort: 1, sni: '' });

// ---- tests ---------------------------------------------------------------------------------------

test('weight 1:3 over 4000 connections, within ±5 %, exactly as the balancer alone', { timeout: 60_000 }, async (t) => {
  // Distinct hosts fix the key order (127.0.0.1:* < 127.0.0.2:*) whatever ports the OS assigns,
  // so the seeded run is reproducible.
  const bs = [await idBackend('light', '127.0.0.1'), await idBackend('heavy', '127.0.0.2')];
  const [light, heavy] = bs as [IdBackend, IdBackend];
  await withLb('weight', bs, [spec(light, { weight: 1 }), spec(heavy, { weight: 3 })], async (lb) => {
    const counts = await askMany(lb.port, 4000, 20);
    const l = counts.get(light.id) ?? 0;
    const h = counts.get(heavy.id) ?? 0;
    t.diagnostic(`weight 1: ${l}, weight 3: ${h}`);
    assert.equal(l + h, 4000);
    assert.ok(Math.abs(l - 1000) <= 50, `weight 1 got ${l}/4000`);
    assert.ok(Math.abs(h - 3000) <= 150, `weight 3 got ${h}/4000`);

    // One election per connection, one draw per election: replaying the same seed on the pure
    // balancer gives exactly the same split.
    const replay = new Elector(weightBalancer.create({ random: seededRandom(SEED) }), lb.tcp.runtime.load);
    replay.setSnapshot(lb.pool.snapshot);
    let replayLight = 0;
    for (let i = 0; i < 4000; i++) {
      if (idOf(bs, replay.elect(ctx('127.0.0.1'))) === light.id) replayLight++;
    }
    assert.equal(l, replayLight);
    await until('all leases released', () => lb.pool.eligible.every((b) => b.active === 0));
  });
});

test('weight: a worse priority group is unused while a better one has live backends', { timeout: 20_000 }, async () => {
  const bs = await backends(3);
  const [a, b, c] = bs as [IdBackend, IdBackend, IdBackend];
  const specs = [spec(a, { priority: 1 }), spec(b, { priority: 1 }), spec(c, { priority: 2, weight: 10 })];
  await withLb('weight', bs, specs, async (lb) => {
    const first = await askMany(lb.port, 60, 10);
    assert.equal(first.get(c.id), undefined);
    assert.ok((first.get(a.id) ?? 0) > 0 && (first.get(b.id) ?? 0) > 0);

    lb.pool.setLive(`127.0.0.1:${a.port}`, false);
    lb.pool.setLive(`127.0.0.1:${b.port}`, false);
    const fallback = await askMany(lb.port, 10, 5);
    assert.deepEqual([...fallback], [[c.id, 10]]);

    lb.pool.setLive(`127.0.0.1:${a.port}`, true);
    const back = await askMany(lb.port, 10, 5);
    assert.deepEqual([...back], [[a.id, 10]]);
  });
});

test('roundrobin: exact rotation over the sorted backends', { timeout: 20_000 }, async () => {
  const bs = await backends(3);
  await withLb('roundrobin', bs, bs.map((b) => spec(b)), async (lb) => {
    const order = lb.pool.eligible.map((b) => idOf(bs, b));
    const got: string[] = [];
    for (let i = 0; i < 9; i++) got.push(await ask(lb.port));
    assert.deepEqual(got, [...order, ...order, ...order]);
  });
});

test('leastconn: the backend with the fewest open connections is chosen', { timeout: 20_000 }, async () => {
  const bs = await backends(3);
  await withLb('leastconn', bs, bs.map((b) => spec(b)), async (lb) => {
    const [x, y, z] = lb.pool.eligible.map((b) => idOf(bs, b)) as [string, string, string];
    const held: Answer[] = [];
    try {
      // All at 0: equals take turns; each held connection counts from election on.
      for (let i = 0; i < 3; i++) held.push(await connect(lb.port));
      assert.deepEqual(held.map((h) => h.id).sort(), [x, y, z].sort());
      for (let i = 0; i < 3; i++) held.push(await connect(lb.port));
      assert.deepEqual(lb.pool.eligible.map((b) => b.active), [2, 2, 2]);

      // Release one connection on the first backend: it becomes the only least loaded one.
      const onX = held.find((h) => h.id === x) as Answer;
      held.splice(held.indexOf(onX), 1);
      await hangUp(onX.socket);
      await until('lease released', () => lb.pool.eligible[0]?.active === 1);
      const next = await connect(lb.port);
      held.push(next);
      assert.equal(next.id, x, 'x is the least loaded');
      assert.deepEqual(lb.pool.eligible.map((b) => b.active), [2, 2, 2]);
      // One more: a tie of three; afterwards exactly one backend holds 3.
      held.push(await connect(lb.port));
      assert.deepEqual(lb.pool.eligible.map((b) => b.active).sort(), [2, 2, 3]);
    } finally {
      await Promise.all(held.map((h) => hangUp(h.socket)));
    }
    await until('all leases released', () => lb.pool.eligible.every((b) => b.active === 0));
  });
});

test('iphash: stable per client address, following the hash of the bytes the listener sees', { timeout: 20_000 }, async () => {
  const bs = await backends(5);
  await withLb('iphash', bs, bs.map((b) => spec(b)), async (lb) => {
    for (const ip of ['127.0.0.1', '127.0.0.2']) {
      const ids = new Set<string>();
      for (let i = 0; i < 8; i++) ids.add(await ask(lb.port, ip));
      assert.equal(ids.size, 1, `${ip} went to ${[...ids].join(', ')}`);
      // An IPv4 listener reports dotted IPv4: the 4-byte form is hashed.
      const expected = lb.pool.eligible[(ipHash(ip) >>> 0) % lb.pool.eligible.length];
      assert.ok(expected !== undefined);
      assert.equal([...ids][0], idOf(bs, expected), ip);
    }
  });
});

test('iphash on a wildcard (dual-stack) listener hashes the 16-byte mapped form', { timeout: 20_000 }, async (t) => {
  const bs = await backends(7);
  await withLb('iphash', bs, bs.map((b) => spec(b)), async (lb) => {
    // Without IPv6 the server falls back to an IPv4-only socket and peers are 4-byte again.
    const seen = lb.family === 'IPv6' ? '::ffff:127.0.0.1' : '127.0.0.1';
    t.diagnostic(`listener family ${lb.family}: hashing ${seen}`);
    const expected = lb.pool.eligible[(ipHash(seen) >>> 0) % lb.pool.eligible.length];
    assert.ok(expected !== undefined);
    for (let i = 0; i < 4; i++) assert.equal(await ask(lb.port), idOf(bs, expected));
  }, ':0');
});

test('iphash1: a client keeps its backend; adding a 5th moves about 1/5 of clients, all to it', { timeout: 20_000 }, async (t) => {
  const bs = await backends(5);
  const four = bs.slice(0, 4);
  const fifth = bs[4] as IdBackend;
  await withLb('iphash1', bs, four.map((b) => spec(b)), async (lb) => {
    const pick = (ip: string): Backend | string =>
      lb.elector.elect(ctx(ip));
    const mine = await ask(lb.port, '127.0.0.1');
    assert.equal(mine, idOf(bs, pick('127.0.0.1')));
    assert.equal(await ask(lb.port, '127.0.0.1'), mine);

    const random = seededRandom(77);
    const clients = Array.from({ length: 4000 }, () =>
      `${1 + Math.floor(random() * 223)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}`);
    const before = clients.map(pick);

    lb.pool.setDiscovered(bs.map((b) => spec(b)));
    const after = clients.map(pick);
    let moved = 0;
    let onFifth = 0;
    for (let i = 0; i < clients.length; i++) {
      if (idOf(bs, after[i] as Backend) === fifth.id) onFifth++;
      // Snapshots are replaced, not mutated: compare backends by identity (host:port).
      if (idOf(bs, after[i] as Backend) === idOf(bs, before[i] as Backend)) continue;
      moved++;
      assert.equal(idOf(bs, after[i] as Backend), fifth.id);
    }
    t.diagnostic(`moved ${moved}/${clients.length}`);
    // Exactly the new backend's share moves. That share is about 1/5, but FNV-1a over keys that
    // differ only in the port is biased: over random port sets it ranges ~0.12..0.27 (GoBetween
    // has the same bias), hence the loose bound; the unit test checks 1/5 on fixed keys.
    assert.equal(moved, onFifth);
    assert.ok(moved / clients.length > 0.1 && moved / clients.length < 0.3, `moved ${moved}/${clients.length}`);

    // The real connection follows the new mapping.
    assert.equal(await ask(lb.port, '127.0.0.1'), idOf(bs, pick('127.0.0.1')));
  });
});
