import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net, { type Socket } from 'node:net';
import { once } from 'node:events';
import { test } from 'node:test';
import { StartError } from '../../src/core/errors.js';
import {
  Handles, closedWithin, connectClient, echoHandler, readAll, spec, startBackend, startProxy, waitFor,
} from './tcp-helpers.js';

const MB = 1024 * 1024;

/** Writes `total` bytes of pseudo-random data (1 MiB pattern varied per chunk) with backpressure. */
async function sendStream(s: Socket, total: number, seed: Buffer): Promise<string> {
  const hash = createHash('sha256');
  let sent = 0;
  let i = 0;
  while (sent < total) {
    const chunk = Buffer.from(seed.subarray(0, Math.min(seed.length, total - sent)));
    chunk.writeUInt32BE(i++, 0);
    hash.update(chunk);
    sent += chunk.length;
    if (!s.write(chunk)) await once(s, 'drain');
  }
  return hash.digest('hex');
}

function hashIncoming(s: Socket): Promise<{ hex: string; bytes: number }> {
  return new Promise((resolve) => {
    const hash = createHash('sha256');
    let bytes = 0;
    s.on('data', (d: Buffer) => {
      bytes += d.length;
      hash.update(d);
    });
    s.once('end', () => resolve({ hex: hash.digest('hex'), bytes }));
  });
}

test('100 MB each way at once arrive intact; counters exact', { timeout: 60_000 }, async () => {
  const h = new Handles();
  try {
    const TOTAL = 100 * MB;
    let backendGot: Promise<{ hex: string; bytes: number }> | undefined;
    let backendSent: Promise<string> | undefined;
    const be = await startBackend(h, (s) => {
      s.on('error', () => undefined);
      backendGot = hashIncoming(s);
      backendSent = sendStream(s, TOTAL, randomBytes(MB)).then((hex) => {
        s.end();
        return hex;
      });
    });
    const { server, pool, counters, port } = await startProxy(h, [spec(be.port)]);
    const c = await connectClient(h, port);
    const clientGot = hashIncoming(c);
    const clientSent = await sendStream(c, TOTAL, randomBytes(MB));
    c.end();
    const got = await clientGot;
    await waitFor(() => backendGot !== undefined && backendSent !== undefined);
    const [bGot, bSent] = await Promise.all([backendGot as Promise<{ hex: string; bytes: number }>, backendSent as Promise<string>]);
    assert.equal(bGot.bytes, TOTAL);
    assert.equal(bGot.hex, clientSent, 'client -> backend intact');
    assert.equal(got.bytes, TOTAL);
    assert.equal(got.hex, bSent, 'backend -> client intact');
    await closedWithin(c, 5000);
    await waitFor(() => counters.active === 0 && server.connections === 0, 3000, 'connection released');
    const b = pool.eligible[0];
    assert.ok(b !== undefined);
    assert.equal(b.active, 0);
    assert.equal(b.total, 1);
    assert.equal(b.refused, 0);
    assert.equal(b.tx, TOTAL);
    assert.equal(b.rx, TOTAL);
    assert.equal(counters.tx, TOTAL);
    assert.equal(counters.rx, TOTAL);
  } finally {
    await h.closeAll();
  }
});

test('a client that half-closes after its request still gets the whole reply', { timeout: 20_000 }, async () => {
  const h = new Handles();
  try {
    const reply = randomBytes(3 * MB);
    const be = await startBackend(h, (s) => {
      s.on('error', () => undefined);
      const parts: Buffer[] = [];
      s.on('data', (d: Buffer) => parts.push(d));
      s.on('end', () => {
        // Reply only after the request is complete (client FIN seen).
        const req = Buffer.concat(parts).toString();
        setTimeout(() => {
          s.write(`${req.length}:`);
          s.end(reply);
        }, 50);
      });
    });
    const { server, pool, counters, port } = await startProxy(h, [spec(be.port)]);
    const c = await connectClient(h, port);
    const all = readAll(c);
    c.end('GET /thing');
    const got = await all;
    assert.equal(got.subarray(0, 3).toString(), '10:');
    assert.ok(got.subarray(3).equals(reply), 'whole reply received');
    await waitFor(() => counters.active === 0 && server.connections === 0, 3000, 'released');
    const b = pool.eligible[0];
    assert.ok(b !== undefined);
    assert.equal(b.active, 0);
    assert.equal(b.tx, 10);
    assert.equal(b.rx, 3 + reply.length);
    assert.equal(counters.rx, 3 + reply.length);
  } finally {
    await h.closeAll();
  }
});

