/**
 * DNS through tsbetween to two real dnsmasq instances (Debian package dnsmasq-base). Each
 * dnsmasq answers `svc.test` with its own address, so every answer says which backend served it.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { dnsLoad } from '../../../bench/udp-load.js';
import { DNSMASQ, Dnsmasq, freeDnsPort } from '../../discovery/dnsmasq.js';
import { startUdpApp, waitFor, type UdpApp } from './helpers.js';

const ADDRS = ['10.0.0.1', '10.0.0.2'];
const servers: Dnsmasq[] = [];

before(async () => {
  if (DNSMASQ === undefined) return;
  for (const a of ADDRS) {
    const d = new Dnsmasq(await freeDnsPort());
    servers.push(d);
    await d.start([`--address=/svc.test/${a}`]);
  }
});
after(async () => {
  await Promise.all(servers.map((d) => d.dispose()));
});

/** A client socket that asks `svc.test A` and returns the answered address ('' if none). */
async function resolver(port: number): Promise<{ ask(): Promise<string>; close(): Promise<void> }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  let id = 0;
  return {
    ask() {
      const qid = ++id;
      return new Promise<string>((resolve) => {
        const t = setTimeout(() => {
          sock.off('message', onMsg);
          resolve('');
        }, 3000);
        const onMsg = (m: Buffer): void => {
          const p = dnsPacket.decode(m);
          if (p.id !== qid) return;
          clearTimeout(t);
          sock.off('message', onMsg);
          const a = p.answers?.find((x) => x.type === 'A');
          resolve(a !== undefined && 'data' in a && typeof a.data === 'string' ? a.data : '');
        };
        sock.on('message', onMsg);
        sock.send(dnsPacket.encode({ type: 'query', id: qid, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'svc.test' }] }), port, '127.0.0.1');
      });
    },
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

async function withDns(server: Record<string, unknown>, fn: (u: UdpApp) => Promise<void>): Promise<void> {
  const u = await startUdpApp(servers.map((d) => d.port), server);
  try {
    await fn(u);
  } finally {
    await u.close();
  }
}

test('dnsmasq x2: correct answers; roundrobin spreads new sessions; a client port stays on its backend; sessions expire', { timeout: 60_000 }, async (t) => {
  if (DNSMASQ === undefined) {
    t.skip('dnsmasq not installed');
    return;
  }
  await withDns({ balance: 'roundrobin', client_idle_timeout: '400ms' }, async (u) => {
    const clients = await Promise.all([0, 1, 2, 3, 4, 5].map(() => resolver(u.port)));
    try {
      const firsts: string[] = [];
      for (const c of clients) firsts.push(await c.ask());
      for (const a of firsts) assert.ok(ADDRS.includes(a), `a correct answer, got "${a}"`);
      assert.equal(firsts.filter((a) => a === ADDRS[0]).length, 3, `round-robin over new sessions: ${firsts.join(' ')}`);
      assert.equal(u.stats().active, 6);
      // Each port stays on its backend while its session lives.
      for (let i = 0; i < clients.length; i++) {
        for (let k = 0; k < 3; k++) assert.equal(await (clients[i] as Awaited<ReturnType<typeof resolver>>).ask(), firsts[i]);
      }
      assert.deepEqual(Object.values(u.stats().totals), [3, 3]);
      // Idle sessions expire: the stats show no active session.
      await waitFor(() => u.stats().active === 0, 'sessions to expire after client_idle_timeout', 10_000);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});

test('dnsmasq x2: 20,000 queries at a moderate rate, none lost', { timeout: 120_000 }, async (t) => {
  if (DNSMASQ === undefined) {
    t.skip('dnsmasq not installed');
    return;
  }
  await withDns({ balance: 'roundrobin', client_idle_timeout: '5s', udp: { max_responses: 1 } }, async (u) => {
    // 8 source ports x 16 queries in flight; max_responses = 1 with parallel queries on one port
    // (nginx's rule keeps the session until every query has its answer).
    const r = await dnsLoad({ host: '127.0.0.1', port: u.port, name: 'svc.test', sockets: 8, inflight: 16, total: 20_000, seconds: Infinity, timeoutMs: 5000 });
    assert.equal(r.sent, 20_000);
    assert.equal(r.lost, 0, `lost ${r.lost} of 20000`);
    assert.equal(r.answered, 20_000);
    t.diagnostic(`20000 queries in ${r.elapsedMs} ms (${Math.round(r.qps)} q/s)`);
    const st = u.stats();
    assert.ok(st.tx > 0 && st.rx > 0);
    await waitFor(() => u.stats().active === 0, 'sessions to end', 15_000);
  });
});
