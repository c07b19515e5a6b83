/**
 * Server manager lifecycle over real sockets: a new server serves its static backends from its
 * very first connection; create/delete/shutdown races leave nothing behind; odd names survive
 * the dump.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { decodeServer } from '../../src/config/decode.js';
import type { App } from '../../src/app.js';
import { startAppFromJson } from '../helpers/app.js';
import { echoBackend, freePort, request } from '../helpers/cli.js';

let backend: Awaited<ReturnType<typeof echoBackend>>;
before(async () => {
  backend = await echoBackend('be');
});
after(async () => {
  await backend.close();
});

function serverBody(port: number): ReturnType<typeof decodeServer>['server'] {
  return decodeServer({
    bind: `127.0.0.1:${port}`,
    discovery: { kind: 'static', static_list: [`127.0.0.1:${backend.port}`] },
  }).server;
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('error', () => resolve(true));
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
  });
}

async function withApp(fn: (app: App) => Promise<void>): Promise<void> {
  const app = await startAppFromJson('{}', 'mem.json');
  try {
    await fn(app);
  } finally {
    await app.close(0);
  }
}

test('a created server serves its static backends from the first connection', { timeout: 30_000 }, () =>
  withApp(async (app) => {
    const port = await freePort();
    for (let i = 0; i < 20; i++) {
      await app.manager.create('s', serverBody(port));
      assert.equal(await request(port, `m${i}`), `be:m${i}`, `round ${i}`);
      await app.manager.delete('s');
    }
  }));

test('a DELETE during the CREATE of the same name waits for it and deletes it', { timeout: 10_000 }, () =>
  withApp(async (app) => {
    const port = await freePort();
    const creating = app.manager.create('x', serverBody(port));
    await app.manager.delete('x');
    await creating;
    assert.deepEqual(app.manager.names(), []);
    assert.equal(await refused(port), true, 'listener closed');
  }));

test('shutdown during a create leaves no listener behind', { timeout: 10_000 }, async () => {
  const app = await startAppFromJson('{}', 'mem.json');
  const port = await freePort();
  const creating = app.manager.create('y', serverBody(port));
  const closing = app.close(0);
  await assert.rejects(creating, /shutting down/);
  await closing;
  assert.deepEqual(app.manager.names(), []);
  assert.equal(await refused(port), true, 'listener closed');
  await assert.rejects(app.manager.create('z', serverBody(port)), /shutting down/);
});

test('a server named __proto__ is listed and dumped like any other', { timeout: 10_000 }, async () => {
  const apiPort = await freePort();
  const app = await startAppFromJson(JSON.stringify({ api: { enabled: true, bind: `127.0.0.1:${apiPort}` } }), 'mem.json');
  try {
    const port = await freePort();
    await app.manager.create('__proto__', serverBody(port));
    const res = await fetch(`http://127.0.0.1:${apiPort}/dump?format=json`);
    const dump = JSON.parse(await res.text()) as { servers: Record<string, unknown> };
    assert.ok(Object.prototype.hasOwnProperty.call(dump.servers, '__proto__'), 'in the dump');
  } finally {
    await app.close(0);
  }
});
