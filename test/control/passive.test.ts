/** Passive health in the backend pool (tsbetween-only `passive_health_fails`). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BackendPool } from '../../src/control/backend-pool.js';
import { backendStateJson } from '../../src/control/stats.js';
import { backendSpec } from '../../src/core/backend.js';
import { waitFor } from '../healthcheck/helpers.js';

const keys = (pool: BackendPool): string[] => pool.eligible.map((b) => b.key);

test('off by default: failures change nothing', () => {
  const pool = new BackendPool({ initialLive: true });
  pool.setDiscovered([backendSpec('a', '1')]);
  for (let i = 0; i < 100; i++) pool.connectFailed('a:1');
  assert.deepEqual(keys(pool), ['a:1']);
});

test('K consecutive failures take a backend out until the next passing active check', () => {
  const told: string[] = [];
  const pool = new BackendPool({
    initialLive: true, passiveFails: 3, activeChecks: true,
    onPassive: (key, down, why) => told.push(`${key} ${down ? 'down' : 'up'} ${why}`),
  });
  pool.setDiscovered([backendSpec('a', '1'), backendSpec('b', '2')]);
  pool.connectFailed('a:1');
  pool.connectFailed('a:1');
  pool.connectSucceeded('a:1'); // streak broken
  pool.connectFailed('a:1');
  pool.connectFailed('a:1');
  assert.deepEqual(keys(pool), ['a:1', 'b:2'], 'not 3 in a row yet');
  pool.connectFailed('a:1');
  assert.deepEqual(keys(pool), ['b:2']);
  const a = pool.get('a:1');
  assert.ok(a !== undefined);
  assert.equal(backendStateJson(pool, a).health, 'down');
  pool.connectFailed('a:1');
  assert.equal(told.length, 1, 'reported once');
  pool.checkPassed('b:2'); // other backend: nothing
  assert.deepEqual(keys(pool), ['b:2']);
  pool.checkPassed('a:1');
  assert.deepEqual(keys(pool), ['a:1', 'b:2']);
  assert.deepEqual(told, ['a:1 down 3 consecutive failed connects', 'a:1 up active health check passed']);
  assert.deepEqual(pool.events.map((e) => e.event), ['down', 'up']);
  pool.close();
});

test('without active checks a passive down ends after passiveDownMs', async () => {
  const pool = new BackendPool({ initialLive: true, passiveFails: 1, passiveDownMs: 50 });
  pool.setDiscovered([backendSpec('a', '1')]);
  pool.connectFailed('a:1');
  assert.deepEqual(keys(pool), []);
  await waitFor(() => keys(pool).length === 1, 3000, 'back after the down time');
  pool.connectFailed('a:1');
  assert.deepEqual(keys(pool), []);
  pool.close(); // clears the timer
});
