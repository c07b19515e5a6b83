import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createServer } from 'node:net';
import { silentLogger } from '../../src/core/log.js';
import { createMetrics, startMetricsServer, type Metrics, type MetricsServer } from '../../src/metrics/index.js';
import { req } from '../api/http.js';
import { minimalServer } from '../helpers/wire.js';
import { FakeManager } from './fake-manager.js';
import { parsePrometheusText, series } from './prom-text.js';

const SERVER_METRICS: Record<string, string> = {
  gobetween_server_count: 'Server Count.',
  gobetween_server_active_connections: 'Server Actice Connections.',
  gobetween_server_rx_total: 'Server Rx Total.',
  gobetween_server_tx_total: 'Server Tx Total.',
  gobetween_server_rx_second: 'Server Rx per Second.',
  gobetween_server_tx_second: 'Server Tx per Second.',
};
const BACKEND_METRICS: Record<string, string> = {
  gobetween_backend_active_connections: 'Backend Actice Connections.',
  gobetween_backend_refused_connections: 'Backend Refused Connections.',
  gobetween_backend_total_connections: 'Backend Total Connections.',
  gobetween_backend_rx_bytes: 'Backend Rx Bytes.',
  gobetween_backend_tx_bytes: 'Backend Tx Bytes.',
  gobetween_backend_rx_second: 'Backend Rx per Second.',
  gobetween_backend_tx_second: 'Backend Tx per Second.',
  gobetween_backend_live: 'Backend Alive.',
};

