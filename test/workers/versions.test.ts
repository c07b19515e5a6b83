/**
 * The server versions of the multi-core port (src/workers/versions.ts), without threads: counters
 * go to the version they were posted for, a dead thread's share is taken out of each version it
 * reported for (never out of another one), its column of every version's shared counts is
 * zeroed, and a replaced version is forgotten once no thread reports for it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServerCounters, backendSpec } from '../../src/core/backend.js';
import type { ServerPlan } from '../../src/core/plan.js';
import type { CounterDeltas } from '../../src/core/snapshot.js';
import { BackendPool } from '../../src/control/backend-pool.js';
import { ServerTally } from '../../src/control/tally.js';
import { SharedActiveTable } from '../../src/workers/shared-active.js';
import { Versions, type ServerEntry, type ThreadLedger } from '../../src/workers/versions.js';

const plan: ServerPlan = {
  name: 'web', protocol: 'tcp', bind: '127.0.0.1:0', balance: 'leastconn', maxConnections: 0,
  clientIdleTimeoutMs: 0, backendIdleTimeoutMs: 0, backendConnectionTimeoutMs: 0, access: null,
};

/** One version's stats: a pool with one backend (slot 0) and its server counters. */
function version(v: Versions): { e: ServerEntry; counters: ServerCounters; pool: BackendPool } {
  const pool = new BackendPool({ initialLive: true });
  pool.setDiscovered([backendSpec('127.0.0.1', '1')]);
  const counters = new ServerCounters();
  return { e: v.create(plan, pool.snapshot, new ServerTally(counters, pool)), counters, pool };
}

function deltas(active: number, total: number): CounterDeltas {
  return { server: 'web', active, rx: 0, tx: 0, slots: [0], backendActive: [active], total: [total], refused: [0],
    backendRx: [0], backendTx: [0] };
}

/** A thread's ledger as thread.ts keeps it: what it reported as held, per version. */
class Ledger implements ThreadLedger {
  readonly held = new Map<number, number>();
  constructor(readonly column: number) {}
  report(v: Versions, gen: number, d: CounterDeltas): boolean {
    if (!v.fold(gen, d)) return false;
    this.held.set(gen, (this.held.get(gen) ?? 0) + d.active);
    return true;
  }
  takeBack(gen: number, server: string): CounterDeltas | null {
    const n = this.held.get(gen) ?? 0;
    this.held.delete(gen);
    return n === 0 ? null : { ...deltas(-n, 0), server };
  }
  forget(gen: number): void {
    this.held.delete(gen);
  }
}

test('a thread that dies after a reload: each version gets back exactly its own share; the shared counts are zeroed', () => {
  const v = new Versions(2, { connections: 0 });
  const t = new Ledger(1);
  const one = version(v);
  v.install(one.e);
  one.e.on.add(1);
  // Version 1: 3 connections in the thread, 2 in worker 0 (straight to its sink).
  assert.ok(t.report(v, one.e.gen, deltas(3, 3)));
  one.e.local.serverActive(2);
  one.e.local.backendActive(0, 2);
  new SharedActiveTable(one.e.shared, 2, 1).admit(0);

  // Reload: version 2 runs in the thread; version 1's 3 connections finish there.
  const two = version(v);
  assert.equal(v.install(two.e), one.e);
  two.e.on.add(1);
  assert.ok(t.report(v, two.e.gen, deltas(4, 4)));
  const table = new SharedActiveTable(two.e.shared, 2, 1);
  for (let i = 0; i < 4; i++) assert.ok(table.admit(0) && table.acquire(0, 0));
  assert.equal(two.counters.active, 4);
  assert.equal(one.counters.active, 5);
  assert.ok(v.heldLeases('web') > 0);

  // The thread dies: version 2 drops to 0 (not to -3), version 1 keeps worker 0's 2.
  v.threadGone(t);
  assert.equal(two.counters.active, 0);
  assert.equal(two.pool.bySlot[0]?.active, 0);
  assert.equal(two.pool.bySlot[0]?.total, 4);
  assert.equal(one.counters.active, 2);
  assert.equal(one.pool.bySlot[0]?.active, 2);
  assert.equal(v.heldLeases('web'), 0);
  // Version 1 is forgotten (no thread reports for it); version 2 stays current.
  assert.equal(v.fold(one.e.gen, deltas(-1, 0)), false);
  assert.equal(v.get('web'), two.e);
  assert.equal(v.named('web').length, 1);
});

test('a replaced version is kept while a thread still finishes its connections, then forgotten on `ended`', () => {
  const v = new Versions(3, { connections: 0 });
  const t1 = new Ledger(1);
  const t2 = new Ledger(2);
  const one = version(v);
  v.install(one.e);
  one.e.on.add(1).add(2);
  t1.report(v, one.e.gen, deltas(1, 1));
  const two = version(v);
  v.install(two.e);
  // Late counters of version 1 (its last connection in thread 1 closing) still reach version 1.
  assert.ok(t1.report(v, one.e.gen, deltas(-1, 0)));
  assert.equal(one.counters.active, 0);
  assert.equal(two.counters.active, 0);
  v.ended(t1, one.e.gen);
  assert.equal(v.named('web').length, 2, 'thread 2 may still report for version 1');
  v.ended(t2, one.e.gen);
  assert.deepEqual(v.named('web'), [two.e]);
  // The current version is never forgotten on `ended`, only when the server stops.
  two.e.on.add(1);
  v.ended(t1, two.e.gen);
  assert.equal(v.get('web'), two.e);
  const all = v.remove('web');
  v.drop(all, [t1, t2]);
  assert.equal(v.get('web'), undefined);
  assert.deepEqual(v.named('web'), []);
});

test('a failed start or reload restores the version that ran before', () => {
  const v = new Versions(2, { connections: 0 });
  const one = version(v);
  v.install(one.e);
  const two = version(v);
  v.install(two.e);
  v.restore(two.e, one.e);
  assert.equal(v.get('web'), one.e);
  assert.equal(v.fold(two.e.gen, deltas(1, 1)), false);
  v.restore(one.e, undefined);
  assert.equal(v.get('web'), undefined);
});
