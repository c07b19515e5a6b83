import assert from 'node:assert/strict';
import { FakeTimers } from '../helpers/fake-timers.js';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { backendSpec } from '../../src/core/backend.js';
import { seededRandom } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/log.js';
import { BackendPool } from '../../src/control/backend-pool.js';
import {
  compileHealthcheck,
  createHealthcheckRegistry,
  initialLive,
  startHealthchecks,
} from '../../src/healthcheck/index.js';
import type { CheckResult } from '../../src/healthcheck/types.js';
import { captureLogger, closeServer, fakeCheck, hcWire, listenTcp, recording, sleep, waitFor } from './helpers.js';

const registry = createHealthcheckRegistry();

test('ping: a backend that stops listening goes dead after `fails` failures, and live again after `passes` successes', async () => {
  const a = await listenTcp();
  const b = await listenTcp();
  const wire = hcWire({ interval: '30ms', timeout: '100ms', fails: 3, passes: 2 });
  const rec = recording(compileHealthcheck(wire, 'servers.web.healthcheck', registry, 'tcp'));
  const pool = new BackendPool({ initialLive: initialLive(wire) });
  const keyA = `127.0.0.1:${a.port}`;
  const keyB = `127.0.0.1:${b.port}`;
  pool.setDiscovered([backendSpec('127.0.0.1', String(a.port)), backendSpec('127.0.0.1', String(b.port))]);
  const { log, lines } = captureLogger();
  // At each change of A's live state, remember A's results so far.
  const transitions: Array<{ live: boolean; resultsA: string[] }> = [];
  let lastLive = pool.get(keyA)?.live;
  pool.onChange(() => {
    const live = pool.get(keyA)?.live;
    if (live !== undefined && live !== lastLive) {
      lastLive = live;
      transitions.push({ live, resultsA: rec.results.filter((r) => r.key === keyA).map((r) => r.result.status) });
    }
  });
  const hc = startHealthchecks(rec.compiled, { serverName: 'web', pool, log });
  try {
    await waitFor(() => rec.results.filter((r) => r.key === keyA).length >= 3, 2000, 'first checks');
    assert.deepEqual(pool.eligible.map((x) => x.key).sort(), [keyA, keyB].sort());

    await closeServer(a.server);
    await waitFor(() => pool.get(keyA)?.live === false, 3000, 'A dead');
    assert.deepEqual(pool.eligible.map((x) => x.key), [keyB], 'a dead backend is not eligible (no new connections)');
    const down = transitions[0];
    assert.ok(down !== undefined && !down.live);
    assert.deepEqual(down.resultsA.slice(-4), ['healthy', 'unhealthy', 'unhealthy', 'unhealthy'], 'dead exactly at the 3rd consecutive failure');
    const line = lines.find((l) => l.msg.includes('live -> dead'));
    assert.equal(line?.msg, `backend ${keyA} of server web: live -> dead (3 consecutive failures: connect ECONNREFUSED)`);
    assert.equal(line?.level, 30, 'logged at info');

    const again = await listenTcp(a.port);
    try {
      await waitFor(() => pool.get(keyA)?.live === true, 3000, 'A live again');
      const up = transitions[1];
      assert.ok(up !== undefined && up.live);
      assert.deepEqual(up.resultsA.slice(-3), ['unhealthy', 'healthy', 'healthy'], 'live exactly at the 2nd consecutive success');
      assert.deepEqual(pool.eligible.map((x) => x.key).sort(), [keyA, keyB].sort());
      assert.equal(lines.filter((l) => l.msg.includes('dead -> live')).length, 1, 'the transition is logged once');
      assert.equal(lines.filter((l) => l.msg.includes('live -> dead')).length, 1);
      assert.equal(transitions.length, 2);
      assert.equal(pool.get(keyB)?.live, true);
    } finally {
      hc.stop();
      await closeServer(again.server);
    }
  } finally {
    hc.stop();
    await closeServer(b.server);
  }
});

test('alternating results never trip a threshold of 2', async () => {
  for (const initial of ['healthy', 'unhealthy'] as const) {
    let n = 0;
    const compiled = fakeCheck(async () => {
      n++;
      return { status: n % 2 === 0 ? 'healthy' : 'unhealthy', reason: 'alternating' };
    }, { intervalMs: 5, timeoutMs: 50, passes: 2, fails: 2 });
    const pool = new BackendPool({ initialLive: initial === 'healthy' });
    pool.setDiscovered([backendSpec('127.0.0.1', '1')]);
    let changes = 0;
    pool.onChange(() => changes++);
    const hc = startHealthchecks(compiled, { serverName: 'web', pool, log: silentLogger });
    try {
      await waitFor(() => n >= 40, 5000, '40 checks');
    } finally {
      hc.stop();
    }
    assert.equal(changes, 0);
    assert.equal(pool.get('127.0.0.1:1')?.live, initial === 'healthy');
  }
});

