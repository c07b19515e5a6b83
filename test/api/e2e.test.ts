/**
 * End to end over real HTTP and TCP on 127.0.0.1, with the real composition root (server manager,
 * config validation, static discovery, TCP data path) behind the REST API and the metrics
 * listener: control-plane §12 cases 5–13, 15 and 17.
 */
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { App } from '../../src/app.js';
import { decodeConfig } from '../../src/config/decode.js';
import { startAppFromJson } from '../helpers/app.js';
import { serverWire } from '../helpers/wire.js';
import { parsePrometheusText, series } from '../metrics/prom-text.js';
import { req, type Reply } from './http.js';
import { freePort } from './ports.js';

async function echoServer(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  assert.ok(addr !== null && typeof addr === 'object');
  return { server, port: addr.port, sockets };
}

/** Connects, writes `data`, resolves with the echo (and keeps the socket open if asked). */
function roundTrip(port: number, data: string, keepOpen = false): Promise<{ echo: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no echo through :${port}`));
    }, 3000);
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('data', (c: Buffer) => {
      got += c.toString();
      if (got.length >= data.length) {
        clearTimeout(timer);
        if (!keepOpen) socket.end();
        resolve({ echo: got, socket });
      }
    });
    socket.write(data);
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(false);
    });
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 4000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The janitor's timeout is 1 s for every call (opensvc.md §1.1). */
async function timed(p: Promise<Reply>): Promise<Reply> {
  const t0 = Date.now();
  const r = await p;
  assert.ok(Date.now() - t0 < 1000, `answered in ${Date.now() - t0} ms`);
  return r;
}

describe('REST API end to end (real server manager)', () => {
  let app: App;
  let api = 0;
  let metricsPort = 0;
  let echo: Awaited<ReturnType<typeof echoServer>>;
  const post = (name: string, body: unknown): Promise<Reply> =>
    timed(req(api, `/servers/${name}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }));
  const get = async (path: string): Promise<unknown> => {
    const r = await timed(req(api, path));
    assert.equal(r.status, 200, path);
    return JSON.parse(r.body) as unknown;
  };
  const del = (name: string): Promise<Reply> => timed(req(api, `/servers/${name}`, { method: 'DELETE' }));
  const scrape = async (): Promise<ReturnType<typeof parsePrometheusText>> => {
    const r = await req(metricsPort, '/metrics');
    assert.equal(r.status, 200);
    return parsePrometheusText(r.body);
  };

  before(async () => {
    echo = await echoServer();
    const text = JSON.stringify({
      api: { enabled: true, bind: '127.0.0.1:0' },
      metrics: { enabled: true, bind: '127.0.0.1:0' },
      defaults: { max_connections: 5, client_idle_timeout: '1m' },
    });
    app = await startAppFromJson(text, 'test.json');
    api = app.apiAddress?.port ?? 0;
    metricsPort = app.metricsAddress?.port ?? 0;
    assert.ok(api > 0 && metricsPort > 0);
  });

  after(async () => {
    await app.close(0);
    for (const s of echo.sockets) s.destroy();
    await new Promise((r) => echo.server.close(r));
  });

  it('POST the §3.4.3 sample → 200 null, listening at once; GET echoes the normalised object (§12.5)', async () => {
    const port = await freePort();
    const bind = `127.0.0.1:${port}`;
    const r = await post('x', {
      bind,
      max_connections: 0,
      client_idle_timeout: '0',
      healthcheck: { kind: 'ping', interval: '2s', timeout: '1s' },
      discovery: { kind: 'static', static_list: [`127.0.0.1:${echo.port}`] },
    });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'null');
    assert.ok(await canConnect(port), 'listener accepts as soon as POST answered');
    const { accept_proxy_protocol: acceptProxy, ...wire } = serverWire({ bind });
    assert.equal(acceptProxy, null); // tsbetween-only section: omitted from the echo while absent
    assert.deepEqual(await get('/servers/x'), {
      ...wire,
      // groups flattened by the echo
      discovery: { kind: 'static', failpolicy: 'keeplast', interval: '0', timeout: '0', static_list: [`127.0.0.1:${echo.port}`] },
      // initial_status is omitted while null (OpenSVC janitor key-set equality, opensvc.md §1.5)
      healthcheck: { kind: 'ping', interval: '2s', passes: 1, fails: 1, timeout: '1s' },
    });
    const all = (await get('/servers')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(all), ['x']);

    // §12.6 duplicate
    const dup = await post('x', { bind, discovery: { kind: 'static', static_list: ['127.0.0.1:1'] } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body, '"Server with this name already exists: x"');

    // §12.13 stats after traffic; §12.15 metrics
    const { echo: back } = await roundTrip(port, 'hello');
    assert.equal(back, 'hello');
    const held = await roundTrip(port, 'held', true);
    const stats = await waitFor('stats with traffic', async () => {
      const s = (await get('/servers/x/stats')) as {
        active_connections: number; rx_total: number; tx_total: number;
        backends: Array<{ port: unknown; stats: { total_connections: number } } & Record<string, unknown>>;
      };
      return s.backends.length === 1 && s.tx_total >= 9 && s.active_connections === 1 ? s : undefined;
    });
    assert.deepEqual(Object.keys(stats), ['active_connections', 'rx_total', 'tx_total', 'rx_second', 'tx_second', 'backends']);
    const b = stats.backends[0];
    assert.ok(b);
    assert.equal(b.port, String(echo.port));
    assert.equal(typeof b.port, 'string');
    assert.deepEqual(Object.keys(b), ['host', 'port', 'priority', 'weight', 'stats']);
    assert.deepEqual(Object.keys(b.stats), [
      'live', 'discovered', 'total_connections', 'active_connections', 'refused_connections', 'rx', 'tx', 'rx_second', 'tx_second',
    ]);
    assert.ok(b.stats.total_connections >= 2);

    let fams = await scrape();
    assert.equal(series(fams, 'gobetween_build_info', { version: '0.8.2' }).length, 1);
    assert.equal(series(fams, 'gobetween_server_active_connections', { server: 'x' })[0]?.value, 1);
    const bt = series(fams, 'gobetween_backend_total_connections', { server: 'x', host: '127.0.0.1', port: String(echo.port) });
    assert.equal(bt.length, 1);
    assert.ok((bt[0]?.value ?? 0) >= 2);
    assert.equal(series(fams, 'gobetween_server_count', { server: 'x' })[0]?.value, 1);

    // DELETE: 200 null, listener closed, client connections closed, series gone
    const closed = new Promise<void>((resolve) => held.socket.on('close', () => resolve()));
    const d = await del('x');
    assert.equal(d.status, 200);
    assert.equal(d.body, 'null');
    await closed;
    assert.equal(await canConnect(port), false);
    assert.equal(await get('/servers/x'), null);
    assert.equal(await get('/servers/x/stats'), null);
    fams = await scrape();
    for (const f of fams.values()) {
      for (const s of f.samples) assert.notEqual(s.labels['server'], 'x', `${s.name} after DELETE`);
    }
  });

  it('validation failures → 409 with GoBetween texts, nothing registered (§12.7–9)', async () => {
    const bind = `127.0.0.1:${await freePort()}`;
    const stat = { kind: 'static', static_list: ['127.0.0.1:1'] };
    const cases: Array<[unknown, string | RegExp]> = [
      [{}, 'No bind specified for server v'],
      [null, 'No bind specified for server v'],
      [{ bind }, 'No .discovery specified for server v'],
      [{ bind, protocol: 'udp', discovery: stat },
        'udp protocol requires to specify at least one of (client|backend)_idle_timeout, udp.max_requests, udp.max_responses'],
      [{ bind, protocol: 'udp', udp: { max_responses: 1 }, healthcheck: { kind: 'ping', interval: '1s' }, discovery: stat },
        'Cant use ping healthcheck with udp server'],
      [{ bind, balance: 'foo', discovery: stat }, 'Not supported balance type foo'],
      [{ bind, protocol: 'tls', discovery: stat }, 'Need tls section for tls protocol'],
      [{ bind, protocol: 'udp', client_idle_timeout: '1m', proxy_protocol: { version: '1' }, discovery: stat },
        "proxy_protocol may be used only with 'tcp' protocol, not with udp"],
      [{ bind, proxy_protocol: { version: '3' }, discovery: stat }, 'Unsupported proxy_protocol version 3'],
      [{ bind, protocol: 'foo', discovery: stat }, 'Not supported protocol foo'],
    ];
    for (const [body, message] of cases) {
      const r = await post('v', body);
      assert.equal(r.status, 409, JSON.stringify(body));
      const msg = JSON.parse(r.body) as string;
      if (typeof message === 'string') assert.equal(msg, message);
      else assert.match(msg, message);
      assert.equal(await get('/servers/v'), null);
    }
    const bad = await timed(req(api, '/servers/v', { method: 'POST', body: '{"bind": 3' }));
    assert.equal(bad.status, 400);
    const typed = await post('v', { bind, max_connections: 'x', discovery: stat });
    assert.equal(typed.status, 400);
    assert.equal(await get('/servers/v'), null);
    assert.deepEqual(await get('/servers'), {});
  });

  it('occupied port → 409 with the listen error; nothing left behind (§12.10, Q-26)', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const addr = blocker.address();
    assert.ok(addr !== null && typeof addr === 'object');
    try {
      const r = await post('busy', { bind: `127.0.0.1:${addr.port}`, discovery: { kind: 'static', static_list: ['127.0.0.1:1'] } });
      assert.equal(r.status, 409);
      assert.equal(JSON.parse(r.body), `listen tcp 127.0.0.1:${addr.port}: bind: address already in use`);
      assert.equal(await get('/servers/busy'), null);
      assert.equal(await get('/servers/busy/stats'), null);
      const fams = await scrape();
      for (const f of fams.values()) for (const s of f.samples) assert.notEqual(s.labels['server'], 'busy');
      const dump = JSON.parse((await req(api, '/dump?format=json')).body) as { servers: Record<string, unknown> | null };
      assert.ok(dump.servers === null || !('busy' in dump.servers));
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('[defaults] fill servers that do not set the options; explicit values win (§12.11)', async () => {
    const stat = { kind: 'static', static_list: ['127.0.0.1:1'] };
    assert.equal((await post('d1', { bind: `127.0.0.1:${await freePort()}`, discovery: stat })).status, 200);
    assert.equal(
      (await post('d2', { bind: `127.0.0.1:${await freePort()}`, max_connections: 7, client_idle_timeout: '2m', discovery: stat })).status,
      200,
    );
    const d1 = (await get('/servers/d1')) as Record<string, unknown>;
    const d2 = (await get('/servers/d2')) as Record<string, unknown>;
    assert.equal(d1['max_connections'], 5);
    assert.equal(d1['client_idle_timeout'], '1m');
    assert.equal(d2['max_connections'], 7);
    assert.equal(d2['client_idle_timeout'], '2m');

    // §12.12: /dump reflects API-created servers and re-loads
    const jsonText = (await req(api, '/dump?format=json')).body;
    const json = JSON.parse(jsonText) as { servers: Record<string, unknown> };
    assert.deepEqual(Object.keys(json.servers), ['d1', 'd2']);
    assert.equal(decodeConfig(jsonText, 'json').config.servers?.['d1']?.max_connections, 5, 'JSON dump re-loads');
    const toml = await req(api, '/dump');
    assert.equal(toml.status, 200);
    const reloaded = decodeConfig(toml.body, 'toml').config;
    assert.deepEqual(Object.keys(reloaded.servers ?? {}).sort(), ['d1', 'd2']);
    assert.equal(reloaded.servers?.['d2']?.max_connections, 7);
    assert.equal((await del('d1')).status, 200);
    assert.equal((await del('d2')).status, 200);
    const after = JSON.parse((await req(api, '/dump?format=json')).body) as { servers: Record<string, unknown> | null };
    assert.deepEqual(after.servers ?? {}, {});
  });

  it('static_list options are parsed; malformed lines are skipped (§12.17)', async () => {
    const r = await post('st', {
      bind: `127.0.0.1:${await freePort()}`,
      discovery: {
        kind: 'static',
        static_list: [
          '127.0.0.1:8080 weight=5 priority=2 max_connections=3 sni=a.b',
          '127.0.0.1:8081 priority=2 weight=5',
          '127.0.0.1:8082  weight=5',
          '127.0.0.1:8083',
        ],
      },
    });
    assert.equal(r.status, 200);
    const stats = await waitFor('static backends', async () => {
      const s = (await get('/servers/st/stats')) as { backends: Array<Record<string, unknown>> };
      return s.backends.length > 0 ? s : undefined;
    });
    const ports = stats.backends.map((b) => b['port']).sort();
    assert.deepEqual(ports, ['8080', '8083']);
    const first = stats.backends.find((b) => b['port'] === '8080');
    assert.deepEqual(
      { priority: first?.['priority'], weight: first?.['weight'], max_connections: first?.['max_connections'], sni: first?.['sni'] },
      { priority: 2, weight: 5, max_connections: 3, sni: 'a.b' },
    );
    const plain = stats.backends.find((b) => b['port'] === '8083');
    assert.equal(plain !== undefined && 'max_connections' in plain, false, 'max_connections omitted when 0');
    assert.equal(plain !== undefined && 'sni' in plain, false, 'sni omitted when empty');
    assert.equal((await del('st')).status, 200);
  });
});

