import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Elector, ELECT_EMPTY, ELECT_MAX_CONNECTIONS, type SniFilter } from '../../src/balance/elector.js';
import { roundRobinBalancer } from '../../src/balance/roundrobin.js';
import type { Balancer } from '../../src/balance/types.js';
import type { SnapshotBackend as Backend } from '../../src/core/snapshot.js';
import { BackendPool } from '../../src/control/backend-pool.js';
import { backendSpec } from '../../src/core/backend.js';
import { seededRandom } from '../../src/core/clock.js';
import { LocalActiveTable } from '../../src/data/active.js';
import { ServerLoad } from '../../src/data/runtime.js';
import { ctx, mk, load } from './helpers.js';

const c = ctx();
const deps = { random: seededRandom(1) };

test('exact messages: empty list, balancer returning undefined', () => {
  assert.equal(ELECT_EMPTY, "Can't elect backend, Backends empty");
  assert.equal(ELECT_MAX_CONNECTIONS, 'all backends have reached max connections limit');
  const e = new Elector(roundRobinBalancer.create(deps), load);
  assert.equal(e.electAmong(c, [], false), ELECT_EMPTY);
  assert.equal(e.electAmong(c, [], true), ELECT_EMPTY);
  const none: Balancer = { pick: () => undefined };
  assert.equal(new Elector(none, load).electAmong(c, [mk('a', 1)], false), ELECT_EMPTY);
});

test('max-connections middleware around roundrobin (GoBetween TestMaxConnectionsMiddleware)', () => {
  const b1 = mk('b1', 1, { maxConnections: 10 });
  b1.active = 5;
  const b2 = mk('b2', 1, { maxConnections: 10 });
  b2.active = 10;
  const b3 = mk('b3', 1, { maxConnections: 10 });
  b3.active = 15;
  const b4 = mk('b4', 1, { maxConnections: 0 });
  b4.active = 100;
  const e = new Elector(roundRobinBalancer.create(deps), load);
  const seen = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const got = e.electAmong(c, [b1, b2, b3, b4], true);
    assert.ok(typeof got !== 'string');
    seen.add(got.key);
  }
  assert.deepEqual([...seen].sort(), ['b1:1', 'b4:1']);

  b1.active = 10;
  b4.maxConnections = 50;
  assert.equal(e.electAmong(c, [b1, b2, b3, b4], true), ELECT_MAX_CONNECTIONS);
  // The input list is never modified.
  assert.deepEqual([b1, b2, b3, b4].map((b) => b.key), ['b1:1', 'b2:1', 'b3:1', 'b4:1']);
});

test('the filter is skipped when the pool says no backend has a limit', () => {
  const b1 = mk('b1', 1, { maxConnections: 1 });
  b1.active = 5;
  const e = new Elector(roundRobinBalancer.create(deps), load);
  assert.equal(e.electAmong(c, [b1], false), b1);
  assert.equal(e.electAmong(c, [b1], true), ELECT_MAX_CONNECTIONS);
});

test('works on the pool snapshot; reservation by the caller makes the limit bite (D12)', () => {
  const pool = new BackendPool({ initialLive: true });
  pool.setDiscovered([backendSpec('h', '2', { maxConnections: 2 }), backendSpec('h', '1', { maxConnections: 1 })]);
  const table = new LocalActiveTable();
  const e = new Elector(roundRobinBalancer.create(deps), new ServerLoad(table));
  e.setSnapshot(pool.snapshot);
  assert.equal(e.anyMaxConnections, true);
  const got: string[] = [];
  for (let i = 0; i < 4; i++) {
    const b = e.elect(c);
    if (typeof b === 'string') {
      got.push(b);
      continue;
    }
    assert.ok(table.acquire(b.slot, b.maxConnections)); // what the data plane does right after elect
    got.push(b.key);
  }
  assert.deepEqual(got, ['h:1', 'h:2', 'h:2', ELECT_MAX_CONNECTIONS]);
});

test('SNI seam: runs before max connections; filtered set, passthrough, or message', () => {
  const a = mk('a', 1, { sni: 'x.example' });
  const b = mk('b', 1, { sni: 'y.example', maxConnections: 1 });
  const calls: string[] = [];
  const filter: SniFilter = {
    filter(sni: string, input: readonly Backend[], out: Backend[]): boolean | string {
      calls.push(sni);
      if (sni === '') return false;
      if (sni === 'reject.example') return 'no backend for SNI';
      let k = 0;
      for (const x of input) if (x.sni === sni) out[k++] = x;
      out.length = k;
      return true;
    },
  };
  const e = new Elector(roundRobinBalancer.create(deps), load, filter);
  assert.equal(e.electAmong(ctx('1.1.1.1', 'y.example'), [a, b], true), b);
  b.active = 1;
  assert.equal(e.electAmong(ctx('1.1.1.1', 'y.example'), [a, b], true), ELECT_MAX_CONNECTIONS);
  assert.equal(e.electAmong(ctx('1.1.1.1', 'z.example'), [a, b], true), ELECT_EMPTY);
  assert.equal(e.electAmong(ctx('1.1.1.1', 'reject.example'), [a, b], true), 'no backend for SNI');
  assert.equal(e.electAmong(ctx('1.1.1.1', ''), [a, b], true), a);
  assert.deepEqual(calls, ['y.example', 'y.example', 'z.example', 'reject.example', '']);
});
