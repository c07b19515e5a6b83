/**
 * Interop: SRV discovery against a real dnsmasq on a loopback port. dnsmasq puts the A/AAAA records
 * of targets it knows from hosts files into the additional section, and does not for targets
 * given with --address, so both address paths are exercised.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BackendPool } from '../../src/control/backend-pool.js';
import { compileDiscovery, createDiscoveryRegistry, startDiscovery } from '../../src/discovery/index.js';
import { fetchSrv } from '../../src/discovery/srv.js';
import { DNSMASQ, Dnsmasq, freeDnsPort } from './dnsmasq.js';
import { captureLogger, discoveryWire, keys, recorder, sleep, srvGroup, waitFor } from './helpers.js';

const skip = DNSMASQ === undefined ? 'dnsmasq binary not installed (Debian package dnsmasq-base)' : false;
const NAME = '_web._tcp.svc.test.';

const BASE_RECORDS = [
  '--srv-host=_web._tcp.svc.test,a.svc.test,8080,10,20',
  '--srv-host=_web._tcp.svc.test,b.svc.test,8081,10,30',
  '--srv-host=_web._tcp.svc.test,c.svc.test,8082,20,5',
  '--address=/c.svc.test/127.0.0.13', // no additional record: found through a separate A query
];

function ctx() {
  const cap = captureLogger();
  return { signal: AbortSignal.timeout(3000), log: cap.log, serverName: 't' };
}

async function withDnsmasq(hosts: string, args: string[], fn: (d: Dnsmasq) => Promise<void>): Promise<void> {
  // A port can still be taken between the check and dnsmasq's bind on a busy machine: retry.
  for (let attempt = 1; ; attempt++) {
    const d = new Dnsmasq(await freeDnsPort());
    d.writeHosts(hosts);
    try {
      try {
        await d.start(args);
      } catch (err) {
        if (attempt < 5 && /Address already in use/.test(String(err))) continue;
        throw err;
      }
      await fn(d);
      return;
    } finally {
      await d.dispose();
    }
  }
}

test('dnsmasq: SRV over UDP and over TCP gives host:port/priority/weight/sni (additional + A fallback)', { skip }, async () => {
  await withDnsmasq('127.0.0.11 a.svc.test\n::1 b.svc.test\n', BASE_RECORDS, async (d) => {
    for (const protocol of ['udp', 'tcp'] as const) {
      const specs = await fetchSrv({ serverHost: '127.0.0.1', serverPort: d.port, pattern: NAME, protocol }, ctx());
      const sorted = [...specs].sort((x, y) => x.port.localeCompare(y.port));
      assert.deepEqual(sorted, [
        { host: '127.0.0.11', port: '8080', priority: 10, weight: 20, maxConnections: 0, sni: 'a.svc.test' },
        { host: '[::1]', port: '8081', priority: 10, weight: 30, maxConnections: 0, sni: 'b.svc.test' },
        { host: '127.0.0.13', port: '8082', priority: 20, weight: 5, maxConnections: 0, sni: 'c.svc.test' },
      ], protocol);
    }
  });
});

test('dnsmasq: record changes (SIGHUP with a new hosts file, restart with new SRV records) are picked up within interval', { skip }, async () => {
  await withDnsmasq('127.0.0.11 a.svc.test\n127.0.0.12 b.svc.test\n', BASE_RECORDS, async (d) => {
    const compiled = compileDiscovery(discoveryWire('srv', {
      interval: '200ms', timeout: '1s',
      srv: srvGroup({ srv_lookup_server: `127.0.0.1:${d.port}`, srv_lookup_pattern: NAME, srv_dns_protocol: 'tcp' }),
    }), 'servers.gw.discovery', createDiscoveryRegistry());
    const pool = new BackendPool({ initialLive: true });
    const rec = recorder();
    const h = startDiscovery(compiled, {
      serverName: 'gw', log: captureLogger().log,
      onResult: (s) => { rec.onResult(s); pool.setDiscovered(s); },
    });
    try {
      await waitFor(() => rec.results.length >= 1);
      assert.deepEqual(keys(rec.last()), ['127.0.0.11:8080', '127.0.0.12:8081', '127.0.0.13:8082']);
      assert.deepEqual(pool.eligible.map((b) => b.key), ['127.0.0.11:8080', '127.0.0.12:8081', '127.0.0.13:8082']);

      d.writeHosts('127.0.0.11 a.svc.test\n127.0.0.42 b.svc.test\n');
      d.reload();
      const t0 = Date.now();
      await waitFor(() => keys(rec.last()).includes('127.0.0.42:8081'), 3000, 'SIGHUP change');
      assert.ok(Date.now() - t0 < 1500, 'within a few intervals');
      assert.deepEqual(pool.eligible.map((b) => b.key), ['127.0.0.11:8080', '127.0.0.13:8082', '127.0.0.42:8081']);

      await d.stop();
      await d.start(['--srv-host=_web._tcp.svc.test,a.svc.test,9090,1,1']);
      await waitFor(() => keys(rec.last()).join() === '127.0.0.11:9090', 2000, 'restart change');
      assert.deepEqual(pool.eligible.map((b) => b.key), ['127.0.0.11:9090']);
    } finally {
      h.stop();
    }
  });
});

test('dnsmasq stopped: keeplast keeps the last list, setempty empties it', { skip }, async () => {
  for (const failpolicy of ['keeplast', 'setempty'] as const) {
    for (const protocol of ['udp', 'tcp'] as const) {
      await withDnsmasq('127.0.0.11 a.svc.test\n', ['--srv-host=_web._tcp.svc.test,a.svc.test,8080'], async (d) => {
        const compiled = compileDiscovery(discoveryWire('srv', {
          failpolicy, interval: '100ms', timeout: '300ms',
          srv: srvGroup({ srv_lookup_server: `127.0.0.1:${d.port}`, srv_lookup_pattern: NAME, srv_dns_protocol: protocol }),
        }), 'servers.gw.discovery', createDiscoveryRegistry());
        const rec = recorder();
        const cap = captureLogger();
        const h = startDiscovery(compiled, { serverName: 'gw', log: cap.log, onResult: rec.onResult, retryWaitMs: 100 });
        try {
          await waitFor(() => rec.results.length >= 1);
          assert.deepEqual(keys(rec.last()), ['127.0.0.11:8080']);
          await d.stop();
          await waitFor(() => cap.lines.some((l) => l.level === 50 && /^srv error /.test(l.msg)), 3000, `${failpolicy}/${protocol} error`);
          await sleep(150);
          if (failpolicy === 'keeplast') assert.deepEqual(keys(rec.last()), ['127.0.0.11:8080'], protocol);
          else assert.deepEqual(rec.last(), [], protocol);
        } finally {
          h.stop();
        }
      });
    }
  }
});
