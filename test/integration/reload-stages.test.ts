/**
 * A hot reload that gives a plain tcp server a stage reading the client first (here
 * `accept_proxy_protocol`): the listener is kept, and it took the fast accept path at start, so
 * its new connections must now be built as Node sockets for that stage (tcp.ts retarget +
 * socketForHandle without onread). And back: the stage removed again, plain forwarding resumes.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { startApp } from '../../src/app.js';
import { decodeConfig } from '../../src/config/decode.js';
import type { ConfigWire } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/log.js';
import { freePort } from '../api/ports.js';
import { greet, greeter } from '../helpers/greeting.js';
import { Handles, startBackend } from './tcp-helpers.js';

/** Connects, sends `first`, reads what comes back until the peer closes or 3 s pass. */
function exchange(port: number, first: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const t = setTimeout(() => s.destroy(), 3000);
    s.on('connect', () => s.write(first));
    s.on('data', (d: Buffer) => {
      got += d.toString();
      s.end();
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(t);
      resolve(got);
    });
  });
}

test('reload: a fast-path tcp listener takes a client-reading stage and drops it again', { timeout: 30_000 }, async () => {
  const h = new Handles();
  const a = await startBackend(h, greeter('A'));
  const port = await freePort('127.0.0.1');
  const config = (extra: Record<string, unknown>): ConfigWire => decodeConfig(JSON.stringify({
    servers: { web: { bind: `127.0.0.1:${port}`, discovery: { kind: 'static', static_list: [`127.0.0.1:${a.port}`] }, ...extra } },
  }), 'json').config;
  let current = config({});
  const app = await startApp({
    config: current, source: { kind: 'file', path: 'reload-stages.json' }, log: silentLogger, version: '0.8.2',
    startTime: new Date(), loadConfig: () => Promise.resolve({ config: current, warnings: [] }),
  });
  try {
    const plain = await greet(port);
    assert.equal(plain.name, 'A');
    plain.socket.destroy();

    current = config({ accept_proxy_protocol: { from: ['127.0.0.1/32'], timeout: '1s' } });
    assert.deepEqual((await app.reload()).changed, ['web']);
    // Without a header: closed by the accept-proxy stage, nothing from the backend.
    assert.equal(await exchange(port, 'hello'), '');
    // With a v1 header: proxied to the backend, which greets.
    assert.equal(await exchange(port, 'PROXY TCP4 192.0.2.7 127.0.0.1 40000 80\r\n'), 'A\n');

    current = config({});
    assert.deepEqual((await app.reload()).changed, ['web']);
    const again = await greet(port);
    assert.equal(again.name, 'A');
    again.socket.destroy();
  } finally {
    await app.close(0);
    await h.closeAll();
  }
});
