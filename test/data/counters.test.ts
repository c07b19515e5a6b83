/**
 * Counter reports: a batch of deltas (what a worker posts) folds into exactly the same stats as
 * the same events reported one by one (what one thread does), lingering backends included.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backendSpec, ServerCounters } from '../../src/core/backend.js';
import { seededRandom } from '../../src/core/clock.js';
import type { CounterSink } from '../../src/core/snapshot.js';
import { BackendPool } from '../../src/control/backend-pool.js';
import { serverStatsJson } from '../../src/control/stats.js';
import { ServerTally } from '../../src/control/tally.js';
import { BatchingSink } from '../../src/data/counters.js';

function setup(): { pool: BackendPool; counters: ServerCounters; tally: ServerTally } {
  const pool = new BackendPool({ initialLive: true });
  pool.setDiscovered(Array.from({ length: 40 }, (_, i) => backendSpec('h', String(i))));
  const counters = new ServerCounters();
  return { pool, counters, tally: new ServerTally(counters, pool) };
}

/** A random but well-formed event sequence: every backend active taken is given back. */
function events(sink: CounterSink, slots: number[], seed: number, every?: () => void): void {
  const random = seededRandom(seed);
  const held: number[] = [];
  for (let i = 0; i < 5000; i++) {
    if (every !== undefined && i % 1000 === 999) every();
    const slot = slots[Math.floor(random() * slots.length)] as number;
    const r = random();
    if (r < 0.2) {
      sink.serverActive(1);
      sink.backendActive(slot, 1);
      held.push(slot);
    } else if (r < 0.35 && held.length > 0) {
      const s = held.pop() as number;
      sink.backendActive(s, -1);
      sink.serverActive(-1);
    } else if (r < 0.45) sink.connected(slot);
    else if (r < 0.5) sink.refused(slot);
    else if (r < 0.75) sink.rx(slot, Math.floor(random() * 70000));
    else sink.tx(slot, Math.floor(random() * 70000));
  }
  for (const s of held) {
    sink.backendActive(s, -1);
    sink.serverActive(-1);
  }
}

test('batched deltas fold into the same stats as direct events', () => {
  const direct = setup();
  const batched = setup();
  const slots = direct.pool.all().map((b) => b.slot);
  events(direct.tally, slots, 9);
  const sink = new BatchingSink('s');
  // Several batches, posted as a worker would (every 1000 events, and at the end).
  let batches = 0;
  const post = (): void => {
    const d = sink.take();
    if (d === null) return;
    assert.deepEqual(structuredClone(d), d, 'deltas are plain data');
    batches++;
    batched.tally.apply(d);
  };
  events(sink, slots, 9, post);
  post();
  assert.equal(batches, 6); // five in the loop, one with the final releases
  assert.equal(sink.take(), null, 'nothing left after a take');
  assert.deepEqual(serverStatsJson(batched.counters, batched.pool), serverStatsJson(direct.counters, direct.pool));
  assert.equal(batched.counters.active, 0);
});

test('a lingering backend leaves the table when the batch releasing its last connection is folded', () => {
  const { pool, tally } = setup();
  const b = pool.get('h:3');
  assert.ok(b !== undefined);
  const sink = new BatchingSink('s');
  sink.serverActive(1);
  sink.backendActive(b.slot, 1);
  tally.apply(sink.take() ?? assert.fail('no deltas'));
  pool.setDiscovered([backendSpec('h', '0')]);
  assert.equal(pool.get('h:3'), b, 'lingers while held');
  sink.tx(b.slot, 10);
  sink.backendActive(b.slot, -1);
  sink.serverActive(-1);
  tally.apply(sink.take() ?? assert.fail('no deltas'));
  assert.equal(pool.get('h:3'), undefined);
  assert.equal(b.tx, 10);
});
