/**
 * SIGTERM before the servers start: while the config is still being fetched (from-url against a
 * server that never answers), a stop request exits 0 at once and removes the pidfile. As PID 1 in
 * a container a signal without a handler would be ignored; as a plain process it would kill the
 * program by signal (no clean exit status).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from '../helpers/cli.js';

test('SIGTERM while from-url is still waiting for the config: exit 0, pidfile removed', async () => {
  const dir = tempDir('tsb-signals-');
  const pending: http.ServerResponse[] = [];
  let requested!: () => void;
  const gotRequest = new Promise<void>((r) => { requested = r; });
  const server = http.createServer((_req, res) => { pending.push(res); requested(); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const pidfile = join(dir.path, 'tsb.pid');
  const r = runCli(['from-url', `http://127.0.0.1:${port}/gobetween.toml`, '-p', pidfile]);
  try {
    await gotRequest;
    assert.ok(existsSync(pidfile));
    const t0 = Date.now();
    r.kill('SIGTERM');
    assert.equal(await r.exited, 0, r.stderr());
    assert.ok(Date.now() - t0 < 5000, 'exits at once');
    assert.match(r.stderr(), /SIGTERM while loading the config: exiting/);
    assert.equal(existsSync(pidfile), false, 'pidfile removed');
  } finally {
    r.kill('SIGKILL');
    for (const res of pending) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((res) => server.close(() => res()));
    dir.remove();
  }
});
