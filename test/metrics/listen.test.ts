import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { closeServer, listenErrorText, listenOn, parseBind } from '../../src/metrics/listen.js';

test('parseBind follows Go host:port rules', () => {
  assert.deepEqual(parseBind('', 80), { host: undefined, port: 80 });
  assert.deepEqual(parseBind(':8888', 80), { host: undefined, port: 8888 });
  assert.deepEqual(parseBind('0.0.0.0:9284', 80), { host: undefined, port: 9284 });
  assert.deepEqual(parseBind('[::]:1', 80), { host: undefined, port: 1 });
  assert.deepEqual(parseBind('127.0.0.1:0', 80), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseBind('[::1]:6060', 80), { host: '::1', port: 6060 });
  assert.deepEqual(parseBind('localhost:', 443), { host: 'localhost', port: 443 });
  assert.throws(() => parseBind('8888', 80), /missing port in address/);
  assert.throws(() => parseBind('::1:80', 80), /too many colons/);
  assert.throws(() => parseBind(':99999', 80), /invalid port/);
  assert.throws(() => parseBind(':http', 80), /invalid port/);
});

test('listenOn prefers IPv4 for host names; errors read like Go', async () => {
  const s = createServer();
  const addr = await listenOn(s, parseBind('localhost:0', 80));
  try {
    assert.equal(addr.address, '127.0.0.1');
    const other = createServer();
    const err = await listenOn(other, { host: '127.0.0.1', port: addr.port }).then(() => undefined, (e: unknown) => e);
    assert.equal(listenErrorText(`127.0.0.1:${addr.port}`, err), `listen tcp 127.0.0.1:${addr.port}: bind: address already in use`);
    await closeServer(other);
  } finally {
    await closeServer(s);
  }
});
