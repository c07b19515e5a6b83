/**
 * The staged pipeline and the plain-data boundary: which stages a plan gets, the in-process
 * active table, the port's start/update contract, and the lease rule — whatever stage fails,
 * every admission and every backend reservation is released exactly once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBalancerRegistry } from '../../src/balance/index.js';
import { backendSpec } from '../../src/core/backend.js';
import { seededRandom } from '../../src/core/clock.js';
import { StartError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import type { ServerPlan } from '../../src/core/plan.js';
import type { ActiveTable } from '../../src/core/snapshot.js';
import { ServerCounters } from '../../src/core/backend.js';
import { BackendPool } from '../../src/control/backend-pool.js';
import { ServerTally } from '../../src/control/tally.js';
import { LocalActiveTable } from '../../src/data/active.js';
import { InProcessDataPlane } from '../../src/data/in-process.js';
import { buildPipeline, chooseDialer } from '../../src/data/stream/pipeline.js';
import {
  Handles, closedPort, closedWithin, connectClient, echoHandler, readAll, spec, startBackend, startProxy, waitFor,
} from '../integration/tcp-helpers.js';

const plan: ServerPlan = {
  name: 'p',
  protocol: 'tcp',
  bind: '127.0.0.1:0',
  balance: 'roundrobin',
  maxConnections: 0,
  clientIdleTimeoutMs: 0,
  backendIdleTimeoutMs: 0,
  backendConnectionTimeoutMs: 0,
  access: null,
};

test('a plain tcp plan runs admission, pick, dial, forward and nothing else', () => {
  assert.deepEqual(buildPipeline(plan).map((s) => s.name), ['admission', 'pick', 'dial', 'forward']);
  const withAccess = buildPipeline({ ...plan, access: { default: 'deny', rules: ['allow 10.0.0.0/8'] } });
  assert.deepEqual(withAccess.map((s) => s.name), ['admission', 'access', 'pick', 'dial', 'forward']);
});

test('the plan is plain data (structured-clone safe), and so is the snapshot', () => {
  assert.deepEqual(structuredClone(plan), plan);
  const pool = new BackendPool({ initialLive: true });
  pool.setDiscovered([backendSpec('[::1]', '80', { weight: 3 }), backendSpec('a', 'x')]);
  const snap = pool.snapshot;
  assert.deepEqual(structuredClone(snap), snap);
  assert.deepEqual(snap.backends.map((b) => [b.key, b.dialHost, b.dialPort, b.weight, b.eligible]), [
    ['[::1]:80', '::1', 80, 3, true],
    ['a:x', 'a', 0, 1, true],
  ]);
  assert.ok(Object.isFrozen(snap) && Object.isFrozen(snap.backends[0]));
  const v = snap.version;
  pool.setLive('a:x', false);
  assert.ok(pool.snapshot.version > v);
  assert.equal(pool.snapshot.backends[1]?.eligible, false);
  assert.equal(snap.backends[1]?.eligible, true, 'a published snapshot never changes');
});

test('slots: unique per backend object; a removed and re-added backend gets a fresh one', () => {
  const pool = new BackendPool({ initialLive: true });
  pool.setDiscovered([backendSpec('a', '1'), backendSpec('b', '1')]);
  const a = pool.get('a:1');
  assert.ok(a !== undefined);
  a.active = 1; // a connection holds it: it lingers
  pool.setDiscovered([backendSpec('b', '1')]);
  assert.equal(pool.get('a:1'), a);
  pool.setDiscovered([backendSpec('a', '1'), backendSpec('b', '1')]);
  assert.equal(pool.get('a:1'), a, 'still the lingering object (re-discovered)');
  a.active = 0;
  pool.setDiscovered([backendSpec('b', '1')]);
  assert.equal(pool.get('a:1'), undefined);
  pool.setDiscovered([backendSpec('a', '1'), backendSpec('b', '1'), backendSpec('c', '1')]);
  const slots = pool.all().map((b) => b.slot);
  assert.equal(new Set(slots).size, 3);
});

test('LocalActiveTable: server and per-slot limits; 0 = none; negative server max = never', () => {
  const t = new LocalActiveTable();
  assert.ok(t.admit(2) && t.admit(2));
  assert.equal(t.admit(2), false);
  t.leave();
  assert.ok(t.admit(2));
  assert.equal(t.serverActive(), 2);
  assert.ok(t.admit(0));
  assert.equal(t.admit(-1), false);
  assert.ok(t.acquire(100, 1), 'slots beyond the initial size grow the table');
  assert.equal(t.acquire(100, 1), false);
  assert.ok(t.acquire(100, 0));
  assert.equal(t.active(100), 2);
  t.release(100);
  assert.equal(t.active(100), 1);
  assert.equal(t.active(5000), 0);
});

test('port: unknown protocol is a StartError; a stale snapshot is ignored', async () => {
  const dp = new InProcessDataPlane({ balancers: createBalancerRegistry(), random: seededRandom(1), log: silentLogger });
  const pool = new BackendPool({ initialLive: true });
  const sink = new ServerTally(new ServerCounters(), pool);
  await assert.rejects(dp.start({ ...plan, protocol: 'sctp' }, pool.snapshot, sink), StartError);
  pool.setDiscovered([backendSpec('a', '1')]);
  const first = pool.snapshot;
  pool.setDiscovered([backendSpec('a', '1'), backendSpec('b', '1')]);
  const started = await dp.start(plan, pool.snapshot, sink);
  try {
    assert.ok(started.port > 0);
    const rt = dp.runtime('p');
    assert.ok(rt !== undefined);
    assert.equal(rt.elector.eligible.length, 2);
    dp.update('p', first);
    assert.equal(rt.elector.eligible.length, 2, 'older version ignored');
    await assert.rejects(dp.start(plan, pool.snapshot, sink), StartError);
  } finally {
    await dp.close('p');
  }
  assert.equal(dp.runtime('p'), undefined);
});

/** An active table that checks every release matches an earlier take. */
class CheckedTable implements ActiveTable {
  readonly inner = new LocalActiveTable();
  admits = 0;
  leaves = 0;
  acquires = 0;
  releases = 0;
  admit(max: number): boolean {
    const ok = this.inner.admit(max);
    if (ok) this.admits++;
    return ok;
  }
  leave(): void {
    this.leaves++;
    assert.ok(this.leaves <= this.admits, 'leave without admit');
    this.inner.leave();
  }
  serverActive(): number {
    return this.inner.serverActive();
  }
  acquire(slot: number, max: number): boolean {
    const ok = this.inner.acquire(slot, max);
    if (ok) this.acquires++;
    return ok;
  }
  release(slot: number): void {
    this.releases++;
    assert.ok(this.inner.active(slot) > 0, 'release below zero');
    this.inner.release(slot);
  }
  active(slot: number): number {
    return this.inner.active(slot);
  }
}

