/**
 * The shared active counts (src/workers/shared-active.ts): limits across columns, growth, a dead
 * worker's column cleared; and two real threads racing for a limited backend never exceed it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { SharedActiveTable, allocateShared, clearColumn, ensureRows, rowSum, rowsOf } from '../../src/workers/shared-active.js';
import { DeltaSink } from '../../src/workers/delta-sink.js';

test('server and backend limits hold across workers; counts are row sums', () => {
  const sab = allocateShared(3);
  const w0 = new SharedActiveTable(sab, 3, 0);
  const w1 = new SharedActiveTable(sab, 3, 1);
  const w2 = new SharedActiveTable(sab, 3, 2);
  assert.equal(w0.admit(2), true);
  assert.equal(w1.admit(2), true);
  assert.equal(w2.admit(2), false);
  assert.equal(w2.serverActive(), 2);
  w0.leave();
  assert.equal(w2.admit(2), true);
  assert.equal(w0.admit(-1), false, 'negative max rejects every connection');
  assert.equal(w0.admit(0), true, 'max 0 = no limit');
  assert.equal(w0.serverActive(), 3);

  assert.equal(w0.acquire(5, 1), true);
  assert.equal(w1.acquire(5, 1), false);
  assert.equal(w2.active(5), 1);
  w0.release(5);
  assert.equal(w1.acquire(5, 1), true);
  assert.equal(w1.acquire(5, 0), true);
  assert.equal(w0.active(5), 2);
  assert.equal(w0.active(7), 0);
  const view = new Int32Array(sab);
  assert.equal(rowSum(view, 3, 6), 2);
});

test('rows grow for new slots; a view made before the growth sees them', () => {
  const sab = allocateShared(2, 4);
  const w = new SharedActiveTable(sab, 2, 1);
  assert.equal(rowsOf(sab, 2), 4);
  assert.equal(ensureRows(sab, 2, 2), true);
  assert.equal(ensureRows(sab, 2, 100), true);
  assert.ok(rowsOf(sab, 2) >= 102);
  assert.equal(w.acquire(100, 1), true);
  assert.equal(new SharedActiveTable(sab, 2, 0).acquire(100, 1), false);
  assert.equal(rowSum(new Int32Array(sab), 2, 101), 1);
});

test('clearing a dead worker\'s column releases exactly what it held', () => {
  const sab = allocateShared(2);
  const dead = new SharedActiveTable(sab, 2, 0);
  const live = new SharedActiveTable(sab, 2, 1);
  dead.admit(0); dead.admit(0); dead.acquire(0, 0); dead.acquire(3, 0); dead.acquire(3, 0);
  live.admit(0); live.acquire(3, 0);
  const held = clearColumn(sab, 2, 0);
  assert.equal(held.server, 2);
  assert.deepEqual([...held.slots].sort(), [[0, 1], [3, 2]]);
  assert.equal(live.serverActive(), 1);
  assert.equal(live.active(3), 1);
  assert.equal(live.active(0), 0);
});

test('delta sink: events batch into one plain CounterDeltas per take()', () => {
  let dirty = 0;
  const sink = new DeltaSink('web', () => { dirty++; });
  assert.equal(sink.take(), null);
  sink.serverActive(1);
  sink.backendActive(2, 1);
  sink.connected(2);
  sink.tx(2, 100);
  sink.rx(2, 50);
  sink.refused(40);
  sink.backendActive(2, -1);
  sink.serverActive(-1);
  assert.equal(dirty, 1, 'one notification per batch');
  const d = sink.take();
  assert.deepEqual(d, { server: 'web', active: 0, rx: 50, tx: 100, slots: [2, 40], backendActive: [0, 0],
    total: [1, 0], refused: [0, 1], backendRx: [50, 0], backendTx: [100, 0] });
  assert.deepEqual(structuredClone(d), d, 'plain data');
  assert.equal(sink.take(), null);
  sink.rx(2, 1);
  assert.equal(dirty, 2);
  assert.deepEqual(sink.take()?.backendRx, [1]);
});

const major = Number(process.versions.node.split('.')[0]);

test('two threads racing for a backend with max_connections 3 never hold more than 3', {
  timeout: 30_000,
  skip: major < 22 ? 'worker threads cannot load the TypeScript sources through tsx on Node < 22' : false,
}, async () => {
  const sab = allocateShared(2);
  const violations = new Int32Array(new SharedArrayBuffer(16));
  const entry = new URL('./race-worker.ts', import.meta.url);
  const run = (column: number): Promise<number> => new Promise((resolve, reject) => {
    const w = new Worker(entry, { workerData: { sab, column, violations, rounds: 50_000 } });
    w.once('message', (n: number) => { resolve(n); void w.terminate(); });
    w.once('error', reject);
  });
  const [a, b] = await Promise.all([run(0), run(1)]);
  assert.ok((a ?? 0) > 0 && (b ?? 0) > 0, `both threads got leases: ${String(a)} and ${String(b)}`);
  assert.equal(Atomics.load(violations, 0), 0);
  assert.equal(rowSum(new Int32Array(sab), 2, 2), 0, 'every lease released');
});
