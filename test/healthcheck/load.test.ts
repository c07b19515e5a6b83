import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backendSpec } from '../../src/core/backend.js';
import { silentLogger } from '../../src/core/log.js';
import { BackendPool } from '../../src/control/backend-pool.js';
import { compileHealthcheck, createHealthcheckRegistry, startHealthchecks } from '../../src/healthcheck/index.js';
import { closeServer, hcWire, listenTcp, recording, sleep } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

function resources(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

const N = 200;
const DURATION_MS = Number(process.env['HC_LOAD_MS'] ?? 10_000);

test(`${N} backends pinged every 100 ms for ${DURATION_MS} ms: modest CPU, no leaked timer or socket`, { timeout: DURATION_MS + 30_000 }, async () => {
  const backends = await Promise.all(Array.from({ length: N }, () => listenTcp()));
  try {
    const pool = new BackendPool({ initialLive: true });
    pool.setDiscovered(backends.map((b) => backendSpec('127.0.0.1', String(b.port))));
    const rec = recording(compileHealthcheck(hcWire({ interval: '100ms', timeout: '90ms', fails: 5 }), 'servers.load.healthcheck', createHealthcheckRegistry(), 'tcp'));
    await sleep(50);
    const before = resources();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const hc = startHealthchecks(rec.compiled, { serverName: 'load', pool, log: silentLogger });
    await sleep(DURATION_MS);
    hc.stop();
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    // The last accepted sockets close asynchronously: wait until the handle counts are back to
    // what they were (bounded), not a fixed time; the assertions below report any leak.
    const kinds = ['Timeout', 'TCPSocketWrap', 'TCPWRAP', 'TCPServerWrap'];
    const settled = (): boolean => {
      const now = resources();
      return kinds.every((k) => (now.get(k) ?? 0) === (before.get(k) ?? 0));
    };
    await waitFor(settled, 10_000, 'handles back to their count before the checks').catch(() => undefined);
    const afterStop = resources();

    const expected = (N * DURATION_MS) / 100;
    const healthy = rec.results.filter((r) => r.result.status === 'healthy').length;
    const ratio = cpuMs / wall;
    console.log(`checks: ${rec.results.length} (expected ~${expected}), healthy: ${healthy}, cpu: ${cpuMs.toFixed(0)} ms over ${wall.toFixed(0)} ms (${(ratio * 100).toFixed(1)}% of a core)`);
    assert.ok(rec.results.length >= expected * 0.5, `checks ran on schedule (slots are skipped when the loop lags) (${rec.results.length})`);
    assert.ok(rec.results.length <= expected * 1.05 + N, 'no extra checks');
    assert.ok(healthy >= rec.results.length * 0.98, 'checks succeed');
    assert.equal(rec.maxInFlight(), 1, 'one check in flight per backend');
    assert.equal(pool.eligible.length, N, 'no backend flapped to dead');
    // Generous bound: the whole loop (both ends of 2 000 TCP connections a second, in this one
    // process) must stay well below one core.
    assert.ok(ratio < 0.6, `CPU ${(ratio * 100).toFixed(1)}% of a core`);
    for (const kind of kinds) {
      assert.equal(afterStop.get(kind) ?? 0, before.get(kind) ?? 0, `${kind} handles before/after`);
    }
  } finally {
    await Promise.all(backends.map((b) => closeServer(b.server)));
  }
});
