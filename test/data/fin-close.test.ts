// Closing a pair once both directions ended (src/data/stream/forward.ts closeWrite/endPending):
// the FIN still owed may be sent by close() instead of shutdown() + close(). These tests fail if
// that close ever drops queued bytes or resets a peer (a close with unread data sends RST).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { CLIENT_QUIT, type StreamConn, type TaggedSocket } from '../../src/data/stream/conn.js';
import { closeWrite } from '../../src/data/stream/forward.js';
import { Handles, connectClient, spec, startBackend, startProxy, waitFor } from '../integration/tcp-helpers.js';

interface Outcome {
  got: Buffer;
  error: string;
}

/** Collects what a socket reads until its 'end', and whether it saw an error (a reset). */
function watch(s: Socket): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    const parts: Buffer[] = [];
    let error = '';
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('error', (e: Error) => {
      error = e.message;
    });
    s.once('close', () => resolve({ got: Buffer.concat(parts), error: error !== '' ? error : s.readableEnded ? '' : 'no FIN' }));
  });
}

/**
 * HTTP/1.0-style exchanges: the client sends a request, the backend answers with `size` bytes and
 * closes, and the client closes as soon as it has the whole answer (what wrk does with
 * `Connection: close`). Both FINs arrive close together, in either order.
 */
async function exchanges(size: number, n: number): Promise<void> {
  const h = new Handles();
  try {
    const reply = randomBytes(size);
    const backendSides: Promise<Outcome>[] = [];
    const be = await startBackend(h, (s) => {
      backendSides.push(watch(s));
      s.once('data', () => s.end(reply));
    });
    const { counters, port, pool } = await startProxy(h, [spec(be.port)]);
    const clients = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const c = await connectClient(h, port);
        const out = watch(c);
        let have = 0;
        c.on('data', (d: Buffer) => {
          have += d.length;
          if (have === size) c.end();
        });
        c.write(`GET /${i}\r\n\r\n`);
        return out;
      }),
    );
    for (const o of clients) {
      assert.equal(o.error, '', 'the client saw a clean FIN');
      assert.ok(o.got.equals(reply), 'the client got every byte');
    }
    await waitFor(() => backendSides.length === n, 5000, 'backends saw every connection');
    for (const o of await Promise.all(backendSides)) {
      assert.equal(o.error, '', 'the backend saw a clean FIN');
      assert.ok(o.got.toString().startsWith('GET /'));
    }
    await waitFor(() => counters.active === 0, 5000, 'released');
    const b = pool.eligible[0];
    assert.ok(b !== undefined);
    assert.equal(b.active, 0);
    assert.equal(b.rx, n * size);
    assert.equal(counters.rx, n * size);
  } finally {
    await h.closeAll();
  }
}

test('short answers, both sides close at once: every byte and a clean FIN both ways', { timeout: 30_000 }, async () => {
  await exchanges(126, 200);
});

test('answers still queued towards the client when both FINs arrive are flushed before the close', { timeout: 60_000 }, async () => {
  await exchanges(2 * 1024 * 1024, 8);
});

/** A stand-in socket recording how closeWrite() ended its write side. */
function fakeSocket(queued: number, encrypted: boolean): Socket & { how: string } {
  const s = {
    how: '',
    writableLength: queued,
    destroy(): void {
      s.how = 'destroy';
    },
    end(): void {
      s.how = 'end';
    },
  };
  if (encrypted) Object.assign(s, { encrypted: true });
  return s as unknown as Socket & { how: string };
}

test('closeWrite: close() only for a plain socket with nothing queued; end() otherwise', () => {
  const cases: [number, boolean, string, boolean][] = [
    [0, false, 'destroy', true],
    [1, false, 'end', false],
    [0, true, 'end', false],
    [70_000, true, 'end', false],
  ];
  for (const [queued, encrypted, how, quit] of cases) {
    const conn = { flags: 0 } as StreamConn;
    const s = fakeSocket(queued, encrypted);
    closeWrite(conn, s as unknown as TaggedSocket, CLIENT_QUIT);
    assert.equal(s.how, how, `queued ${queued}, encrypted ${encrypted}`);
    assert.equal((conn.flags & CLIENT_QUIT) !== 0, quit);
  }
});