test('backend half-close: client can keep sending after the backend FIN', { timeout: 20_000 }, async () => {
  const h = new Handles();
  try {
    let backendGot: Promise<Buffer> | undefined;
    const be = await startBackend(h, (s) => {
      s.on('error', () => undefined);
      backendGot = readAll(s);
      s.end('hello'); // backend FIN first, keeps reading
    });
    const { counters, port } = await startProxy(h, [spec(be.port)]);
    const c = await connectClient(h, port);
    const parts: Buffer[] = [];
    c.on('data', (d: Buffer) => parts.push(d));
    await once(c, 'end');
    assert.equal(Buffer.concat(parts).toString(), 'hello');
    c.write('after-fin');
    c.end();
    await waitFor(() => backendGot !== undefined);
    assert.equal((await (backendGot as Promise<Buffer>)).toString(), 'after-fin');
    await closedWithin(c, 3000);
    await waitFor(() => counters.active === 0, 3000, 'released');
    assert.equal(counters.tx, 9);
    assert.equal(counters.rx, 5);
  } finally {
    await h.closeAll();
  }
});

test('many short connections: counters return to zero, round robin over two backends', { timeout: 20_000 }, async () => {
  const h = new Handles();
  try {
    const be1 = await startBackend(h, echoHandler);
    const be2 = await startBackend(h, echoHandler);
    const { pool, counters, port } = await startProxy(h, [spec(be1.port), spec(be2.port)]);
    const N = 40;
    await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const c = await connectClient(h, port);
        const all = readAll(c);
        c.end(`msg-${i}`);
        assert.equal((await all).toString(), `msg-${i}`);
      }),
    );
    await waitFor(() => counters.active === 0, 3000, 'released');
    const [a, b] = pool.eligible;
    assert.ok(a !== undefined && b !== undefined);
    assert.equal(a.total + b.total, N);
    assert.equal(a.total, N / 2);
    assert.equal(a.active + b.active, 0);
    const bytes = Array.from({ length: N }, (_, i) => `msg-${i}`.length).reduce((x, y) => x + y, 0);
    assert.equal(counters.tx, bytes);
    assert.equal(counters.rx, bytes);
    assert.equal(a.tx + b.tx, bytes);
  } finally {
    await h.closeAll();
  }
});

test('listen: Go error text on address in use; wildcard is dual-stack; close() resolves', { timeout: 20_000 }, async () => {
  const h = new Handles();
  try {
    const be = await startBackend(h, echoHandler);
    const first = await startProxy(h, [spec(be.port)]);
    await assert.rejects(
      startProxy(h, [spec(be.port)], { bind: `127.0.0.1:${first.port}` }),
      (e: unknown) => e instanceof StartError && e.message === `listen tcp 127.0.0.1:${first.port}: bind: address already in use`,
    );
    await assert.rejects(
      startProxy(h, [spec(be.port)], { bind: 'nocolon' }),
      (e: unknown) => e instanceof StartError && e.message === 'listen tcp: address nocolon: missing port in address',
    );
    // Wildcard bind (":0"): reachable over IPv4 and, when the host has IPv6, over ::1.
    const wild = await startProxy(h, [spec(be.port)], { bind: ':0' });
    const addr = wild.server.address();
    const c4 = await connectClient(h, addr.port, '127.0.0.1');
    const r4 = readAll(c4);
    c4.end('v4');
    assert.equal((await r4).toString(), 'v4');
    if (addr.family === 'IPv6') {
      const c6 = await connectClient(h, addr.port, '::1');
      const r6 = readAll(c6);
      c6.end('v6');
      assert.equal((await r6).toString(), 'v6');
    }
    // Host names resolve with IPv4 preferred.
    const named = await startProxy(h, [spec(be.port)], { bind: 'localhost:0' });
    assert.equal(named.server.address().address, '127.0.0.1');
    // close() with an open connection destroys it and resolves.
    const c = await connectClient(h, named.port);
    c.write('x');
    await waitFor(() => named.server.connections === 1, 3000, 'admitted');
    await named.server.close();
    await closedWithin(c, 3000);
    assert.equal(named.counters.active, 0);
    await assert.rejects(new Promise<void>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: named.port });
      s.on('connect', () => { s.destroy(); resolve(); });
      s.on('error', reject);
    }));
  } finally {
    await h.closeAll();
  }
});

