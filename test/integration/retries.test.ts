/**
 * `backend_connection_retries` and passive health (tsbetween-only) through the real composition
 * root and TCP data path: with one of three backends refusing, 1,000 client connections all
 * succeed with retries = 1 (and some fail with retries = 0, so the test can fail); with
 * `passive_health_fails` the refusing backend is taken out of rotation after K failures.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { startWebApp, type WebApp } from '../helpers/app.js';
import { waitFor } from '../healthcheck/helpers.js';
import { Handles, closedPort, echoHandler, startBackend } from './tcp-helpers.js';

/** One round trip through the balancer: true when the echo came back. */
function roundTrip(port: number, payload: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, 10_000);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    s.on('error', () => done(false));
    s.on('close', () => done(got === payload));
    s.on('data', (c: Buffer) => {
      got += c.toString();
      if (got === payload) done(true);
    });
    s.write(payload);
  });
}

/** `n` round trips, `parallel` at a time; returns how many succeeded. */
async function load(port: number, n: number, parallel: number): Promise<number> {
  let next = 0;
  let ok = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      if (await roundTrip(port, `hello ${i}\n`)) ok++;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return ok;
}

/** The balancer over `backends` with these extra `web` keys. */
function start(web: Record<string, unknown>, backends: string[]): Promise<WebApp> {
  return startWebApp({ backends, web });
}

test('one of three backends refusing: 1,000 connections all succeed with retries = 1', { timeout: 120_000 }, async () => {
  const h = new Handles();
  const a = await startBackend(h, echoHandler);
  const b = await startBackend(h, echoHandler);
  const dead = await closedPort();
  const list = [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`, `127.0.0.1:${dead}`];
  const without = await start({}, list);
  const withRetry = await start({ backend_connection_retries: 1 }, list);
  try {
    // Control: without retries, the refusing backend's share fails.
    const okWithout = await load(without.lb, 60, 10);
    assert.ok(okWithout < 60, `without retries some connections fail (${okWithout}/60 ok)`);

    const ok = await load(withRetry.lb, 1000, 25);
    assert.equal(ok, 1000, 'every connection succeeds with retries = 1');
    const stats = withRetry.app.manager.stats('web');
    const deadStats = stats?.backends.find((x) => x.port === String(dead))?.stats;
    assert.ok((deadStats?.refused_connections ?? 0) >= 200, `the refusing backend was tried (${deadStats?.refused_connections})`);
    assert.equal(deadStats?.total_connections, 0);
    const served = (stats?.backends ?? []).reduce((n, x) => n + x.stats.total_connections, 0);
    assert.equal(served, 1000);
    // Every lease released (the last closes may still be in flight).
    await waitFor(() => {
      const st = withRetry.app.manager.stats('web');
      return st?.active_connections === 0 && st.backends.every((x) => x.stats.active_connections === 0);
    }, 10_000, 'every lease released');
  } finally {
    await without.app.close(0);
    await withRetry.app.close(0);
    await h.closeAll();
  }
});

test('retries never go back to a failed backend; all refusing: the client is closed', async () => {
  const d1 = await closedPort();
  const d2 = await closedPort();
  const { app, lb } = await start({ backend_connection_retries: 5 }, [`127.0.0.1:${d1}`, `127.0.0.1:${d2}`]);
  try {
    assert.equal(await roundTrip(lb, 'x'), false);
    const stats = app.manager.stats('web');
    // Each backend tried once for the one connection.
    assert.deepEqual(stats?.backends.map((x) => x.stats.refused_connections), [1, 1]);
    await waitFor(() => app.manager.stats('web')?.active_connections === 0, 10_000, 'lease released');
  } finally {
    await app.close(0);
  }
});

test('passive health: K consecutive failed connects take a backend out (logged), then no more tries', async () => {
  const h = new Handles();
  const a = await startBackend(h, echoHandler);
  const dead = await closedPort();
  const deadKey = `127.0.0.1:${dead}`;
  const { app, lb } = await start(
    { backend_connection_retries: 1, passive_health_fails: 3, passive_health_down_time: '1m' },
    [`127.0.0.1:${a.port}`, deadKey],
  );
  try {
    assert.equal(await load(lb, 40, 1), 40);
    const pool = app.manager.get('web')?.pool;
    assert.equal(pool?.isPassiveDown(deadKey), true);
    assert.deepEqual(pool?.eligible.map((x) => x.key), [`127.0.0.1:${a.port}`]);
    const refused = pool?.get(deadKey)?.refused;
    assert.equal(refused, 3, 'exactly K failures before it was taken out');
    assert.equal(await load(lb, 20, 4), 20);
    assert.equal(pool?.get(deadKey)?.refused, 3, 'no connect tried while down');
    assert.equal(app.manager.backends('web')?.find((x) => x.port === String(dead))?.health, 'down');
    assert.deepEqual(pool?.events.map((e) => e.event), ['down']);
  } finally {
    await app.close(0);
    await h.closeAll();
  }
});
