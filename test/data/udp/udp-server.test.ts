/**
 * The UDP data path through the real server manager, with tagged echo backends on loopback:
 * GoBetween's session semantics (data-plane §7.2-§7.4) and each §7.6 fix. A test of a fix says
 * what GoBetween does instead (so it fails on GoBetween's behaviour).
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import { decodeServer } from '../../../src/config/decode.js';
import { startAppFromJson } from '../../helpers/app.js';
import { UdpClient, freeUdpPort, sleep, startUdpApp, udpBackend, waitFor, type UdpApp, type UdpBackend } from './helpers.js';

interface Fixture {
  readonly bs: UdpBackend[];
  readonly u: UdpApp;
  client(type?: 'udp4' | 'udp6'): Promise<UdpClient>;
  /** Sends and returns the tag (`b0`, `b1`) of the backend that answered, or 'none'. */
  ask(c: UdpClient, text: string, ms?: number): Promise<string>;
}

async function withServer(
  backends: number,
  backendOpts: Parameters<typeof udpBackend>[1],
  server: Record<string, unknown>,
  fn: (f: Fixture) => Promise<void>,
): Promise<void> {
  const bs: UdpBackend[] = [];
  const clients: UdpClient[] = [];
  let u: UdpApp | undefined;
  try {
    for (let i = 0; i < backends; i++) bs.push(await udpBackend(`b${i}`, backendOpts));
    u = await startUdpApp(bs, server);
    const app = u;
    await fn({
      bs,
      u: app,
      async client(type) {
        const c = await UdpClient.open(type);
        clients.push(c);
        return c;
      },
      async ask(c, text, ms) {
        const r = await c.ask(app.port, text, ms);
        return r === null ? 'none' : r.slice(0, r.indexOf(':'));
      },
    });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await u?.close();
    await Promise.all(bs.map((b) => b.close()));
  }
}

test('sessions: one client port stays on its backend; new ports are elected round-robin; stats count sessions and bytes', async () => {
  await withServer(2, {}, { balance: 'roundrobin', client_idle_timeout: '10s' }, async (f) => {
    const c1 = await f.client();
    const c2 = await f.client();
    const first = await f.ask(c1, 'q0');
    assert.notEqual(first, 'none');
    for (let i = 1; i < 5; i++) assert.equal(await f.ask(c1, `q${i}`), first, 'same port, same backend');
    const second = await f.ask(c2, 'x');
    assert.notEqual(second, first, 'a new session is a new round-robin election');
    const st = f.u.stats();
    assert.equal(st.active, 2);
    assert.equal(st.tx, 5 * 2 + 1);
    assert.equal(st.rx, [...c1.replies, ...c2.replies].reduce((n, r) => n + r.length, 0));
    assert.deepEqual(Object.values(st.totals).sort(), [1, 1]);
    // Replies come from the address the clients talked to (the listening socket).
    assert.deepEqual(new Set([...c1.sources, ...c2.sources]), new Set([f.u.port]));
  });
});

test('a wildcard bind is dual-stack: IPv4 and IPv6 clients both get their replies', async () => {
  await withServer(1, {}, { bind: ':PORT', client_idle_timeout: '10s' }, async (f) => {
    assert.equal(await f.ask(await f.client('udp4'), 'v4'), 'b0');
    assert.equal(await f.ask(await f.client('udp6'), 'v6'), 'b0');
    assert.equal(f.u.stats().active, 2);
  });
});

test('client_idle_timeout ends idle sessions (stats back to 0)', async () => {
  await withServer(1, {}, { client_idle_timeout: '300ms' }, async (f) => {
    const c = await f.client();
    assert.equal(await f.ask(c, 'a'), 'b0');
    assert.equal(f.u.stats().active, 1);
    await waitFor(() => f.u.stats().active === 0, 'the idle session to expire', 5000);
    // The next datagram opens a new session.
    assert.equal(await f.ask(c, 'b'), 'b0');
    assert.equal(f.u.stats().totals[String(f.bs[0]?.port)], 2);
  });
});

test('backend_idle_timeout ends a session whose backend stays silent, whatever the client does', async () => {
  await withServer(1, { replies: 0 }, { backend_idle_timeout: '200ms' }, async (f) => {
    const c = await f.client();
    const end = Date.now() + 900;
    while (Date.now() < end) {
      c.send(f.u.port, 'ping');
      await sleep(40);
    }
    await waitFor(() => (f.u.stats().totals[String(f.bs[0]?.port)] ?? 0) >= 2, 'a second session after the backend idle timeout');
    await waitFor(() => f.u.stats().active === 0, 'the last session to expire', 5000);
  });
});

