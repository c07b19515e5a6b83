/**
 * Hot reload with several workers: the changed server is swapped in the main thread (listener
 * kept), each thread's copy of the old version drains and then runs the new one. No connection is
 * refused during the reload, and once the threads have moved every new connection gets the new
 * config.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { startApp } from '../../src/app.js';
import { decodeConfig } from '../../src/config/decode.js';
import type { ConfigWire } from '../../src/config/types.js';
import { ThreadedDataPlane } from '../../src/workers/primary.js';
import { Handles, freePort, runPool, threadsUnavailable, waitFor } from './helpers.js';

const noThreads = await threadsUnavailable();

/** A backend that answers every connection with its name and closes. */
async function namedBackend(h: Handles, name: string): Promise<number> {
  const srv = net.createServer((s) => {
    s.on('error', () => undefined);
    s.end(name);
  });
  h.server(srv);
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return (srv.address() as AddressInfo).port;
}

/** Connects through the balancer and reads what the backend said ('' when closed without a word). */
function ask(port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    let got = '';
    c.on('data', (d: Buffer) => (got += d.toString()));
    c.on('error', () => resolve(got));
    c.on('close', () => resolve(got));
  });
}

function config(lbPort: number, backendPort: number): ConfigWire {
  return decodeConfig(JSON.stringify({
    api: { enabled: false },
    servers: {
      web: {
        bind: `127.0.0.1:${lbPort}`,
        balance: 'roundrobin',
        discovery: { kind: 'static', static_list: [`127.0.0.1:${backendPort}`] },
      },
    },
  }), 'json').config;
}

test('2 workers: a reload swaps a changed server with no refused connection; threads move to the new config',
  { skip: noThreads ?? false, timeout: 90_000 }, async () => {
    const h = new Handles();
    try {
      const a = await namedBackend(h, 'A');
      const b = await namedBackend(h, 'B');
      const lbPort = await freePort();
      let current = config(lbPort, a);
      let logs = '';
      const sink = new Writable({ write(chunk: Buffer, _e, cb): void { logs += chunk.toString('utf8'); cb(); } });
      const app = h.app(await startApp({
        config: current,
        source: { kind: 'file', path: 'workers-reload.json' },
        log: pino({ level: 'info', base: null }, sink),
        version: '0.8.2',
        startTime: new Date(),
        workers: 2,
        reportIntervalMs: 20,
        loadConfig: () => Promise.resolve({ config: current, warnings: [] }),
      }));
      assert.ok(app.dataPlane instanceof ThreadedDataPlane, 'worker threads run');
      const before = await runPool(200, 16, () => ask(lbPort));
      assert.deepEqual([...new Set(before)], ['A'], 'every worker serves version 1');

      // Reload to backend B while clients keep connecting.
      current = config(lbPort, b);
      let stop = false;
      const during: string[] = [];
      const load = (async () => {
        while (!stop) during.push(...await runPool(16, 16, () => ask(lbPort)));
      })();
      const result = await app.reload();
      assert.deepEqual(result.changed, ['web']);
      // Every worker moves to the new version (the threads once their old copy drained).
      await waitFor(async () => {
        const r = await runPool(100, 16, () => ask(lbPort));
        return r.every((x) => x === 'B');
      }, 30_000, 'all workers on the new config');
      stop = true;
      await load;
      assert.ok(during.length > 0);
      assert.deepEqual(during.filter((x) => x !== 'A' && x !== 'B'), [], `no refused connection during the reload (${during.length} made)`);
      assert.doesNotMatch(logs, /did not take the reloaded config/);
    } finally {
      await h.close();
    }
  });
