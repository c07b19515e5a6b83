/**
 * The bounded per-session queue: while a backend host name resolves, at most QUEUE_MAX client
 * datagrams wait; later ones are dropped and counted (GoBetween queues up to 10,000 datagrams
 * per session, each copied into its own 64 KiB buffer). Backend sockets are injected: theirs
 * never finish connecting.
 */
import assert from 'node:assert/strict';
import dgram, { type Socket } from 'node:dgram';
import { test } from 'node:test';
import { Elector } from '../../../src/balance/elector.js';
import { RoundRobinBalancer } from '../../../src/balance/roundrobin.js';
import { ServerCounters, backendSpec } from '../../../src/core/backend.js';
import { silentLogger } from '../../../src/core/log.js';
import type { ServerPlan } from '../../../src/core/plan.js';
import { BackendPool } from '../../../src/control/backend-pool.js';
import { ServerTally } from '../../../src/control/tally.js';
import { LocalActiveTable } from '../../../src/data/active.js';
import { ServerLoad, ServerRuntime } from '../../../src/data/runtime.js';
import { UdpServer } from '../../../src/data/udp/server.js';
import { QUEUE_MAX } from '../../../src/data/udp/session.js';
import { waitFor } from './helpers.js';

test(`a session holds at most ${QUEUE_MAX} datagrams while its backend name resolves; the rest are dropped and counted`, async () => {
  const pool = new BackendPool({ initialLive: true });
  pool.setDiscovered([backendSpec('backend.invalid', '53')]);
  const plan: ServerPlan = {
    name: 'q', protocol: 'udp', bind: '127.0.0.1:0', balance: 'roundrobin', maxConnections: 0,
    clientIdleTimeoutMs: 10_000, backendIdleTimeoutMs: 0, backendConnectionTimeoutMs: 0, access: null,
    udp: { maxRequests: 0, maxResponses: 0 },
  };
  const table = new LocalActiveTable();
  const load = new ServerLoad(table);
  const elector = new Elector(new RoundRobinBalancer(), load);
  elector.setSnapshot(pool.snapshot);
  const counters = new ServerCounters();
  const rt = new ServerRuntime(plan, elector, table, load, new ServerTally(counters, pool), silentLogger);
  const sockets: Socket[] = [];
  // A backend socket whose connect never completes (a name that takes forever to resolve).
  const factory = (type: 'udp4' | 'udp6'): Socket => {
    const s = dgram.createSocket(type);
    s.connect = (() => undefined);
    sockets.push(s);
    return s;
  };
  const server = new UdpServer(rt, factory);
  const { port } = await server.listen();
  const client = dgram.createSocket('udp4');
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
  try {
    const n = QUEUE_MAX + 40;
    for (let i = 0; i < n; i++) client.send(`d${i}`, port, '127.0.0.1');
    await waitFor(() => server.drops.dropped === 40, `40 drops (got ${server.drops.dropped})`);
    assert.equal(server.sessions, 1);
    assert.equal(counters.active, 1);
    assert.equal(counters.tx, 0, 'nothing sent yet');
    assert.equal(sockets.length, 1, 'one backend socket for the session');
  } finally {
    client.close();
    rt.closing = true;
    const stopped = server.stop();
    rt.destroyAll();
    await stopped;
  }
  assert.equal(counters.active, 0, 'the lease is released at close');
  assert.equal(pool.bySlot.find((b) => b !== undefined)?.active, 0);
});
