import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { profileSeconds, startProfiler, type ProfilerServer } from '../../src/api/profiler.js';
import { silentLogger } from '../../src/core/log.js';
import { req } from './http.js';

describe('profiler', () => {
  let prof: ProfilerServer;
  let port = 0;

  before(async () => {
    prof = await startProfiler({ bind: '127.0.0.1:0', log: silentLogger });
    port = prof.address()?.port ?? 0;
    assert.ok(port > 0);
  });
  after(() => prof.close());

  it('parses seconds like pprof, bounded to 60', () => {
    assert.equal(profileSeconds(null), 30);
    assert.equal(profileSeconds('abc'), 30);
    assert.equal(profileSeconds('0'), 30);
    assert.equal(profileSeconds('5'), 5);
    assert.equal(profileSeconds('60'), 60);
    assert.equal(profileSeconds('61'), undefined);
  });

  it('returns a .cpuprofile for N seconds; one profile at a time', async () => {
    const started = Date.now();
    const pending = req(port, '/debug/pprof/profile?seconds=1', { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 200));
    const busy = await req(port, '/debug/pprof/profile?seconds=1');
    assert.equal(busy.status, 500);
    const r = await pending;
    assert.ok(Date.now() - started >= 900);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-disposition']), /\.cpuprofile"/);
    const profile = JSON.parse(r.body) as { nodes: unknown[]; startTime: number; endTime: number; samples: unknown[]; timeDeltas: unknown[] };
    assert.ok(Array.isArray(profile.nodes) && profile.nodes.length > 0);
    assert.ok(Array.isArray(profile.samples));
    assert.ok(Array.isArray(profile.timeDeltas));
    assert.ok(profile.endTime > profile.startTime);
  });

  it('refuses durations over the cap', async () => {
    const r = await req(port, '/debug/pprof/profile?seconds=3600');
    assert.equal(r.status, 400);
  });

  it('returns a .heapsnapshot', async () => {
    const r = await req(port, '/debug/pprof/heap', { timeoutMs: 60_000 });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-disposition']), /\.heapsnapshot"/);
    const snap = JSON.parse(r.body) as { snapshot: { meta: unknown; node_count: number }; nodes: unknown[]; edges: unknown[]; strings: unknown[] };
    assert.ok(snap.snapshot.meta !== undefined);
    assert.ok(snap.nodes.length > 0 && snap.edges.length > 0 && snap.strings.length > 0);
  });

  it('404 for everything else, including /metrics and the Go index', async () => {
    for (const path of ['/', '/metrics', '/debug/pprof/', '/debug/pprof/goroutine']) {
      const r = await req(port, path);
      assert.equal(r.status, 404, path);
    }
    assert.equal((await req(port, '/debug/pprof/heap', { method: 'POST', body: '' })).status, 404);
  });

  it('close() ends a running profile and the listener', async () => {
    const other = await startProfiler({ bind: '127.0.0.1:0', log: silentLogger });
    const p = other.address()?.port ?? 0;
    const pending = req(p, '/debug/pprof/profile?seconds=30', { timeoutMs: 10_000 }).then(
      (r) => r.status,
      () => 'closed',
    );
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    await other.close();
    await pending;
    assert.ok(Date.now() - t0 < 5000);
    await assert.rejects(req(p, '/debug/pprof/heap', { timeoutMs: 1000 }));
  });
});
