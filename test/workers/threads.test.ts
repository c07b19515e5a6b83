/**
 * Several data-plane workers (src/workers/), over real loopback sockets: the kernel spreads new
 * connections over the worker threads, max_connections holds across them, stats and metrics
 * match what the clients saw, a killed worker is restarted without a stuck lease. On a Node
 * without reusePort the app falls back to one worker in the main thread (and says so); the tests
 * that need threads skip there with that reason.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Handles, echoBackend, getText, hold, metric, roundTrip, runPool, startWorkersApp, threadsUnavailable, waitFor, webStats,
} from './helpers.js';

const noThreads = await threadsUnavailable();


const stats = webStats;

test('2 workers: each takes at least 30 % of 10,000 connections', { skip: noThreads ?? false, timeout: 120_000 }, async () => {
  const h = new Handles();
  try {
    const be = await echoBackend(h);
    const w = await startWorkersApp(h, 2, { balance: 'roundrobin', discovery: { kind: 'static', static_list: [`127.0.0.1:${be.port}`] } });
    assert.ok(w.threaded !== null, 'worker threads run');
    assert.match(w.logs(), /data plane: 2 workers \(the main thread and 1 worker thread/);
    const payload = Buffer.from('ping\n');
    const results = await runPool(10_000, 64, () => roundTrip(h, w.port, payload));
    assert.equal(results.filter((r) => r === 'ok').length, 10_000);
    await waitFor(() => w.threaded!.connectionsPerWorker().reduce((a, b) => a + b, 0) === 10_000, 10_000, 'all connections reported');
    const per = w.threaded.connectionsPerWorker();
    for (const [i, n] of per.entries()) assert.ok(n >= 3000, `worker ${i} took ${n} of 10,000 (${per.join(' / ')})`);
  } finally {
    await h.close();
  }
});

for (const scope of ['server', 'backend'] as const) {
  test(`2 workers: ${scope} max_connections holds across workers (never more, and fills up)`, { timeout: 60_000 }, async () => {
    const h = new Handles();
    try {
      const be = await echoBackend(h);
      const line = scope === 'backend' ? `127.0.0.1:${be.port} max_connections=4` : `127.0.0.1:${be.port}`;
      const w = await startWorkersApp(h, 2, {
        balance: 'leastconn', ...(scope === 'server' ? { max_connections: 4 } : {}),
        discovery: { kind: 'static', static_list: [line] },
      });
      // A burst of 24 at once: never more than 4 reach the backend.
      const burst = await Promise.all(Array.from({ length: 24 }, () => hold(h, w.port)));
      const held = burst.filter((s) => s !== 'refused');
      assert.ok(held.length <= 4, `${held.length} held`);
      assert.ok(be.open() <= 4, `${be.open()} open at the backend`);
      // Free places are taken one at a time up to exactly 4 (a simultaneous race at the limit may
      // refuse both contenders, never admit both), and nothing beyond.
      for (let i = 0; i < 40 && held.length < 4; i++) {
        const s = await hold(h, w.port);
        if (s !== 'refused') held.push(s);
      }
      assert.equal(held.length, 4);
      for (let i = 0; i < 10; i++) assert.equal(await hold(h, w.port), 'refused');
      assert.equal(be.open(), 4);
      // Releasing one frees exactly one place.
      held.pop()?.destroy();
      await waitFor(async () => (await hold(h, w.port)) !== 'refused', 10_000, 'a freed place');
      assert.equal(await hold(h, w.port), 'refused');
      if (noThreads === null) assert.ok(w.threaded !== null);
    } finally {
      await h.close();
    }
  });
}

test('2 workers: stats and metrics equal what the clients saw, after a quiesce', { timeout: 60_000 }, async () => {
  const h = new Handles();
  try {
    const a = await echoBackend(h);
    const b = await echoBackend(h);
    const w = await startWorkersApp(h, 2, {
      balance: 'roundrobin', discovery: { kind: 'static', static_list: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`] },
    });
    const n = 600;
    const size = 3000;
    const payload = Buffer.alloc(size, 7);
    const results = await runPool(n, 32, () => roundTrip(h, w.port, payload));
    assert.equal(results.filter((r) => r === 'ok').length, n);
    // Clients sent n × size bytes and read as many back.
    await waitFor(async () => {
      const s = await stats(w.apiPort);
      const total = s.backends.reduce((sum, x) => sum + x.stats.total_connections, 0);
      return total === n && s.active_connections === 0 && s.tx_total === n * size && s.rx_total === n * size &&
        s.backends.every((x) => x.stats.active_connections === 0);
    }, 15_000, 'stats to settle');
    const s = await stats(w.apiPort);
    for (const x of s.backends) {
      assert.equal(x.stats.tx, x.stats.total_connections * size);
      assert.equal(x.stats.rx, x.stats.total_connections * size);
      assert.equal(x.stats.refused_connections, 0);
    }
    const text = await getText(w.metricsPort, '/metrics');
    assert.equal(metric(text, 'gobetween_server_active_connections', 'server="web"'), 0);
    assert.equal(metric(text, 'gobetween_server_tx_total', 'server="web"'), n * size);
    assert.equal(metric(text, 'gobetween_server_rx_total', 'server="web"'), n * size);
    let total = 0;
    for (const x of s.backends) {
      const labels = `port="${x.port}"`;
      assert.equal(metric(text, 'gobetween_backend_total_connections', labels), x.stats.total_connections);
      assert.equal(metric(text, 'gobetween_backend_active_connections', labels), 0);
      total += metric(text, 'gobetween_backend_total_connections', labels) ?? 0;
    }
    assert.equal(total, n);
  } finally {
    await h.close();
  }
});

test('2 workers: a killed worker is restarted and no lease stays stuck', { skip: noThreads ?? false, timeout: 60_000 }, async () => {
  const h = new Handles();
  try {
    const be = await echoBackend(h);
    const w = await startWorkersApp(h, 2, {
      balance: 'leastconn', max_connections: 40,
      discovery: { kind: 'static', static_list: [`127.0.0.1:${be.port} max_connections=30`] },
    });
    const dp = w.threaded!;
    const held = (await Promise.all(Array.from({ length: 24 }, () => hold(h, w.port)))).filter((s) => s !== 'refused');
    assert.equal(held.length, 24);
    await waitFor(async () => (await stats(w.apiPort)).active_connections === 24, 10_000, '24 active');
    const before = dp.threadIds();
    assert.equal(before.length, 1);
    await dp.kill(1);
    // The killed worker's clients are cut; the others keep their connections.
    await waitFor(() => held.filter((s) => !s.destroyed && !s.closed).length < 24, 10_000, 'the killed worker\'s clients to close');
    await waitFor(() => dp.threadIds().length === 1 && dp.threadIds()[0] !== before[0], 15_000, 'worker 1 to restart');
    const alive = (): number => held.filter((s) => !s.closed).length;
    await waitFor(async () => {
      const s = await stats(w.apiPort);
      return s.active_connections === alive() && s.backends[0]?.stats.active_connections === alive();
    }, 10_000, 'stats to drop the killed worker\'s leases');
    // The limits count only live connections again: the backend takes 30 - alive() more.
    const more: (typeof held)[number][] = [];
    for (let i = 0; i < 80 && alive() + more.length < 30; i++) {
      const s = await hold(h, w.port);
      if (s !== 'refused') more.push(s);
    }
    assert.equal(alive() + more.length, 30);
    // Everything closed: every count goes back to 0, in the stats and in the shared counters.
    for (const s of [...held, ...more]) s.destroy();
    await waitFor(async () => {
      const s = await stats(w.apiPort);
      return s.active_connections === 0 && s.backends[0]?.stats.active_connections === 0;
    }, 10_000, 'counts back to 0');
    await waitFor(() => dp.heldLeases('web') === 0, 10_000, () => `no lease held in the shared counts (${dp.heldLeases('web')})`);
    // Both workers accept again once the new thread listens (it restarts in the background):
    // batches of connections until each worker has taken some.
    const base = dp.connectionsPerWorker();
    await waitFor(async () => {
      const batch = await runPool(50, 16, () => roundTrip(h, w.port, Buffer.from('x')));
      assert.equal(batch.filter((r) => r === 'ok').length, 50);
      await new Promise((r) => setTimeout(r, 50));
      return dp.connectionsPerWorker().every((c, i) => c > (base[i] ?? 0));
    }, 20_000, () => `both workers to take connections (${base.join('/')} -> ${dp.connectionsPerWorker().join('/')}); log:\n${w.logs()}`);
  } finally {
    await h.close();
  }
});

test('workers 2 on a Node without reusePort: one worker in the main thread, said in the log', {
  skip: noThreads === null ? 'this Node has reusePort: worker threads run' : false,
}, async () => {
  const h = new Handles();
  try {
    const be = await echoBackend(h);
    const w = await startWorkersApp(h, 2, { discovery: { kind: 'static', static_list: [`127.0.0.1:${be.port}`] } });
    assert.equal(w.threaded, null);
    assert.equal(w.app.workerThreads, 0);
    assert.match(w.logs(), /"level":40.*workers 2: Node v\d+\.\d+\.\d+ cannot share a listening port between threads.*running 1 worker/);
    assert.equal(await roundTrip(h, w.port, Buffer.from('hi')), 'ok');
  } finally {
    await h.close();
  }
});
