/**
 * Deferred keep-alive on dialed backend sockets (src/data/stream/keepalive.ts): the list itself,
 * and, seen from the kernel with `ss`, a real backend socket — no keep-alive timer before the
 * sweep, Go's 15 s one after it, and a socket closed before the sweep leaves the list.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import {
  deferKeepAlive, cancelKeepAlive, flushKeepAliveForTest, keepAlivePending, setKeepAliveDeferForTest,
  type KeepAliveWaiter,
} from '../../src/data/stream/keepalive.js';
import { RawSocket } from '../../src/data/stream/raw-socket.js';
import type { StreamConn } from '../../src/data/stream/conn.js';
import { Handles, connectClient, spec, startBackend, startProxy, waitFor, ssOrSkip } from '../integration/tcp-helpers.js';

function waiter(applied: string[], name: string): KeepAliveWaiter {
  return { kaPrev: null, kaNext: null, kaQueued: false, applyKeepAlive: () => { applied.push(name); } };
}

test('the list: queued once, cancelled from any place, the rest applied by the timer', { timeout: 10_000 }, async () => {
  setKeepAliveDeferForTest(20);
  try {
    const applied: string[] = [];
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => waiter(applied, n)) as [KeepAliveWaiter, KeepAliveWaiter, KeepAliveWaiter, KeepAliveWaiter];
    for (const w of [a, b, c, d, b]) deferKeepAlive(w);
    assert.equal(keepAlivePending(), 4, 'a second defer of the same socket is a no-op');
    cancelKeepAlive(c); // middle
    cancelKeepAlive(d); // head (last queued)
    cancelKeepAlive(d); // twice: no-op
    assert.equal(keepAlivePending(), 2);
    await waitFor(() => keepAlivePending() === 0, 5000, 'the timer swept the list');
    assert.deepEqual(applied.sort(), ['a', 'b']);
    assert.equal(a.kaNext, null);
    assert.equal(a.kaQueued, false);
    // Cancelling the tail, then the only one left.
    const e = waiter(applied, 'e');
    const f = waiter(applied, 'f');
    deferKeepAlive(e);
    deferKeepAlive(f);
    cancelKeepAlive(e);
    cancelKeepAlive(f);
    assert.equal(keepAlivePending(), 0);
    flushKeepAliveForTest();
    assert.deepEqual(applied.sort(), ['a', 'b']);
  } finally {
    setKeepAliveDeferForTest();
  }
});

function ssLine(ss: string, backendPort: number, localPort: number): string | undefined {
  const out = execFileSync(ss, ['-tno', 'state', 'established', `( dport = :${backendPort} )`], { encoding: 'utf8' });
  return out.split('\n').find((l) => l.includes(`:${localPort} `));
}

test('a dialed backend socket gets Go\'s 15 s keep-alive at the sweep, not at connect', { timeout: 20_000 }, async (t) => {
  const ss = ssOrSkip(t);
  if (ss === undefined) return;
  const h = new Handles();
  setKeepAliveDeferForTest(60_000);
  try {
    const be = await startBackend(h, (s) => {
      s.on('error', () => undefined);
      s.on('end', () => s.end());
    });
    const { server, counters, port } = await startProxy(h, [spec(be.port)]);
    await connectClient(h, port);
    let conn: StreamConn | undefined;
    await waitFor(() => {
      for (const x of server.runtime.conns) conn = x as StreamConn;
      return counters.active === 1 && conn?.upstream?.localPort !== undefined && keepAlivePending() === 1;
    }, 5000, 'backend connected');
    const up = (conn as StreamConn).upstream;
    assert.ok(up instanceof RawSocket, 'the backend socket is a RawSocket');
    const local = up.localPort as number;
    let line: string | undefined;
    await waitFor(() => (line = ssLine(ss, be.port, local)) !== undefined, 5000, 'ss shows the backend socket');
    assert.doesNotMatch(line as string, /keepalive/, `no keep-alive before the sweep: ${line}`);
    flushKeepAliveForTest();
    assert.equal(keepAlivePending(), 0);
    line = ssLine(ss, be.port, local);
    assert.match(line ?? '', /timer:\(keepalive,1[0-5]sec/, `keep-alive after the sweep: ${line}`);

    // A client that leaves before the sweep takes its backend socket off the list.
    const c2 = await connectClient(h, port);
    await waitFor(() => counters.active === 2 && keepAlivePending() === 1, 5000, 'second backend connected');
    c2.end();
    await waitFor(() => counters.active === 1, 5000, 'second connection released');
    assert.equal(keepAlivePending(), 0, 'the closed socket left the list');
  } finally {
    setKeepAliveDeferForTest();
    flushKeepAliveForTest();
    await h.closeAll();
  }
});