test('loopback: a backend answering alternately right and wrong never trips a threshold of 2', async () => {
  let n = 0;
  const server = createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => {
      n++;
      s.end(n % 2 === 0 ? 'PONG' : 'PANG');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  for (const initial of ['healthy', 'unhealthy'] as const) {
    const wire = hcWire({
      kind: 'probe',
      interval: '15ms',
      timeout: '200ms',
      passes: 2,
      fails: 2,
      initial_status: initial,
      probe: { probe_protocol: 'tcp', probe_strategy: 'starts_with', probe_send: 'PING', probe_recv: 'PONG', probe_recv_len: 0 },
    });
    const rec = recording(compileHealthcheck(wire, 'servers.web.healthcheck', registry, 'tcp'));
    const pool = new BackendPool({ initialLive: initialLive(wire) });
    pool.setDiscovered([backendSpec('127.0.0.1', String(port))]);
    let changes = 0;
    pool.onChange(() => changes++);
    const hc = startHealthchecks(rec.compiled, { serverName: 'web', pool, log: silentLogger });
    try {
      await waitFor(() => rec.results.length >= 20, 5000, '20 checks');
    } finally {
      hc.stop();
    }
    const statuses = rec.results.map((r) => r.result.status);
    assert.ok(statuses.every((st, i) => i === 0 || st !== statuses[i - 1]), `results alternate: ${statuses.join(',')}`);
    assert.equal(changes, 0, `never flipped (initial ${initial})`);
    assert.equal(pool.eligible.length, initial === 'healthy' ? 1 : 0);
  }
  await closeServer(server);
});

test('initial_status = "unhealthy": no traffic until `passes` successes', async () => {
  const a = await listenTcp();
  const wire = hcWire({ interval: '20ms', timeout: '100ms', passes: 3, initial_status: 'unhealthy' });
  const rec = recording(compileHealthcheck(wire, 'servers.web.healthcheck', registry, 'tcp'));
  const pool = new BackendPool({ initialLive: initialLive(wire) });
  const hc = startHealthchecks(rec.compiled, { serverName: 'web', pool, log: silentLogger });
  try {
    let checksWhenEligible = -1;
    pool.onChange(() => {
      if (checksWhenEligible < 0 && pool.eligible.length > 0) checksWhenEligible = rec.results.length;
    });
    pool.setDiscovered([backendSpec('127.0.0.1', String(a.port))]);
    assert.equal(pool.eligible.length, 0, 'not eligible when discovered');
    await waitFor(() => pool.eligible.length === 1, 3000, 'eligible');
    assert.equal(checksWhenEligible, 3);
    assert.ok(rec.results.slice(0, 3).every((r) => r.result.status === 'healthy'));
  } finally {
    hc.stop();
    await closeServer(a.server);
  }
});

test('a check slower than its timeout counts as a failure and never overlaps the next one', async () => {
  for (const honoursSignal of [true, false]) {
    let inFlight = 0;
    let maxInFlight = 0;
    let started = 0;
    const compiled = fakeCheck((_t, signal) => {
      started++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return new Promise<CheckResult>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          inFlight--;
          resolve({ status: 'healthy', reason: 'late' });
        };
        const timer = setTimeout(done, 120);
        if (honoursSignal) signal.addEventListener('abort', done, { once: true });
      });
    }, { intervalMs: 20, timeoutMs: 40, fails: 2 });
    const pool = new BackendPool({ initialLive: true });
    pool.setDiscovered([backendSpec('127.0.0.1', '1')]);
    const { log, lines } = captureLogger();
    const hc = startHealthchecks(compiled, { serverName: 'web', pool, log });
    try {
      await waitFor(() => pool.get('127.0.0.1:1')?.live === false, 3000, 'dead by timeouts');
      await waitFor(() => started >= 4, 3000, 'more checks');
    } finally {
      hc.stop();
    }
    assert.equal(maxInFlight, 1, `no overlap (honours signal: ${honoursSignal})`);
    assert.ok(lines.some((l) => l.msg === 'backend 127.0.0.1:1 of server web: live -> dead (2 consecutive failures: timeout after 40ms)'));
    await sleep(130);
  }
});