describe('metrics (pull-style collectors)', () => {
  const manager = new FakeManager();
  let metrics: Metrics;
  let server: MetricsServer;
  let port = 0;

  before(async () => {
    metrics = createMetrics({ manager, version: '1.2.3' });
    server = await startMetricsServer({ bind: '127.0.0.1:0', registry: metrics.registry, log: silentLogger });
    port = server.address()?.port ?? 0;
    assert.ok(port > 0);
  });
  after(async () => {
    await server.close();
    metrics.close();
  });

  async function scrape(): Promise<ReturnType<typeof parsePrometheusText>> {
    const r = await req(port, '/metrics');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(r.body);
  }

  it('exposes build info, help texts and types, and Node process metrics', async () => {
    const fams = await scrape();
    const build = series(fams, 'gobetween_build_info');
    assert.equal(build.length, 1);
    assert.deepEqual(build[0]?.labels, { version: '1.2.3', revision: '', branch: '', goversion: process.version });
    assert.equal(build[0]?.value, 1);
    assert.equal(fams.get('gobetween_build_info')?.type, 'gauge');
    assert.equal(
      fams.get('gobetween_build_info')?.help,
      "A metric with a constant '1' value labeled by version, revision, branch, and goversion from which gobetween was built.",
    );
    for (const [name, help] of Object.entries({ ...SERVER_METRICS, ...BACKEND_METRICS })) {
      const f = fams.get(name);
      assert.ok(f, name);
      assert.equal(f.type, 'gauge', name);
      assert.equal(f.help, help, name);
      assert.equal(f.samples.length, 0, `${name} has no series without servers`);
    }
    assert.ok(series(fams, 'process_cpu_user_seconds_total').length === 1);
    assert.ok(series(fams, 'nodejs_heap_size_used_bytes').length === 1);
  });

  it('reports counters and backends at scrape time; series vanish with the server', async () => {
    const x = manager.add('x', minimalServer('127.0.0.1:1'), [['127.0.0.1', '8000'], ['localhost', '8001']]);
    manager.add('y', minimalServer('127.0.0.1:2'), []);
    x.counters.active = 2;
    x.counters.rx = 1024;
    x.counters.tx = 300;
    x.counters.rxSecond = 12;
    x.counters.txSecond = 3;
    const b = x.pool.get('127.0.0.1:8000');
    assert.ok(b);
    b.active = 1;
    b.total = 5;
    b.refused = 2;
    b.rx = 1000;
    b.tx = 290;
    b.rxSecond = 10;
    b.txSecond = 2;
    x.pool.setLive('localhost:8001', false);

    let fams = await scrape();
    const one = (name: string, labels: Record<string, string>): number | undefined => {
      const s = series(fams, name, labels);
      assert.equal(s.length, 1, `${name} ${JSON.stringify(labels)}`);
      return s[0]?.value;
    };
    assert.equal(one('gobetween_server_count', { server: 'x' }), 2, 'Q-22: number of backends');
    assert.equal(one('gobetween_server_count', { server: 'y' }), 0);
    assert.equal(one('gobetween_server_active_connections', { server: 'x' }), 2);
    assert.equal(one('gobetween_server_rx_total', { server: 'x' }), 1024);
    assert.equal(one('gobetween_server_tx_total', { server: 'x' }), 300);
    assert.equal(one('gobetween_server_rx_second', { server: 'x' }), 12);
    assert.equal(one('gobetween_server_tx_second', { server: 'x' }), 3);
    const bl = { server: 'x', host: '127.0.0.1', port: '8000' };
    assert.equal(one('gobetween_backend_active_connections', bl), 1);
    assert.equal(one('gobetween_backend_total_connections', bl), 5);
    assert.equal(one('gobetween_backend_refused_connections', bl), 2);
    assert.equal(one('gobetween_backend_rx_bytes', bl), 1000);
    assert.equal(one('gobetween_backend_tx_bytes', bl), 290);
    assert.equal(one('gobetween_backend_rx_second', bl), 10);
    assert.equal(one('gobetween_backend_tx_second', bl), 2);
    assert.equal(one('gobetween_backend_live', bl), 1);
    assert.equal(one('gobetween_backend_live', { server: 'x', host: 'localhost', port: '8001' }), 0);
    for (const name of Object.keys(BACKEND_METRICS)) assert.equal(series(fams, name).length, 2, name);

    // A backend leaving the table drops its series.
    b.active = 0;
    x.pool.setDiscovered([]);
    fams = await scrape();
    assert.equal(series(fams, 'gobetween_backend_total_connections', { server: 'x' }).length, 0);
    assert.equal(one('gobetween_server_count', { server: 'x' }), 0);

    await manager.delete('x');
    await manager.delete('y');
    fams = await scrape();
    for (const name of [...Object.keys(SERVER_METRICS), ...Object.keys(BACKEND_METRICS)]) {
      assert.equal(series(fams, name).length, 0, `${name} after DELETE`);
    }
  });

  it('serves /metrics only: no debug endpoints (Q-24), other paths and methods 404', async () => {
    for (const path of ['/debug/pprof/', '/debug/pprof/heap', '/', '/metricsx']) {
      const r = await req(port, path);
      assert.equal(r.status, 404, path);
      assert.equal(r.body, '404 page not found\n');
    }
    assert.equal((await req(port, '/metrics', { method: 'POST', body: '' })).status, 404);
  });

  it("counts its own scrapes like Go's promhttp handler", async () => {
    await scrape();
    const fams = await scrape();
    const total = series(fams, 'promhttp_metric_handler_requests_total', { code: '200' });
    assert.equal(total.length, 1);
    assert.ok((total[0]?.value ?? 0) >= 1);
    assert.equal(fams.get('promhttp_metric_handler_requests_total')?.type, 'counter');
    assert.equal(series(fams, 'promhttp_metric_handler_requests_in_flight')[0]?.value, 1);
  });

  it('two registries do not share state (no module singletons)', async () => {
    const other = createMetrics({ manager: new FakeManager(), version: '9', defaultMetrics: false });
    try {
      const fams = parsePrometheusText(await other.render());
      assert.equal(series(fams, 'gobetween_build_info', { version: '9' }).length, 1);
      assert.equal(fams.has('process_cpu_user_seconds_total'), false);
      const mine = await scrape();
      assert.equal(series(mine, 'gobetween_build_info', { version: '9' }).length, 0);
    } finally {
      other.close();
    }
  });
});

describe('metrics listener errors', () => {
  it('a listen failure is logged, not thrown', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const addr = blocker.address();
    assert.ok(addr !== null && typeof addr === 'object');
    const lines: string[] = [];
    const log = silentLogger.child({});
    log.error = ((msg: string | object) => { lines.push(typeof msg === 'string' ? msg : JSON.stringify(msg)); });
    const metrics = createMetrics({ manager: new FakeManager(), version: '1', defaultMetrics: false });
    const s = await startMetricsServer({ bind: `127.0.0.1:${addr.port}`, registry: metrics.registry, log });
    try {
      assert.equal(s.address(), undefined);
      assert.equal(lines.length, 1);
      assert.equal(
        lines[0],
        `metrics.bind: Failed to listen and serve prometeus metrics endpoint: listen tcp 127.0.0.1:${addr.port}: bind: address already in use`,
      );
    } finally {
      await s.close();
      metrics.close();
      await new Promise((r) => blocker.close(r));
    }
  });
});
