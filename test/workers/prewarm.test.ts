/**
 * `backend_prewarm` with several data-plane workers: each worker keeps its own N idle
 * connections per backend; the stats count only the connections clients used; closing the app
 * closes every pooled socket.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Handles, echoBackend, roundTrip, runPool, startWorkersApp, threadsUnavailable, waitFor, webStats } from './helpers.js';

const noThreads = await threadsUnavailable();


test('2 workers × backend_prewarm = 2: four pooled connections, exact stats, closed with the app', { timeout: 60_000 }, async () => {
  const h = new Handles();
  try {
    const be = await echoBackend(h);
    const w = await startWorkersApp(h, 2, {
      balance: 'roundrobin',
      backend_prewarm: 2,
      discovery: { kind: 'static', static_list: [`127.0.0.1:${be.port}`] },
    });
    const pooled = noThreads === null ? 4 : 2;
    await waitFor(() => be.open() === pooled, 10_000, `${pooled} pooled connections (open: ${be.open()})`);
    const results = await runPool(40, 4, () => roundTrip(h, w.port, Buffer.from('ping\n')));
    assert.equal(results.filter((r) => r === 'ok').length, 40);
    await waitFor(async () => {
      const s = await webStats(w.apiPort);
      const b = s.backends[0]?.stats;
      return s.active_connections === 0 && b?.active_connections === 0 && b.total_connections === 40 && b.refused_connections === 0;
    }, 10_000, 'stats: 40 connections, none active');
    await waitFor(() => be.open() === pooled, 10_000, 'the pools refilled');
    await w.app.close(0);
    await waitFor(() => be.open() === 0, 10_000, 'every pooled connection closed');
  } finally {
    await h.close();
  }
});
