import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backendSpec } from '../../src/core/backend.js';
import { BackendPool } from '../../src/control/backend-pool.js';
import { serverStatsJson, tickRates } from '../../src/control/stats.js';
import { ServerCounters } from '../../src/core/backend.js';

const keys = (pool: BackendPool): string[] => pool.eligible.map((b) => b.key);

test('discovery merge keeps state of known backends, adds new ones with the initial status', () => {
  const pool = new BackendPool({ initialLive: true });
  pool.setDiscovered([backendSpec('b', '2'), backendSpec('a', '1', { weight: 5 })]);
  assert.deepEqual(keys(pool), ['a:1', 'b:2']); // sorted by key
  const a = pool.get('a:1');
  assert.ok(a);
  a.total = 7;
  pool.setLive('a:1', false);
  assert.deepEqual(keys(pool), ['b:2']);
  pool.setDiscovered([backendSpec('a', '1', { weight: 9, sni: 'x' }), backendSpec('c', '3')]);
  const a2 = pool.get('a:1');
  assert.equal(a2, a, 'same object kept');
  assert.equal(a2?.weight, 9);
  assert.equal(a2?.sni, 'x');
  assert.equal(a2?.total, 7, 'counters kept');
  assert.equal(a2?.live, false, 'live kept');
  assert.equal(pool.get('b:2'), undefined, 'b removed (no connections)');
  assert.deepEqual(keys(pool), ['c:3']);
});

test('initial status unhealthy: new backends are not eligible until marked live', () => {
  const pool = new BackendPool({ initialLive: false });
  pool.setDiscovered([backendSpec('a', '1')]);
  assert.deepEqual(keys(pool), []);
  assert.equal(pool.setLive('a:1', true), true);
  assert.equal(pool.setLive('a:1', true), false, 'unchanged');
  assert.equal(pool.setLive('zz:1', true), false, 'unknown');
  assert.deepEqual(keys(pool), ['a:1']);
});

test('a removed backend with connections lingers (not eligible) until released', () => {
  const pool = new BackendPool({ initialLive: true });
  pool.setDiscovered([backendSpec('a', '1'), backendSpec('b', '2')]);
  const a = pool.get('a:1');
  assert.ok(a);
  a.active = 1;
  pool.setDiscovered([backendSpec('b', '2')]);
  assert.equal(pool.get('a:1'), a);
  assert.equal(a.discovered, false);
  assert.deepEqual(keys(pool), ['b:2']);
  a.active = 0;
  pool.released(a);
  assert.equal(pool.get('a:1'), undefined);
  // re-added later: a fresh object with fresh counters
  pool.setDiscovered([backendSpec('a', '1'), backendSpec('b', '2')]);
  assert.notEqual(pool.get('a:1'), a);
});

test('a released stale object never removes the re-added backend', () => {
  const pool = new BackendPool({ initialLive: true });
  pool.setDiscovered([backendSpec('a', '1')]);
  const old = pool.get('a:1');
  assert.ok(old);
  old.active = 1;
  pool.setDiscovered([]); // lingers
  pool.setDiscovered([backendSpec('a', '1')]); // rediscovered: same object, discovered again
  assert.equal(pool.get('a:1'), old);
  old.active = 0;
  pool.released(old);
  assert.equal(pool.get('a:1'), old, 'still discovered, stays');
});

test('duplicates: the last occurrence wins; onChange fires; the snapshot follows', () => {
  const pool = new BackendPool({ initialLive: true });
  let changes = 0;
  const off = pool.onChange(() => changes++);
  pool.setDiscovered([backendSpec('a', '1', { weight: 1 }), backendSpec('a', '1', { weight: 4, maxConnections: 3 })]);
  assert.equal(pool.size, 1);
  assert.equal(pool.get('a:1')?.weight, 4);
  assert.equal(pool.snapshot.backends[0]?.maxConnections, 3);
  assert.equal(changes, 1);
  off();
  pool.setDiscovered([backendSpec('a', '1')]);
  assert.equal(changes, 1);
  assert.equal(pool.snapshot.backends[0]?.maxConnections, 0);
});

test('rates: bytes in the 2 s window / 2, zero when idle; stats JSON shape', () => {
  const pool = new BackendPool({ initialLive: true });
  pool.setDiscovered([backendSpec('h', '80', { maxConnections: 10, sni: 'www.foo.com', priority: 0, weight: 100 }), backendSpec('g', '81')]);
  const counters = new ServerCounters();
  const h = pool.get('h:80');
  assert.ok(h);
  h.rx += 1001;
  h.tx += 300;
  counters.rx += 1001;
  counters.tx += 300;
  tickRates(counters, pool);
  assert.equal(counters.rxSecond, 500);
  assert.equal(counters.txSecond, 150);
  assert.equal(h.rxSecond, 500);
  tickRates(counters, pool);
  assert.equal(counters.rxSecond, 0);
  assert.equal(h.txSecond, 0);
  const json = serverStatsJson(counters, pool);
  assert.deepEqual(Object.keys(json), ['active_connections', 'rx_total', 'tx_total', 'rx_second', 'tx_second', 'backends']);
  assert.equal(json.rx_total, 1001);
  const [g, hj] = json.backends;
  assert.deepEqual(Object.keys(g ?? {}), ['host', 'port', 'priority', 'weight', 'stats']);
  assert.deepEqual(Object.keys(hj ?? {}), ['host', 'port', 'priority', 'weight', 'max_connections', 'sni', 'stats']);
  assert.equal(hj?.port, '80');
  assert.equal(hj?.stats.rx, 1001);
});