test('drain() waits for connections up to the grace period, then destroys them', { timeout: 20_000 }, async () => {
  const h = new Handles();
  try {
    const be = await startBackend(h, echoHandler);
    const { server, counters, port } = await startProxy(h, [spec(be.port)]);
    const quick = await connectClient(h, port);
    const slow = await connectClient(h, port);
    await waitFor(() => server.connections === 2, 3000, 'admitted');
    setTimeout(() => quick.end(), 50);
    const t0 = Date.now();
    await server.drain(400);
    const took = Date.now() - t0;
    assert.ok(took >= 350, `drain waited ${took} ms`);
    await closedWithin(slow, 3000);
    assert.equal(counters.active, 0);
  } finally {
    await h.closeAll();
  }
});

test('slow readers and parallel downloads: backend data intact through the reused read buffers', { timeout: 60_000 }, async () => {
  const h = new Handles();
  try {
    const payloads = new Map<number, Buffer>();
    let next = 0;
    const be = await startBackend(h, (s) => {
      s.on('error', () => undefined);
      s.resume();
      const data = randomBytes(6 * MB);
      const id = next++;
      payloads.set(id, data);
      s.write(`${String(id).padStart(4, '0')}`);
      // Many small and large writes so that reads come in all sizes.
      let off = 0;
      const step = (): void => {
        while (off < data.length) {
          const n = Math.min(data.length - off, 1 + ((off * 7919) % 200_000));
          const more = s.write(data.subarray(off, off + n));
          off += n;
          if (!more) {
            s.once('drain', step);
            return;
          }
        }
        s.end();
      };
      step();
    });
    const { counters, port } = await startProxy(h, [spec(be.port)]);
    const one = async (slow: boolean): Promise<void> => {
      const c = await connectClient(h, port);
      const parts: Buffer[] = [];
      c.on('data', (d: Buffer) => {
        parts.push(d);
        if (slow) {
          c.pause();
          setTimeout(() => c.resume(), 2);
        }
      });
      await once(c, 'end');
      c.end();
      const all = Buffer.concat(parts);
      const id = Number(all.subarray(0, 4).toString());
      const want = payloads.get(id);
      assert.ok(want !== undefined);
      assert.equal(createHash('sha256').update(all.subarray(4)).digest('hex'), createHash('sha256').update(want).digest('hex'));
    };
    await Promise.all([one(true), one(true), one(false), one(false), one(true), one(false)]);
    await waitFor(() => counters.active === 0, 5000, 'released');
    assert.equal(counters.rx, 6 * (6 * MB + 4));
  } finally {
    await h.closeAll();
  }
});

test('small backend writes queued behind a stalled client are not overwritten', { timeout: 60_000 }, async () => {
  const h = new Handles();
  try {
    const data = randomBytes(12 * MB);
    const be = await startBackend(h, (s) => {
      s.on('error', () => undefined);
      s.resume();
      // 1000-byte writes spread over event-loop turns, so the proxy reads small chunks.
      let off = 0;
      const step = (): void => {
        for (let k = 0; k < 4 && off < data.length; k++) {
          const more = s.write(data.subarray(off, off + 1000));
          off += 1000;
          if (!more) {
            s.once('drain', step);
            return;
          }
        }
        if (off < data.length) setImmediate(step);
        else s.end();
      };
      step();
    });
    const { port } = await startProxy(h, [spec(be.port)]);
    const c = await connectClient(h, port);
    c.pause();
    const parts: Buffer[] = [];
    // Stall, then read in short bursts so the proxy's writes to the client keep queueing.
    await new Promise((r) => setTimeout(r, 300));
    c.on('data', (d: Buffer) => {
      parts.push(d);
      c.pause();
      setTimeout(() => c.resume(), 1);
    });
    c.resume();
    await once(c, 'end');
    c.end();
    const all = Buffer.concat(parts);
    assert.equal(all.length, data.length);
    assert.ok(all.equals(data), 'bytes identical');
  } finally {
    await h.closeAll();
  }
});