test('fix: max_responses = 1 answers both parallel queries from one port (GoBetween loses the second)', async () => {
  await withServer(1, { delayMs: 100 }, { udp: { max_responses: 1 } }, async (f) => {
    const c = await f.client();
    c.send(f.u.port, 'A');
    c.send(f.u.port, 'AAAA');
    await waitFor(() => c.replies.length === 2, 'both answers');
    assert.deepEqual([...c.replies].sort(), ['b0:A', 'b0:AAAA']);
    // requests x max_responses answers received: the session ended.
    await waitFor(() => f.u.stats().active === 0, 'the session to end');
  });
});

test('fix (#167): max_requests = 1 with max_responses = 1 relays the answer, one election per request (GoBetween relays nothing)', async () => {
  await withServer(2, {}, { balance: 'roundrobin', udp: { max_requests: 1, max_responses: 1 } }, async (f) => {
    const c = await f.client();
    const tags = [];
    for (let i = 0; i < 4; i++) tags.push(await f.ask(c, `q${i}`));
    assert.ok(!tags.includes('none'), `every request answered: ${tags.join(',')}`);
    assert.deepEqual([tags[0], tags[1]].sort(), ['b0', 'b1'], 'each request elected anew');
    assert.equal(tags[0], tags[2]);
    await waitFor(() => f.u.stats().active === 0, 'every session to end after its answer');
    assert.deepEqual(Object.values(f.u.stats().totals), [2, 2]);
  });
});

test('compat: max_requests = 1 with max_responses = 0 is fire-and-forget: per-datagram election, no reply relayed, no session', async () => {
  await withServer(2, {}, { balance: 'roundrobin', udp: { max_requests: 1 } }, async (f) => {
    const c = await f.client();
    for (let i = 0; i < 4; i++) c.send(f.u.port, `d${i}`);
    await waitFor(() => (f.bs[0]?.received.length ?? 0) + (f.bs[1]?.received.length ?? 0) === 4, 'the backends to get 4 datagrams');
    assert.equal(f.bs[0]?.received.length, 2);
    assert.equal(f.bs[1]?.received.length, 2);
    // One pooled socket per backend: every datagram to a backend comes from the same port.
    assert.equal(new Set(f.bs[0]?.received.map((r) => r.port)).size, 1);
    await sleep(200);
    assert.deepEqual(c.replies, [], 'responses are not relayed');
    const st = f.u.stats();
    assert.equal(st.active, 0);
    assert.equal(st.tx, 8);
  });
});

test('fix: max_requests = 2 is enforced: the third datagram from one port starts a new session (GoBetween keeps forwarding)', async () => {
  await withServer(2, {}, { balance: 'roundrobin', client_idle_timeout: '10s', udp: { max_requests: 2 } }, async (f) => {
    const c = await f.client();
    const tags = [];
    for (let i = 0; i < 4; i++) tags.push(await f.ask(c, `q${i}`));
    assert.equal(tags[0], tags[1]);
    assert.equal(tags[2], tags[3]);
    assert.notEqual(tags[1], tags[2], 'the third request went to a new session (round-robin: other backend)');
    assert.deepEqual(Object.values(f.u.stats().totals), [1, 1]);
    // The full session waits (for responses or its idle timeout) next to the new one.
    assert.equal(f.u.stats().active, 2);
  });
});

test('max_requests = 2 with max_responses = 1: the session ends after two requests and two answers', async () => {
  await withServer(1, {}, { udp: { max_requests: 2, max_responses: 1 } }, async (f) => {
    const c = await f.client();
    assert.equal(await f.ask(c, 'a'), 'b0');
    assert.equal(f.u.stats().active, 1, 'one answer to one of two requests: the session stays');
    assert.equal(await f.ask(c, 'b'), 'b0');
    await waitFor(() => f.u.stats().active === 0, 'the session to end');
  });
});

test('udp.max_sessions caps the table: the least recently active session is evicted', async () => {
  await withServer(1, {}, { client_idle_timeout: '10s', udp: { max_sessions: 3 } }, async (f) => {
    const cs = [];
    for (let i = 0; i < 5; i++) {
      const c = await f.client();
      cs.push(c);
      assert.equal(await f.ask(c, `c${i}`), 'b0');
    }
    assert.equal(f.u.stats().active, 3);
    const port = String(f.bs[0]?.port);
    assert.equal(f.u.stats().totals[port], 5);
    // The first client's session was evicted: its next datagram opens a new one.
    assert.equal(await f.ask(cs[0] as UdpClient, 'again'), 'b0');
    assert.equal(f.u.stats().totals[port], 6);
    assert.equal(f.u.stats().active, 3);
  });
});

