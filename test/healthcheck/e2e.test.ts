/**
 * Health checks driving the real data path: the composition root (config validation, server
 * manager, static discovery, TCP listener) with a ping health check. A backend that stops
 * listening gets no new client connections once dead (existing ones continue), and gets traffic
 * again once it listens again; stats follow `live`.
 */
import assert from 'node:assert/strict';
import type { Server, Socket } from 'node:net';
import { test } from 'node:test';
import { startWebApp } from '../helpers/app.js';
import { echo, greetedBy, namedBackend, names } from '../helpers/greeting.js';
import { waitFor } from './helpers.js';

test('a dead backend gets no new connections (existing ones continue) and gets traffic again once live', async () => {
  let a = await namedBackend('A');
  const b = await namedBackend('B');
  const { app, lb } = await startWebApp({
    backends: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`],
    web: { healthcheck: { kind: 'ping', interval: '40ms', timeout: '200ms', fails: 2, passes: 2 } },
  });
  const keyA = `127.0.0.1:${a.port}`;
  const liveOf = (key: string): boolean | undefined => app.manager.get('web')?.pool.get(key)?.live;
  const statsLive = (key: string): boolean | undefined =>
    app.manager.stats('web')?.backends.find((x) => `${x.host}:${x.port}` === key)?.stats.live;
  let held: Socket | undefined;
  try {
    await waitFor(() => app.manager.get('web')?.pool.eligible.length === 2, 3000, 'static discovery');
    assert.deepEqual(new Set(await names(lb, 6)), new Set(['A', 'B']));

    // A connection to A stays open while A stops listening and is marked dead.
    held = await greetedBy(lb, 'A');
    void closeServer2(a.server); // stops listening; resolves only once `held` is gone
    await waitFor(() => liveOf(keyA) === false, 3000, 'A dead');
    assert.equal(statsLive(keyA), false, 'stats show live=false');
    assert.deepEqual(await names(lb, 10), Array(10).fill('B'), 'no new connection goes to the dead backend');
    assert.equal(await echo(held, 'still here'), 'still here', 'the existing connection continues');

    a = await namedBackend('A', a.port);
    await waitFor(() => liveOf(keyA) === true, 3000, 'A live again');
    assert.equal(statsLive(keyA), true);
    assert.deepEqual(new Set(await names(lb, 6)), new Set(['A', 'B']));
  } finally {
    held?.destroy();
    await app.close(0);
    for (const s of [...a.sockets, ...b.sockets]) s.destroy();
    await Promise.all([closeServer2(a.server), closeServer2(b.server)]);
  }
});

/** Stops listening (existing connections stay open); resolves at once if already closed. */
function closeServer2(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}
