/**
 * Backend drain (tsbetween-only) over the real REST API and TCP data path: a drained backend gets
 * no new connections while a long-lived connection to it continues, its state goes draining →
 * drained, the drain survives discovery refreshes (even the backend leaving and coming back), and
 * `ready` puts it back in rotation. Also the unit behaviour of the pool and the route errors.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { test } from 'node:test';
import { BackendPool } from '../../src/control/backend-pool.js';
import { backendSpec } from '../../src/core/backend.js';
import { startWebApp } from '../helpers/app.js';
import { echo, greetedBy, namedBackend, names } from '../helpers/greeting.js';
import { basic, req } from '../api/http.js';
import { waitFor } from '../healthcheck/helpers.js';

test('pool: drained keys leave eligible, survive refreshes, and report draining/drained', () => {
  const pool = new BackendPool({ initialLive: true });
  pool.setDiscovered([backendSpec('a', '1'), backendSpec('b', '2')]);
  assert.equal(pool.drain('a:1'), true);
  assert.equal(pool.drain('a:1'), false, 'already drained');
  assert.deepEqual(pool.eligible.map((b) => b.key), ['b:2']);
  const a = pool.get('a:1');
  assert.ok(a !== undefined);
  assert.equal(pool.drainState(a), 'drained');
  a.active = 1;
  assert.equal(pool.drainState(a), 'draining');
  a.active = 0;
  pool.setDiscovered([backendSpec('b', '2')]);
  pool.setDiscovered([backendSpec('a', '1'), backendSpec('b', '2')]);
  assert.deepEqual(pool.eligible.map((b) => b.key), ['b:2'], 'still drained after leaving and coming back');
  assert.deepEqual(pool.drainedKeys(), ['a:1']);
  assert.equal(pool.undrain('a:1'), true);
  assert.equal(pool.undrain('a:1'), false);
  assert.deepEqual(pool.eligible.map((b) => b.key), ['a:1', 'b:2']);
  const b = pool.get('b:2');
  assert.ok(b !== undefined);
  assert.equal(pool.drainState(b), 'ready');
});

test('drain over the API: 0 new connections, the open one continues, drained, refresh-proof, ready restores', async () => {
  const a = await namedBackend('A');
  const b = await namedBackend('B');
  // plaintext discovery from an endpoint we control, refreshed every 50 ms.
  let list = `127.0.0.1:${a.port}\n127.0.0.1:${b.port}\n`;
  let fetches = 0;
  const disco: HttpServer = createHttpServer((_req, res) => {
    fetches++;
    res.end(list);
  });
  await new Promise<void>((r) => disco.listen(0, '127.0.0.1', r));
  const discoPort = (disco.address() as AddressInfo).port;
  const auth = { Authorization: basic('admin', 'pw') };
  const { app, lb, api } = await startWebApp({
    api: { login: 'admin', password: 'pw' },
    web: { discovery: { kind: 'plaintext', plaintext_endpoint: `http://127.0.0.1:${discoPort}/`, interval: '50ms', timeout: '1s' } },
  });
  const keyA = `127.0.0.1:${a.port}`;
  const backendsOf = async (): Promise<{ host: string; port: string; state: string; health: string; active_connections: number; total_connections: number }[]> => {
    const r = await req(api, '/servers/web/backends', { headers: auth });
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body) as never;
  };
  const stateOfA = async () => (await backendsOf()).find((x) => `${x.host}:${x.port}` === keyA);
  let held: Socket | undefined;
  try {
    await waitFor(() => app.manager.get('web')?.pool.eligible.length === 2, 5000, 'discovery');
    assert.deepEqual(new Set(await names(lb, 4)), new Set(['A', 'B']));
    held = await greetedBy(lb, 'A');
    // Unauthenticated and unknown names.
    assert.equal((await req(api, `/servers/web/backends/${keyA}/drain`, { method: 'POST' })).status, 401);
    const unknownServer = await req(api, `/servers/nope/backends/${keyA}/drain`, { method: 'POST', headers: auth });
    assert.deepEqual([unknownServer.status, JSON.parse(unknownServer.body)], [404, 'Unknown server nope']);
    const unknownBackend = await req(api, '/servers/web/backends/127.0.0.1:1/drain', { method: 'POST', headers: auth });
    assert.deepEqual([unknownBackend.status, JSON.parse(unknownBackend.body)], [404, 'Unknown backend 127.0.0.1:1 of server web']);
    assert.equal((await req(api, '/servers/nope/backends', { headers: auth })).status, 404);

    const drained = await req(api, `/servers/web/backends/${keyA}/drain`, { method: 'POST', headers: auth });
    assert.equal(drained.status, 200);
    assert.equal(drained.headers['content-type'], 'application/json; charset=utf-8');
    const s = JSON.parse(drained.body) as { state: string; active_connections: number; health: string };
    assert.deepEqual([s.state, s.active_connections, s.health], ['draining', 1, 'live']);

    const totalBefore = (await stateOfA())?.total_connections;
    assert.deepEqual(await names(lb, 20), Array(20).fill('B'), 'no new connection to the drained backend');
    assert.equal((await stateOfA())?.total_connections, totalBefore, 'A got 0 new connections');
    assert.equal(await echo(held, 'still here'), 'still here', 'the open connection continues');

    // Discovery drops A and brings it back: still drained.
    const seen = fetches;
    list = `127.0.0.1:${b.port}\n`;
    await waitFor(() => fetches > seen + 2, 5000, 'refreshes without A');
    list = `127.0.0.1:${a.port}\n127.0.0.1:${b.port}\n`;
    const seen2 = fetches;
    await waitFor(() => fetches > seen2 + 2, 5000, 'refreshes with A again');
    assert.deepEqual(await names(lb, 6), Array(6).fill('B'), 'drain survives discovery refreshes');

    held.destroy();
    held = undefined;
    await waitFor(() => app.manager.get('web')?.pool.get(keyA)?.active === 0, 5000, 'held connection released');
    assert.equal((await stateOfA())?.state, 'drained');

    const ready = await req(api, `/servers/web/backends/${keyA}/ready`, { method: 'POST', headers: auth });
    assert.equal(ready.status, 200);
    assert.equal((JSON.parse(ready.body) as { state: string }).state, 'ready');
    assert.deepEqual(new Set(await names(lb, 6)), new Set(['A', 'B']), 'ready restores it');
    // GoBetween's routes are unchanged by the new ones.
    assert.equal((await req(api, '/servers/web/stats', { headers: auth })).status, 200);
    assert.equal((await req(api, '/servers/web/backends', { method: 'DELETE', headers: auth })).status, 404);
  } finally {
    held?.destroy();
    await app.close(0);
    for (const x of [...a.sockets, ...b.sockets]) x.destroy();
    await Promise.all([a.server, b.server].map((srv) => new Promise((r) => srv.close(r))));
    disco.closeAllConnections();
    await new Promise((r) => disco.close(r));
  }
});