test('results arriving after stop or after the backend was removed are dropped', async () => {
  const slowHealthy = fakeCheck(
    () => new Promise<CheckResult>((resolve) => setTimeout(() => resolve({ status: 'healthy', reason: 'ok' }), 60)),
    { intervalMs: 10, timeoutMs: 1000 },
  );
  // Stopped scheduler: the check in flight resolves afterwards (it ignores the signal).
  const pool = new BackendPool({ initialLive: false });
  pool.setDiscovered([backendSpec('127.0.0.1', '1')]);
  const hc = startHealthchecks(slowHealthy, { serverName: 'web', pool, log: silentLogger, random: () => 0 });
  await sleep(20);
  hc.stop();
  await sleep(100);
  assert.equal(pool.get('127.0.0.1:1')?.live, false);

  // Removed backend: a fresh Backend object under the same key later must not receive it either.
  const pool2 = new BackendPool({ initialLive: false });
  let calls = 0;
  const counting = fakeCheck(() => {
    calls++;
    return calls === 1
      ? new Promise<CheckResult>((resolve) => setTimeout(() => resolve({ status: 'healthy', reason: 'ok' }), 60))
      : new Promise<CheckResult>(() => undefined); // never settles
  }, { intervalMs: 10, timeoutMs: 5000 });
  pool2.setDiscovered([backendSpec('127.0.0.1', '1')]);
  const hc2 = startHealthchecks(counting, { serverName: 'web', pool: pool2, log: silentLogger, random: () => 0 });
  try {
    await waitFor(() => calls === 1, 1000, 'first check');
    assert.equal(hc2.size, 1);
    pool2.setDiscovered([]);
    assert.equal(hc2.size, 0, 'worker stopped with its backend');
    pool2.setDiscovered([backendSpec('127.0.0.1', '1')]);
    assert.equal(hc2.size, 1, 'a new worker for the re-added backend');
    await sleep(100);
    assert.equal(pool2.get('127.0.0.1:1')?.live, false, "the old worker's late result is dropped");
  } finally {
    hc2.stop();
  }
});

test('workers follow the pool; none kind runs nothing; first checks are spread over the interval', async () => {
  const none = compileHealthcheck(hcWire({ kind: 'none' }), 'p', registry, 'tcp');
  const pool0 = new BackendPool({ initialLive: true });
  pool0.setDiscovered([backendSpec('127.0.0.1', '1')]);
  const h0 = startHealthchecks(none, { serverName: 'web', pool: pool0, log: silentLogger });
  assert.equal(h0.size, 0);
  h0.stop();

  const starts: number[] = [];
  const t0 = performance.now();
  const compiled = fakeCheck(async () => {
    starts.push(performance.now() - t0);
    return { status: 'healthy', reason: 'ok' };
  }, { intervalMs: 200, timeoutMs: 100 });
  const pool = new BackendPool({ initialLive: true });
  const specs = Array.from({ length: 50 }, (_, i) => backendSpec('127.0.0.1', String(1000 + i)));
  const hc = startHealthchecks(compiled, { serverName: 'web', pool, log: silentLogger, random: seededRandom(7) });
  try {
    pool.setDiscovered(specs);
    assert.equal(hc.size, 50);
    await waitFor(() => starts.length >= 50, 2000, 'first checks');
    const first = starts.slice(0, 50);
    const buckets = new Set(first.map((s) => Math.floor(s / 10)));
    assert.ok(buckets.size >= 10, `first checks spread (${buckets.size} distinct 10 ms slots)`);
    assert.ok(Math.max(...first) - Math.min(...first) > 100);
    assert.ok(Math.max(...first) < 400, 'all first checks within the interval');
    pool.setDiscovered(specs.slice(0, 10));
    assert.equal(hc.size, 10);
  } finally {
    hc.stop();
  }
  assert.equal(hc.size, 0);
});

test('checks start every interval: never more often, and a slow check skips slots instead of piling up', async () => {
  // A fake clock: one simulated second, exact grid arithmetic, no real sleeping.
  const timers = new FakeTimers();
  const clock = { now: () => timers.time };
  const starts: number[] = [];
  const fast = fakeCheck(async () => {
    starts.push(timers.time);
    return { status: 'healthy', reason: 'ok' };
  }, { intervalMs: 50, timeoutMs: 40 });
  const pool = new BackendPool({ initialLive: true });
  pool.setDiscovered([backendSpec('127.0.0.1', '1')]);
  const hc = startHealthchecks(fast, { serverName: 'web', pool, log: silentLogger, random: () => 0, clock, timers });
  await timers.advance(1000);
  hc.stop();
  assert.equal(starts.length, 21, `${starts.length} checks in 1 s at 50 ms (0, 50, …, 1000)`);
  // On a fixed grid (like a Go ticker): no slot of the grid gets two checks.
  const t0 = starts[0] ?? 0;
  assert.deepEqual(starts.map((t) => t - t0), Array.from({ length: 21 }, (_, i) => i * 50));
  assert.equal(timers.size, 0, 'stop() cleared every timer');

  const slowStarts: number[] = [];
  const slow = fakeCheck(async () => {
    slowStarts.push(timers.time);
    await new Promise<void>((resolve) => timers.setTimeout(resolve, 70)); // longer than the interval
    return { status: 'healthy', reason: 'ok' };
  }, { intervalMs: 50, timeoutMs: 200 });
  const hc2 = startHealthchecks(slow, { serverName: 'web', pool, log: silentLogger, random: () => 0, clock, timers });
  await timers.advance(1000);
  hc2.stop();
  const base = slowStarts[0] ?? 0;
  // a 70 ms check at a 50 ms interval skips the slot it overlaps: one start every 100 ms
  assert.deepEqual(slowStarts.map((t) => t - base), Array.from({ length: 11 }, (_, i) => i * 100));
});
