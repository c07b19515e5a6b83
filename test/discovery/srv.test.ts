import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Answer } from 'dns-packet';
import { ConfigError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { encodeQuery } from '../../src/discovery/dns-client.js';
import { compileDiscovery, createDiscoveryRegistry, startDiscovery } from '../../src/discovery/index.js';
import { fetchSrv, parseSrv, type SrvSettings } from '../../src/discovery/srv.js';
import type { FetchContext } from '../../src/discovery/types.js';
import { a, aaaa, type Handler, type Reply, srv, startDnsServer, type TestDnsServer } from './dns-server.js';
import { captureLogger, discoveryWire, keys, recorder, sleep, srvGroup, waitFor } from './helpers.js';

const NAME = '_web._tcp.svc.test';
let handler: Handler = () => ({});
let server: TestDnsServer;

before(async () => {
  server = await startDnsServer((q, p) => handler(q, p));
});
after(async () => {
  await server.close();
});

function settings(protocol: 'udp' | 'tcp' = 'udp', host = '127.0.0.1'): SrvSettings {
  return { serverHost: host, serverPort: server.port, pattern: `${NAME}.`, protocol };
}

function ctx(timeoutMs = 2000): FetchContext & { lines: { level: number; msg: string }[] } {
  const cap = captureLogger();
  return { signal: AbortSignal.timeout(timeoutMs), log: cap.log, serverName: 't', lines: cap.lines };
}

/** Answers by question type: SRV -> srvReply; A/AAAA -> the map's records for the name. */
function zone(srvReply: Reply, addrs: Record<string, Answer[]> = {}): Handler {
  return (q) => {
    const question = q.questions?.[0];
    if (question === undefined) return { rcode: 1 };
    if (question.type === 'SRV') return srvReply;
    const recs = (addrs[question.name] ?? []).filter((r) => r.type === question.type);
    return { answers: recs };
  };
}

test('additional-section path: addresses, ports, priority, weight and sni; one query only', async () => {
  handler = zone({
    answers: [srv(NAME, 'a.svc.test', 8080, 10, 20), srv(NAME, 'b.svc.test', 8081, 5, 0), srv(NAME, 'c.svc.test', 8082)],
    additionals: [a('a.svc.test', '10.0.0.1'), aaaa('b.svc.test', '2001:db8::2'), a('c.svc.test', '10.0.0.3'), a('C.SVC.TEST', '10.0.0.4')],
  });
  const before = server.queries.length;
  const specs = await fetchSrv(settings(), ctx());
  assert.deepEqual(specs, [
    { host: '10.0.0.1', port: '8080', priority: 10, weight: 20, maxConnections: 0, sni: 'a.svc.test' },
    { host: '[2001:db8::2]', port: '8081', priority: 5, weight: 0, maxConnections: 0, sni: 'b.svc.test' },
    // the last A record of a name wins (names compared case-insensitively)
    { host: '10.0.0.4', port: '8082', priority: 1, weight: 1, maxConnections: 0, sni: 'c.svc.test' },
  ]);
  const qs = server.queries.slice(before);
  assert.equal(qs.length, 1);
  const q = qs[0]?.q;
  assert.equal(qs[0]?.proto, 'udp');
  assert.equal(q?.questions?.[0]?.type, 'SRV');
  assert.equal(q?.questions?.[0]?.name, NAME);
  assert.equal(q?.flag_rd, true);
  const opt = q?.additionals?.find((r) => r.type === 'OPT');
  assert.ok(opt !== undefined && opt.type === 'OPT');
  assert.equal(opt.udpPayloadSize, 4096);
  assert.equal(opt.flag_do, false, 'no DNSSEC OK bit');
});

test('fallback path: A then AAAA queries to the same server; targets without address skipped', async () => {
  handler = zone(
    { answers: [srv(NAME, 'v4.svc.test', 1), srv(NAME, 'v6.svc.test', 2), srv(NAME, 'none.svc.test', 3), srv(NAME, 'v4.svc.test', 4)] },
    { 'v4.svc.test': [a('v4.svc.test', '192.0.2.4')], 'v6.svc.test': [aaaa('v6.svc.test', '2001:db8::6')] },
  );
  const before = server.queries.length;
  const c = ctx();
  const specs = await fetchSrv(settings(), c);
  assert.deepEqual(specs.map((s) => `${s.host}:${s.port} ${s.sni}`), [
    '192.0.2.4:1 v4.svc.test', '[2001:db8::6]:2 v6.svc.test', '192.0.2.4:4 v4.svc.test',
  ]);
  const asked = server.queries.slice(before).map((x) => `${x.q.questions?.[0]?.type} ${x.q.questions?.[0]?.name}`);
  assert.equal(asked[0], `SRV ${NAME}`);
  assert.deepEqual(asked.slice(1).sort(), [
    'A none.svc.test', 'A v4.svc.test', 'A v6.svc.test', 'AAAA none.svc.test', 'AAAA v6.svc.test',
  ], 'one A query per distinct target, AAAA only when A gave nothing');
  assert.ok(asked.indexOf('A v6.svc.test') < asked.indexOf('AAAA v6.svc.test'), 'A before AAAA');
  assert.ok(c.lines.some((l) => l.level === 40 && /none\.svc\.test/.test(l.msg)));
});

test('truncated UDP answer is asked again over TCP', async () => {
  handler = (q, proto) => {
    if (q.questions?.[0]?.type !== 'SRV') return { answers: [] };
    if (proto === 'udp') return { truncated: true };
    return { answers: [srv(NAME, 't.svc.test', 7000)], additionals: [a('t.svc.test', '10.1.1.1')] };
  };
  const before = server.queries.length;
  const specs = await fetchSrv(settings(), ctx());
  assert.deepEqual(keys(specs), ['10.1.1.1:7000']);
  assert.deepEqual(server.queries.slice(before).map((x) => x.proto), ['udp', 'tcp']);
});

test('srv_dns_protocol tcp: every query over TCP (length-framed), fallback queries too', async () => {
  handler = zone({ answers: [srv(NAME, 'x.svc.test', 9000, 0, 10)] }, { 'x.svc.test': [a('x.svc.test', '10.9.9.9')] });
  const before = server.queries.length;
  const specs = await fetchSrv(settings('tcp'), ctx());
  assert.deepEqual(keys(specs), ['10.9.9.9:9000']);
  assert.deepEqual(server.queries.slice(before).map((x) => x.proto), ['tcp', 'tcp']);
});

test('responses with a wrong ID are ignored, the right one is used (UDP and TCP)', async () => {
  for (const proto of ['udp', 'tcp'] as const) {
    handler = (q) => [
      { id: ((q.id ?? 0) + 1) & 0xffff, answers: [srv(NAME, 'evil.test', 1)], additionals: [a('evil.test', '6.6.6.6')] },
      { answers: [srv(NAME, 'good.test', 2)], additionals: [a('good.test', '10.2.2.2')] },
    ];
    const specs = await fetchSrv(settings(proto), ctx());
    assert.deepEqual(keys(specs), ['10.2.2.2:2'], proto);
  }
});

test('rcode: SERVFAIL and REFUSED are errors, NXDOMAIN and an empty answer give an empty list', async () => {
  handler = () => ({ rcode: 2 });
  await assert.rejects(fetchSrv(settings(), ctx()), /SERVFAIL/);
  handler = () => ({ rcode: 5 });
  await assert.rejects(fetchSrv(settings('tcp'), ctx()), /REFUSED/);
  handler = () => ({ rcode: 3 });
  assert.deepEqual(await fetchSrv(settings(), ctx()), []);
  handler = () => ({ answers: [] });
  const c = ctx();
  assert.deepEqual(await fetchSrv(settings(), c), []);
  assert.ok(c.lines.some((l) => l.level === 40 && /no SRV records/.test(l.msg)));
});

test('non-SRV records in the answer (RRSIG, CNAME) are ignored', async () => {
  const rrsig: Answer = {
    type: 'RRSIG', name: NAME, ttl: 60, class: 'IN',
    data: { typeCovered: 'SRV', algorithm: 13, labels: 3, originalTTL: 60, expiration: 2000000000, inception: 1700000000, keyTag: 1, signersName: 'svc.test', signature: Buffer.alloc(64, 1) },
  };
  const cname: Answer = { type: 'CNAME', name: NAME, ttl: 60, class: 'IN', data: 'other.svc.test' };
  handler = zone({ answers: [cname, srv(NAME, 'r.svc.test', 443), rrsig], additionals: [a('r.svc.test', '10.3.3.3')] });
  assert.deepEqual(keys(await fetchSrv(settings(), ctx())), ['10.3.3.3:443']);
});

test('a server that never answers: the fetch is aborted by its signal', async () => {
  handler = () => 'drop';
  const t0 = Date.now();
  await assert.rejects(fetchSrv(settings(), ctx(150)), (err: Error) => err.name === 'TimeoutError' || /timeout|abort/i.test(err.message));
  assert.ok(Date.now() - t0 < 1500);
  await assert.rejects(fetchSrv(settings('tcp'), ctx(150)));
});

test('a server that never answers: runner times out, then keeplast keeps and setempty empties', async () => {
  const registry = createDiscoveryRegistry();
  for (const failpolicy of ['keeplast', 'setempty'] as const) {
    let drop = false;
    handler = (q) => {
      if (drop) return 'drop';
      return q.questions?.[0]?.type === 'SRV' ? { answers: [srv(NAME, 'k.svc.test', 80)], additionals: [a('k.svc.test', '10.4.4.4')] } : {};
    };
    const compiled = compileDiscovery(discoveryWire('srv', {
      failpolicy, interval: '50ms', timeout: '100ms',
      srv: srvGroup({ srv_lookup_server: `127.0.0.1:${server.port}`, srv_lookup_pattern: NAME }),
    }), 'servers.x.discovery', registry);
    assert.equal(compiled.timeoutMs, 100);
    const rec = recorder();
    const cap = captureLogger();
    const h = startDiscovery(compiled, { serverName: 'x', log: cap.log, onResult: rec.onResult, retryWaitMs: 30 });
    try {
      await waitFor(() => rec.results.length >= 1);
      assert.deepEqual(keys(rec.last()), ['10.4.4.4:80']);
      drop = true;
      await waitFor(() => cap.lines.some((l) => l.level === 50 && /srv error timeout after 100ms retrying in 30ms/.test(l.msg)), 3000, 'timeout error');
      await sleep(50);
      if (failpolicy === 'keeplast') assert.deepEqual(keys(rec.last()), ['10.4.4.4:80']);
      else assert.deepEqual(rec.last(), []);
    } finally {
      h.stop();
    }
  }
});

test('lookup server given as a host name is resolved; unresolvable names are fetch errors', async () => {
  handler = zone({ answers: [srv(NAME, 'h.svc.test', 1)], additionals: [a('h.svc.test', '10.5.5.5')] });
  const s = { ...settings(), serverHost: 'dns.internal.test' };
  const specs = await fetchSrv(s, ctx(), async (h) => {
    assert.equal(h, 'dns.internal.test');
    return '127.0.0.1';
  });
  assert.deepEqual(keys(specs), ['10.5.5.5:1']);
  await assert.rejects(fetchSrv(s, ctx(), async () => { throw new Error('ENOTFOUND'); }), /cannot resolve srv_lookup_server dns\.internal\.test/);
});

test('parse: required keys, protocol, port, fully qualified pattern', () => {
  const p = 'servers.web.discovery';
  const parse = (g: Parameters<typeof srvGroup>[0]) => parseSrv(discoveryWire('srv', { srv: srvGroup(g) }), p);
  assert.throws(() => parseSrv(discoveryWire('srv'), p), (e: ConfigError) => e.path === `${p}.srv_lookup_server` && e.message === 'required');
  assert.throws(() => parse({ srv_lookup_pattern: 'x.' }), (e: ConfigError) => e.path === `${p}.srv_lookup_server`);
  assert.throws(() => parse({ srv_lookup_server: '1.2.3.4:53' }), (e: ConfigError) => e.path === `${p}.srv_lookup_pattern`);
  assert.throws(() => parse({ srv_lookup_server: '1.2.3.4:53', srv_lookup_pattern: 'x.', srv_dns_protocol: 'sctp' }),
    (e: ConfigError) => e.message === 'Not supported srv_dns_protocol sctp');
  assert.throws(() => parse({ srv_lookup_server: '1.2.3.4:99999', srv_lookup_pattern: 'x.' }), ConfigError);
  assert.deepEqual(parse({ srv_lookup_server: '1.2.3.4:5300', srv_lookup_pattern: 'a.b' }),
    { serverHost: '1.2.3.4', serverPort: 5300, pattern: 'a.b.', protocol: 'udp' });
  assert.deepEqual(parse({ srv_lookup_server: '[::1]:53', srv_lookup_pattern: 'a.b.', srv_dns_protocol: 'tcp' }),
    { serverHost: '::1', serverPort: 53, pattern: 'a.b.', protocol: 'tcp' });
  assert.equal(parse({ srv_lookup_server: 'dns.local', srv_lookup_pattern: 'a.' }).serverPort, 53);
});

test('query encoding: random IDs, RD set, OPT 4096 without DO', () => {
  const q = encodeQuery(0x1234, 'a.b.', 'SRV');
  assert.equal(q.readUInt16BE(0), 0x1234);
  assert.equal(q.readUInt16BE(2) & 0x0100, 0x0100, 'RD');
  assert.equal(q.readUInt16BE(10), 1, 'one additional (OPT)');
  void silentLogger;
});