test('one lease per connection, released exactly once whatever fails', { timeout: 30_000 }, async () => {
  const h = new Handles();
  try {
    const be = await startBackend(h, echoHandler);
    const dead = await closedPort();
    const table = new CheckedTable();
    const { server, pool, counters, port } = await startProxy(h, [spec(be.port)], {
      maxConnections: 3, backendConnectionTimeoutMs: 2000, activeTable: () => table,
    });
    // Rejections over max_connections while three are held.
    const held = [await connectClient(h, port), await connectClient(h, port), await connectClient(h, port)];
    await waitFor(() => counters.active === 3, 5000, 'three held');
    const over = await connectClient(h, port);
    await closedWithin(over, 3000);
    for (const c of held) c.destroy();
    await waitFor(() => counters.active === 0, 5000, 'held released');
    // Successes and refused dials (every other connection goes to the dead port).
    pool.setDiscovered([spec(be.port), spec(dead)]);
    for (let i = 0; i < 20; i++) {
      const c = await connectClient(h, port);
      const r = readAll(c);
      c.end('x');
      await r;
    }
    pool.setLive(`127.0.0.1:${be.port}`, false);
    pool.setLive(`127.0.0.1:${dead}`, false);
    await closedWithin(await connectClient(h, port), 3000); // no backend: the pick fails
    await waitFor(() => counters.active === 0 && server.connections === 0, 5000, 'all released');
    assert.equal(table.leaves, table.admits);
    assert.equal(table.releases, table.acquires);
    assert.ok(table.acquires >= 20);
    assert.equal(table.serverActive(), 0);
    const [a, b] = pool.all();
    assert.equal((a?.refused ?? 0) + (b?.refused ?? 0) > 0, true, 'some dials were refused');
    assert.equal((a?.active ?? -1) + (b?.active ?? -1), 0);
  } finally {
    await h.closeAll();
  }
});

test('leastbandwidth elects over the rates the control plane publishes after a tick', async () => {
  const dp = new InProcessDataPlane({ balancers: createBalancerRegistry(), random: seededRandom(1), log: silentLogger });
  const pool = new BackendPool({ initialLive: true });
  pool.setDiscovered([backendSpec('a', '1'), backendSpec('b', '1'), backendSpec('c', '1')]);
  await dp.start({ ...plan, name: 'lbw', balance: 'leastbandwidth' }, pool.snapshot, new ServerTally(new ServerCounters(), pool));
  try {
    const rt = dp.runtime('lbw');
    assert.ok(rt !== undefined);
    const pick = (): string => {
      const b = rt.elector.elect({ clientIp: '1.2.3.4', clientPort: 1, sni: '' });
      return typeof b === 'string' ? b : b.key;
    };
    assert.equal(pick(), 'a:1', 'no rates yet: the first in key order');
    const [a, b, c] = pool.all().sort((x, y) => (x.key < y.key ? -1 : 1));
    assert.ok(a !== undefined && b !== undefined && c !== undefined);
    dp.rates('lbw', [a.slot, b.slot, c.slot], [500, 20, 300]);
    assert.equal(pick(), 'b:1');
    dp.rates('lbw', [a.slot, c.slot], [5, 300]);
    assert.equal(pick(), 'b:1', 'a slot left out of a report counts 0');
  } finally {
    await dp.close('lbw');
  }
});

test('one dialer per plan: the pre-warm pool and the dial stage share it (one TLS context and session cache)', () => {
  const tlsPlan: ServerPlan = {
    ...plan,
    backendPrewarm: 1,
    backendsTls: {
      ignore_verify: true, root_ca_cert_path: null, cert_path: null, key_path: null, ciphers: null,
      min_version: '', max_version: '', session_tickets: false,
    },
  };
  const first = chooseDialer(tlsPlan, silentLogger);
  assert.equal(first.readyEvent, 'secureConnect', 'the TLS dialer');
  assert.equal(chooseDialer(tlsPlan, silentLogger), first);
  assert.notEqual(chooseDialer({ ...tlsPlan }, silentLogger), first, 'another plan (a reload) gets its own');
});