describe('GET /servers on a config file with two servers (§12.3)', () => {
  it('lists exactly those names with every §3.6 key, null sections and defaults filled', async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const text = JSON.stringify({
      api: { enabled: true, bind: '127.0.0.1:0' },
      servers: {
        b: { bind: `127.0.0.1:${pb}`, access: { rules: ['allow 127.0.0.1'] }, discovery: { kind: 'static', static_list: ['127.0.0.1:1'] } },
        a: { bind: `127.0.0.1:${pa}`, discovery: { kind: 'static', static_list: ['127.0.0.1:2'] } },
      },
    });
    const app = await startAppFromJson(text, 'two.json');
    try {
      const port = app.apiAddress?.port ?? 0;
      const r = await req(port, '/servers');
      assert.equal(r.status, 200);
      const all = JSON.parse(r.body) as Record<string, Record<string, unknown>>;
      assert.deepEqual(Object.keys(all), ['a', 'b']);
      const a = all['a'];
      assert.ok(a);
      assert.deepEqual(Object.keys(a), [
        'max_connections', 'client_idle_timeout', 'backend_idle_timeout', 'backend_connection_timeout',
        'bind', 'protocol', 'balance', 'sni', 'tls', 'backends_tls', 'udp', 'access', 'proxy_protocol',
        'discovery', 'healthcheck',
      ]);
      for (const k of ['sni', 'tls', 'backends_tls', 'udp', 'access', 'proxy_protocol']) assert.equal(a[k], null, k);
      assert.equal(a['protocol'], 'tcp');
      assert.equal(a['balance'], 'weight');
      assert.equal(a['max_connections'], 0);
      assert.deepEqual(a['discovery'], { kind: 'static', failpolicy: 'keeplast', interval: '0', timeout: '0', static_list: ['127.0.0.1:2'] });
      assert.deepEqual(a['healthcheck'], { kind: 'none', interval: '0', passes: 1, fails: 1, timeout: '0' });
      assert.deepEqual(all['b']?.['access'], { default: 'allow', rules: ['allow 127.0.0.1'] });
    } finally {
      await app.close(0);
    }
  });
});