test('access rules apply to every datagram: denied clients are dropped silently', async () => {
  await withServer(1, {}, { client_idle_timeout: '10s', access: { default: 'deny', rules: ['allow ::1'] } }, async (f) => {
    const c = await f.client();
    assert.equal(await f.ask(c, 'x', 300), 'none');
    assert.equal(f.bs[0]?.received.length, 0);
    assert.equal(f.u.stats().active, 0);
  });
  await withServer(1, {}, { client_idle_timeout: '10s', access: { default: 'deny', rules: ['allow 127.0.0.0/8'] } }, async (f) => {
    const c = await f.client();
    assert.equal(await f.ask(c, 'x'), 'b0');
  });
});

test('a backend that is unreachable (ICMP port unreachable) ends the session; the server keeps serving', async () => {
  await withServer(1, {}, { client_idle_timeout: '10s' }, async (f) => {
    const c = await f.client();
    assert.equal(await f.ask(c, 'x'), 'b0');
    await f.bs[0]?.close();
    // The ICMP error surfaces as ECONNREFUSED on the session's socket (as GoBetween's read error).
    // A send that follows before it is read consumes it instead (the datagram is lost and the
    // session stays, as in GoBetween), so one datagram only.
    c.send(f.u.port, 'y');
    await waitFor(() => f.u.stats().active === 0, 'the failed session to end');
    // Other clients are unaffected (a new session, which fails the same way).
    const c2 = await f.client();
    assert.equal(await f.ask(c2, 'w', 200), 'none');
  });
});

test('probe health checks over udp mark the backends; only live ones are elected', async () => {
  const hc = { kind: 'probe', interval: '100ms', timeout: '500ms', passes: 1, fails: 1, initial_status: 'unhealthy', probe_protocol: 'udp', probe_send: 'hc', probe_recv: 'b0:hc' };
  await withServer(2, {}, { balance: 'roundrobin', client_idle_timeout: '10s', healthcheck: hc }, async (f) => {
    // b0 answers `b0:hc` (healthy); b1 answers `b1:hc` (stays unhealthy).
    const c = await f.client();
    let tag = 'none';
    const end = Date.now() + 10_000;
    while (tag === 'none' && Date.now() < end) tag = await f.ask(c, 'q', 200);
    assert.equal(tag, 'b0');
    for (let i = 0; i < 3; i++) assert.equal(await f.ask(await f.client(), 'q'), 'b0', 'b1 is never elected');
  });
});

test('a busy udp port fails the start with GoBetween\'s text', async () => {
  const busy = dgram.createSocket('udp4');
  await new Promise<void>((r) => busy.bind(0, '127.0.0.1', r));
  const port = busy.address().port;
  try {
    const config = { servers: { u: { bind: `127.0.0.1:${port}`, protocol: 'udp', client_idle_timeout: '1s', discovery: { kind: 'static', static_list: ['127.0.0.1:9'] } } } };
    await assert.rejects(startAppFromJson(JSON.stringify(config), '/t.json'), (err: unknown) => {
      assert.match(String(err), new RegExp(`Could not start listening UDP: Failed to create listening udp socket: listen udp 127\\.0\\.0\\.1:${port}: bind: address already in use`));
      return true;
    });
  } finally {
    busy.close();
  }
});

test('a udp server created and deleted at run time (REST API path): sessions closed, port released', async () => {
  await withServer(1, {}, { client_idle_timeout: '10s' }, async (f) => {
    const port = await freeUdpPort();
    const body = decodeServer({
      bind: `127.0.0.1:${port}`, protocol: 'udp', udp: { max_responses: 0 }, client_idle_timeout: '10s',
      discovery: { kind: 'static', static_list: [`127.0.0.1:${f.bs[0]?.port ?? 0}`] },
    }).server;
    await f.u.app.manager.create('v', body);
    const c = await f.client();
    const r = await c.ask(port, 'hi');
    assert.equal(r, 'b0:hi');
    assert.equal(f.u.app.manager.stats('v')?.active_connections, 1);
    await f.u.app.manager.delete('v');
    assert.equal(f.u.app.manager.stats('v'), null);
    // The port is free again.
    const again = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.bind(port, '127.0.0.1', resolve);
    });
    again.close();
  });
});
