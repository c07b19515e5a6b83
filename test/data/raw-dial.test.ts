/**
 * Raw sockets (src/data/stream/raw-socket.ts): on the Node versions we support, accepted clients
 * of plain pipelines and backends given as IP literals get no net.Socket — this test FAILS if the
 * listener or the dialer silently falls back to net.Socket. Both paths must move bytes exactly with slow readers, and a
 * failed connect reads as net.Socket's does.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { bigReadersNow } from '../../src/data/stream/buffers.js';
import type { StreamConn } from '../../src/data/stream/conn.js';
import { RawSocket, rawSocketsUnavailable } from '../../src/data/stream/raw-socket.js';
import { backendSpec } from '../../src/core/backend.js';
import { Handles, closedPort, connectClient, echoHandler, slowReadAll, startBackend, startProxy, waitFor } from '../integration/tcp-helpers.js';

const sha = (b: Buffer): string => createHash('sha1').update(b).digest('hex');


/** 4 MiB each way through the proxy to `host`, both peers reading slowly; the connection seen. */
async function transfer(h: Handles, host: string): Promise<StreamConn | undefined> {
  const up = randomBytes(4 * 1024 * 1024);
  const down = randomBytes(4 * 1024 * 1024);
  let backendGot: Promise<Buffer> | undefined;
  const be = await startBackend(h, (s) => {
    s.on('error', () => undefined);
    backendGot = slowReadAll(s);
    s.end(down);
  });
  const { server, counters, port, pool } = await startProxy(h, [backendSpec(host, String(be.port))]);
  const c = await connectClient(h, port);
  const clientGot = slowReadAll(c);
  c.end(up);
  let seen: StreamConn | undefined;
  await waitFor(() => {
    for (const x of server.runtime.conns) if ((x as StreamConn).upstream !== null) seen = x as StreamConn;
    return seen !== undefined || c.readableEnded;
  }, 5000, 'connection dialed');
  assert.equal(sha(await clientGot), sha(down), 'backend -> client exact');
  await waitFor(() => backendGot !== undefined, 5000, 'backend connection');
  assert.equal(sha(await (backendGot as Promise<Buffer>)), sha(up), 'client -> backend exact');
  await waitFor(() => counters.active === 0, 5000, 'released');
  assert.equal(bigReadersNow(), 0, 'every direction left the big-buffer budget');
  assert.equal(counters.tx, up.length);
  assert.equal(counters.rx, down.length);
  const b = pool.eligible[0];
  assert.ok(b !== undefined);
  assert.equal(b.total, 1);
  assert.equal(b.active, 0);
  return seen;
}

test(`raw sockets (accepted client, dialed backend) are used on Node ${process.version}, and moves bytes exactly with slow readers`, { timeout: 60_000 }, async () => {
  assert.equal(rawSocketsUnavailable(), null, 'the internal bindings are missing: backends fall back to net.connect');
  const h = new Handles();
  try {
    const conn = await transfer(h, '127.0.0.1');
    assert.ok(conn !== undefined);
    assert.ok(conn.upstream instanceof RawSocket, 'the backend socket is a RawSocket');
    assert.ok(conn.client instanceof RawSocket, 'the accepted client socket is a RawSocket');
  } finally {
    await h.closeAll();
  }
});

test('a backend given by host name is dialed through net.connect (DNS), same bytes', { timeout: 60_000 }, async () => {
  const h = new Handles();
  try {
    const conn = await transfer(h, 'localhost');
    assert.ok(conn !== undefined);
    assert.ok(conn.upstream instanceof net.Socket, 'net.Socket for a host name');
  } finally {
    await h.closeAll();
  }
});

test('RawSocket: a refused connect emits net.Socket\'s error text, then close', { timeout: 10_000 }, async () => {
  assert.equal(rawSocketsUnavailable(), null);
  const port = await closedPort();
  const s = RawSocket.connect('127.0.0.1', port, { buffer: Buffer.alloc(64), callback: () => true }, 15, 4);
  const events: string[] = [];
  s.on('close', () => events.push('close'));
  const [err] = (await once(s, 'error')) as [Error & { code?: string }];
  assert.equal(err.message, `connect ECONNREFUSED 127.0.0.1:${port}`);
  assert.equal(err.code, 'ECONNREFUSED');
  await waitFor(() => events.length > 0, 5000, 'close');
  assert.deepEqual(events, ['close']);
  assert.equal(s.destroyed, true);
});

test('an IPv6-literal backend ([::1]) is dialed as a RawSocket over IPv6, same bytes', { timeout: 20_000 }, async (t) => {
  const h = new Handles();
  try {
    const be = h.server(net.createServer({ allowHalfOpen: true }, echoHandler));
    be.listen(0, '::1');
    const ok = await Promise.race([once(be, 'listening').then(() => true), once(be, 'error').then(() => false)]);
    if (!ok) {
      t.skip('no IPv6 loopback');
      return;
    }
    const bePort = (be.address() as net.AddressInfo).port;
    const { server, counters, port } = await startProxy(h, [backendSpec('::1', String(bePort))]);
    const c = await connectClient(h, port);
    let seen: StreamConn | undefined;
    c.write('over six');
    await waitFor(() => {
      for (const x of server.runtime.conns) if ((x as StreamConn).upstream !== null) seen = x as StreamConn;
      return seen !== undefined;
    }, 5000, 'connection dialed');
    const [echo] = (await once(c, 'data')) as [Buffer];
    assert.equal(echo.toString(), 'over six');
    const up = (seen as StreamConn).upstream;
    assert.ok(up instanceof RawSocket, 'the backend socket is a RawSocket');
    assert.equal(up.remoteAddress, '::1');
    c.end();
    await waitFor(() => counters.active === 0, 5000, 'released');
  } finally {
    await h.closeAll();
  }
});
