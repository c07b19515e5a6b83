/**
 * The fast accept path (src/data/listeners/fast-accept.ts): on the Node versions we support the
 * accepted client sockets must read through `onread` — this test FAILS if the listener silently
 * falls back to Node's sockets and 'data' events. Both paths must move bytes exactly, also with
 * slow readers on either side (a queued write keeps its buffer; the next read gets another).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { bigReadersNow } from '../../src/data/stream/buffers.js';
import { CLIENT_ONREAD, type StreamConn } from '../../src/data/stream/conn.js';
import { Handles, connectClient, slowReadAll, spec, startBackend, startProxy, waitFor, ssOrSkip } from '../integration/tcp-helpers.js';

const sha = (b: Buffer): string => createHash('sha1').update(b).digest('hex');


/** 8 MiB each way through the proxy, both peers reading slowly; returns the live connection seen. */
async function transfer(h: Handles, env: string | undefined): Promise<{ fast: boolean; conn: StreamConn | undefined }> {
  const saved = process.env['TSBETWEEN_FAST_ACCEPT'];
  if (env === undefined) delete process.env['TSBETWEEN_FAST_ACCEPT'];
  else process.env['TSBETWEEN_FAST_ACCEPT'] = env;
  try {
    const up = randomBytes(8 * 1024 * 1024);
    const down = randomBytes(8 * 1024 * 1024);
    let backendGot: Promise<Buffer> | undefined;
    const be = await startBackend(h, (s) => {
      s.on('error', () => undefined);
      backendGot = slowReadAll(s);
      s.end(down);
    });
    const { server, counters, port } = await startProxy(h, [spec(be.port)]);
    const c = await connectClient(h, port);
    const clientGot = slowReadAll(c);
    c.end(up);
    let seen: StreamConn | undefined;
    await waitFor(() => {
      for (const x of server.runtime.conns) seen = x as StreamConn;
      return seen !== undefined || c.readableEnded;
    }, 5000, 'connection tracked');
    const got = await clientGot;
    await waitFor(() => backendGot !== undefined, 5000, 'backend connection');
    assert.equal(sha(got), sha(down), 'backend -> client exact');
    assert.equal(sha(await (backendGot as Promise<Buffer>)), sha(up), 'client -> backend exact');
    await waitFor(() => counters.active === 0, 5000, 'released');
    assert.equal(bigReadersNow(), 0, 'every direction left the big-buffer budget');
    assert.equal(counters.tx, up.length);
    assert.equal(counters.rx, down.length);
    return { fast: server.fastAccept, conn: seen };
  } finally {
    if (saved === undefined) delete process.env['TSBETWEEN_FAST_ACCEPT'];
    else process.env['TSBETWEEN_FAST_ACCEPT'] = saved;
  }
}

test(`fast accept path is taken on Node ${process.version}, and moves bytes exactly with slow readers`, { timeout: 60_000 }, async () => {
  const h = new Handles();
  try {
    const { fast, conn } = await transfer(h, undefined);
    assert.equal(fast, true, 'the listener fell back to Node sockets');
    assert.ok(conn !== undefined);
    assert.notEqual(conn.flags & CLIENT_ONREAD, 0, 'the client socket reads through onread');
    assert.equal(conn.client.listenerCount('data'), 0, 'no data listener on the client socket');
  } finally {
    await h.closeAll();
  }
});

test('fallback (TSBETWEEN_FAST_ACCEPT=0): Node sockets and data events, same bytes', { timeout: 60_000 }, async () => {
  const h = new Handles();
  try {
    const { fast, conn } = await transfer(h, '0');
    assert.equal(fast, false);
    assert.ok(conn !== undefined);
    assert.equal(conn.flags & CLIENT_ONREAD, 0);
  } finally {
    await h.closeAll();
  }
});

test('accepted sockets have TCP keep-alive (set once on the listener, inherited on Linux)', { timeout: 20_000 }, async (t) => {
  const ss = ssOrSkip(t);
  if (ss === undefined) return;
  const h = new Handles();
  try {
    const be = await startBackend(h, (s) => s.on('error', () => undefined));
    const { server, counters, port } = await startProxy(h, [spec(be.port)]);
    assert.equal(server.fastAccept, true);
    const c = await connectClient(h, port);
    await waitFor(() => counters.active === 1 && server.runtime.conns.size === 1, 5000, 'connection held');
    let out = '';
    await waitFor(() => {
      out = execFileSync(ss, ['-tno', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
      return out.includes(':' + String(c.localPort));
    }, 5000, 'ss shows the accepted socket');
    const line = out.split('\n').find((l) => l.includes(':' + String(c.localPort))) ?? '';
    assert.match(line, /timer:\(keepalive,1[0-5]sec/, line);
  } finally {
    await h.closeAll();
  }
});
