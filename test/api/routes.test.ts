/**
 * REST routes over real HTTP on 127.0.0.1 with a fake server manager and the real decoder and
 * echo/dump (control-plane §3, §12 cases 1–4, 6, 7, 12–14 at the API layer).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApi, rfc3339Nano, MAX_BODY_BYTES, type ApiServer } from '../../src/api/server.js';
import { decodeConfig } from '../../src/config/decode.js';
import { dumpConfig } from '../../src/config/dump.js';
import type { ApiWire, ConfigWire, ServerWire } from '../../src/config/types.js';
import { ConfigError, NotSupportedError, StartError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log.js';
import { minimalServer } from '../helpers/wire.js';
import { FakeManager } from '../metrics/fake-manager.js';
import { basic, req } from './http.js';

const SERVER_KEYS = [
  'max_connections', 'client_idle_timeout', 'backend_idle_timeout', 'backend_connection_timeout',
  'bind', 'protocol', 'balance', 'sni', 'tls', 'backends_tls', 'udp', 'access', 'proxy_protocol',
  'discovery', 'healthcheck',
];

function apiWire(over: Partial<ApiWire> = {}): ApiWire {
  return { enabled: true, bind: '127.0.0.1:0', basic_auth: null, tls: null, cors: false, ...over };
}

function rootConfig(api: ApiWire): ConfigWire {
  return {
    logging: { level: '', output: '', format: '' },
    api,
    metrics: { enabled: false, bind: '' },
    defaults: { max_connections: null, client_idle_timeout: null, backend_idle_timeout: null, backend_connection_timeout: null },
    acme: null,
    profiler: null,
    servers: null,
  };
}

interface Harness {
  api: ApiServer;
  manager: FakeManager;
  port: number;
  startTime: Date;
}

async function harness(over: Partial<ApiWire> = {}): Promise<Harness> {
  const manager = new FakeManager();
  const wire = apiWire(over);
  const root = rootConfig(wire);
  const startTime = new Date(Date.now() - 1500);
  const dump = (format: string): string => {
    const current: Record<string, ServerWire> = {};
    for (const name of manager.names()) {
      const v = manager.get(name);
      if (v !== undefined) current[name] = v.config;
    }
    return dumpConfig(root, current, format);
  };
  const api = await startApi({
    api: wire,
    manager,
    info: { configuration: { kind: 'file', path: '/etc/gobetween/config.json' }, version: '0.8.2', startTime },
    dump,
    log: silentLogger,
  });
  return { api, manager, port: api.address().port, startTime };
}

function isJsonReply(r: { headers: Record<string, unknown>; body: string }): void {
  assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
  assert.ok(!r.body.endsWith('\n'), 'no trailing newline');
}

describe('REST API routes (fake manager)', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(() => h.api.close());

  it('GET /ping → 200 text/plain OK', async () => {
    const r = await req(h.port, '/ping');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'OK');
    assert.match(String(r.headers['content-type']), /^text\/plain/);
  });

  it('GET / → system info, keys alphabetical, startTime fixed (§12.2)', async () => {
    const r = await req(h.port, '/');
    assert.equal(r.status, 200);
    isJsonReply(r);
    const info = JSON.parse(r.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(info), ['configuration', 'pid', 'startTime', 'time', 'uptime', 'version']);
    assert.deepEqual(info['configuration'], { kind: 'file', path: '/etc/gobetween/config.json' });
    assert.equal(info['pid'], process.pid);
    assert.equal(info['version'], '0.8.2');
    assert.equal(info['startTime'], rfc3339Nano(h.startTime));
    assert.match(String(info['uptime']), /^\d+(\.\d+)?s$/);
    assert.match(String(info['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/);
    // 4-space pretty-print, as Go's MarshalIndent
    assert.ok(r.body.startsWith('{\n    "configuration": {\n        "kind": "file",'));
    const again = JSON.parse((await req(h.port, '/')).body) as Record<string, unknown>;
    assert.equal(again['startTime'], info['startTime']);
  });

  it('GET /servers → {} when none; object of echoed servers sorted by name (§12.3)', async () => {
    let r = await req(h.port, '/servers');
    assert.equal(r.status, 200);
    isJsonReply(r);
    assert.equal(r.body, '{}');
    h.manager.add('web', minimalServer('127.0.0.1:3001'));
    h.manager.add('10', minimalServer('127.0.0.1:3002'));
    h.manager.add('9', minimalServer('127.0.0.1:3003'));
    r = await req(h.port, '/servers');
    assert.equal(r.status, 200);
    // Go sorts map keys bytewise: "10" < "9" < "web" (JS objects would put 9 before 10).
    const names = [...r.body.matchAll(/^ {4}"([^"]+)": \{$/gm)].map((m) => m[1]);
    assert.deepEqual(names, ['10', '9', 'web']);
    const all = JSON.parse(r.body) as Record<string, Record<string, unknown>>;
    for (const s of Object.values(all)) {
      assert.deepEqual(Object.keys(s), SERVER_KEYS);
      for (const k of ['sni', 'tls', 'backends_tls', 'udp', 'access', 'proxy_protocol']) assert.equal(s[k], null);
    }
    // nested indentation: a server's own members at 8 spaces
    assert.match(r.body, /\n {8}"bind": "127\.0\.0\.1:3001",\n/);
    const one = await req(h.port, '/servers/web');
    assert.equal(one.status, 200);
    isJsonReply(one);
    assert.deepEqual(JSON.parse(one.body), all['web']);
    for (const n of ['web', '10', '9']) await h.manager.delete(n);
  });

  it('unknown server: GET, stats and DELETE → 200 null (quirks Q-1, Q-2; §12.4)', async () => {
    for (const [method, path] of [['GET', '/servers/nope'], ['GET', '/servers/nope/stats'], ['DELETE', '/servers/nope']] as const) {
      const r = await req(h.port, path, { method });
      assert.equal(r.status, 200, `${method} ${path}`);
      isJsonReply(r);
      assert.equal(r.body, 'null');
    }
  });

  it('POST → 200 null after create; duplicate → 409 with GoBetween text (§12.6)', async () => {
    const body = JSON.stringify({ bind: '127.0.0.1:3001', discovery: { kind: 'static', static_list: ['127.0.0.1:8000'] } });
    let r = await req(h.port, '/servers/x', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 200);
    isJsonReply(r);
    assert.equal(r.body, 'null');
    assert.deepEqual(h.manager.created, ['x']);
    r = await req(h.port, '/servers/x', { method: 'POST', body });
    assert.equal(r.status, 409);
    isJsonReply(r);
    assert.equal(r.body, '"Server with this name already exists: x"');
    r = await req(h.port, '/servers/x', { method: 'DELETE' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'null');
    assert.equal(h.manager.get('x'), undefined);
  });

  it('POST bodies: {} and null → 409; empty → 400 "EOF"; malformed and wrong types → 400 (§12.7)', async () => {
    let r = await req(h.port, '/servers/x', { method: 'POST', body: '{}' });
    assert.equal(r.status, 409);
    assert.equal(r.body, '"No bind specified for server x"');
    r = await req(h.port, '/servers/x', { method: 'POST', body: 'null' });
    assert.equal(r.status, 409);
    assert.equal(r.body, '"No bind specified for server x"');
    r = await req(h.port, '/servers/x', { method: 'POST' });
    assert.equal(r.status, 400);
    assert.equal(r.body, '"EOF"');
    r = await req(h.port, '/servers/x', { method: 'POST', body: '{"bind": ' });
    assert.equal(r.status, 400);
    isJsonReply(r);
    assert.equal(typeof JSON.parse(r.body), 'string');
    r = await req(h.port, '/servers/x', { method: 'POST', body: '{"bind":"127.0.0.1:1","max_connections":"x"}' });
    assert.equal(r.status, 400);
    const msg = JSON.parse(r.body) as string;
    assert.equal(typeof msg, 'string');
    assert.match(msg, /max_connections/);
    assert.equal(h.manager.get('x'), undefined);
  });

  it('create failures map through the error table: ConfigError/NotSupported/StartError → 409, other → 500 generic', async () => {
    const body = JSON.stringify({ bind: '127.0.0.1:3001' });
    const cases: Array<[unknown, number, string]> = [
      [new ConfigError('servers.x.balance', 'Not supported balance type foo'), 409, 'Not supported balance type foo'],
      [new NotSupportedError('servers.x.protocol', 'udp protocol'), 409, 'not supported yet: udp protocol'],
      [new StartError('listen tcp 127.0.0.1:3001: bind: address already in use'), 409, 'listen tcp 127.0.0.1:3001: bind: address already in use'],
      [new Error('secret internal detail\n    at stack'), 500, 'Internal Server Error'],
      ['a thrown string', 500, 'Internal Server Error'],
    ];
    for (const [err, status, message] of cases) {
      h.manager.failNext = err;
      const r = await req(h.port, '/servers/x', { method: 'POST', body });
      assert.equal(r.status, status, message);
      isJsonReply(r);
      assert.equal(JSON.parse(r.body), message);
    }
  });

  it('body over the cap → 413, the process keeps serving', async () => {
    const big = Buffer.alloc(MAX_BODY_BYTES + 10, 0x20);
    const r = await req(h.port, '/servers/x', { method: 'POST', body: big }).catch((e: unknown) => e);
    if (r instanceof Error) {
      // The server may close the socket while the client is still writing: acceptable.
      assert.match(r.message, /EPIPE|ECONNRESET|socket hang up/);
    } else {
      assert.ok(typeof r === 'object' && r !== null && 'status' in r);
      assert.equal(r.status, 413);
    }
    const declared = await req(h.port, '/servers/x', { method: 'POST', headers: { 'content-length': String(MAX_BODY_BYTES + 1) }, body: '' }).catch(() => undefined);
    if (declared !== undefined) assert.equal(declared.status, 413);
    assert.equal((await req(h.port, '/ping')).status, 200);
    assert.equal(h.manager.get('x'), undefined);
  });

  it('GET /servers/:name/stats → stats shape (§12.13)', async () => {
    const v = h.manager.add('s', minimalServer('127.0.0.1:3009'), [['127.0.0.1', '8000']]);
    v.counters.active = 1;
    const r = await req(h.port, '/servers/s/stats');
    assert.equal(r.status, 200);
    isJsonReply(r);
    const s = JSON.parse(r.body) as { backends: Array<Record<string, unknown>> } & Record<string, unknown>;
    assert.deepEqual(Object.keys(s), ['active_connections', 'rx_total', 'tx_total', 'rx_second', 'tx_second', 'backends']);
    assert.equal(s['active_connections'], 1);
    assert.equal(s.backends[0]?.['port'], '8000');
    assert.deepEqual(Object.keys(s.backends[0] ?? {}), ['host', 'port', 'priority', 'weight', 'stats']);
    await h.manager.delete('s');
  });

  it('GET /dump: toml by default (re-loads), json reflects current servers, unknown format → 500 (§12.12)', async () => {
    h.manager.add('d', minimalServer('127.0.0.1:3010'));
    let r = await req(h.port, '/dump');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
    const toml = decodeConfig(r.body, 'toml').config;
    assert.ok(toml.servers !== null && 'd' in toml.servers);
    r = await req(h.port, '/dump?format=json');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
    const json = JSON.parse(r.body) as { servers: Record<string, unknown>; acme: unknown; profiler: unknown };
    assert.deepEqual(Object.keys(json.servers), ['d']);
    assert.equal(json.acme, null);
    await h.manager.delete('d');
    r = await req(h.port, '/dump?format=json');
    assert.deepEqual((JSON.parse(r.body) as { servers: unknown }).servers, {});
    r = await req(h.port, '/dump?format=xml');
    assert.equal(r.status, 500);
    isJsonReply(r);
    assert.equal(r.body, '"Unknown format xml"');
    r = await req(h.port, '/dump?format=');
    assert.equal(r.status, 500);
    assert.equal(r.body, '"Unknown format "');
  });

  it('unknown routes and methods → 404 text/plain "404 page not found" (no 405)', async () => {
    const cases: Array<[string, string]> = [
      ['GET', '/nope'], ['PUT', '/servers/x'], ['PATCH', '/servers/x'], ['POST', '/servers'], ['DELETE', '/servers'],
      ['POST', '/'], ['GET', '/servers/x/stats/more'], ['POST', '/servers/x/stats'], ['HEAD', '/ping'], ['OPTIONS', '/servers'],
      ['GET', '/servers//stats'], ['GET', '//servers'], ['GET', '/servers/../ping'],
    ];
    for (const [method, path] of cases) {
      const r = await req(h.port, path, { method });
      assert.equal(r.status, 404, `${method} ${path}`);
      if (method !== 'HEAD') assert.equal(r.body, '404 page not found');
      assert.match(String(r.headers['content-type']), /^text\/plain/);
    }
  });

  it('trailing slash: 301 for GET, 307 for other methods; query kept', async () => {
    let r = await req(h.port, '/servers/');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, '/servers');
    r = await req(h.port, '/dump/?format=json');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, '/dump?format=json');
    r = await req(h.port, '/servers/x/', { method: 'DELETE' });
    assert.equal(r.status, 307);
    assert.equal(r.headers.location, '/servers/x');
    r = await req(h.port, '/servers/x/', { method: 'POST', body: '{}' });
    assert.equal(r.status, 307);
    r = await req(h.port, '/ping/', { method: 'POST', body: '' });
    assert.equal(r.status, 404);
  });

  it('server names: any segment without "/" (janitor names, percent-escapes decoded)', async () => {
    h.manager.add('_80_svc-web.1', minimalServer('127.0.0.1:3011'));
    let r = await req(h.port, '/servers/_80_svc-web.1');
    assert.equal((JSON.parse(r.body) as { bind: unknown }).bind, '127.0.0.1:3011');
    r = await req(h.port, '/servers/%5F80_svc-web.1');
    assert.equal((JSON.parse(r.body) as { bind: unknown }).bind, '127.0.0.1:3011');
    r = await req(h.port, '/servers/%zz');
    assert.equal(r.status, 400);
    await h.manager.delete('_80_svc-web.1');
  });

  it('CORS off: no CORS headers, OPTIONS is a 404 (§12.14)', async () => {
    let r = await req(h.port, '/servers', { headers: { origin: 'http://other' } });
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    r = await req(h.port, '/servers', { method: 'OPTIONS', headers: { origin: 'http://other' } });
    assert.equal(r.status, 404);
  });
});

describe('REST API basic auth (§12.1)', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ basic_auth: { login: 'admin', password: 's3cret' } });
  });
  after(() => h.api.close());

  it('/ping needs no credentials', async () => {
    const r = await req(h.port, '/ping');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'OK');
  });

  it('every other route → 401 + WWW-Authenticate without (or with wrong) credentials', async () => {
    const routes: Array<[string, string]> = [
      ['GET', '/'], ['GET', '/dump'], ['GET', '/servers'], ['GET', '/servers/x'], ['POST', '/servers/x'],
      ['DELETE', '/servers/x'], ['GET', '/servers/x/stats'],
    ];
    for (const [method, path] of routes) {
      for (const auth of [undefined, basic('admin', 'wrong'), basic('admin', 's3cret '), 'Bearer x', basic('admin', 's3cret').toLowerCase()]) {
        const headers: Record<string, string> = auth === undefined ? {} : { authorization: auth };
        const r = await req(h.port, path, method === 'POST' ? { method, headers, body: '{}' } : { method, headers });
        assert.equal(r.status, 401, `${method} ${path} ${auth ?? 'none'}`);
        assert.equal(r.headers['www-authenticate'], 'Basic realm="Authorization Required"');
        assert.equal(r.body, '');
      }
    }
    assert.deepEqual(h.manager.created, []);
  });

  it('right credentials pass; /dump hides the password (Q-32)', async () => {
    const authorization = basic('admin', 's3cret');
    assert.equal((await req(h.port, '/servers', { headers: { authorization } })).status, 200);
    assert.equal((await req(h.port, '/', { headers: { authorization } })).status, 200);
    for (const format of ['json', 'toml']) {
      const r = await req(h.port, `/dump?format=${format}`, { headers: { authorization } });
      assert.equal(r.status, 200);
      assert.ok(!r.body.includes('s3cret'), format);
      assert.ok(r.body.includes('admin'), format);
    }
  });

  it('unmatched paths are 404 without credentials', async () => {
    assert.equal((await req(h.port, '/nope')).status, 404);
  });
});

describe('REST API CORS on (§3.2, §12.14)', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ cors: true, basic_auth: { login: 'a', password: 'b' } });
  });
  after(() => h.api.close());

  it('OPTIONS with a foreign Origin → 204 with the preflight headers, on any path, before auth', async () => {
    for (const path of ['/servers', '/nope']) {
      const r = await req(h.port, path, { method: 'OPTIONS', headers: { origin: 'http://other' } });
      assert.equal(r.status, 204, path);
      assert.equal(r.headers['access-control-allow-origin'], '*');
      assert.equal(r.headers['access-control-allow-credentials'], 'true');
      assert.equal(r.headers['access-control-allow-methods'], 'PUT,POST,DELETE,GET,OPTIONS');
      assert.equal(r.headers['access-control-allow-headers'], 'Origin,Authorization,Content-Type');
      assert.equal(r.headers['access-control-max-age'], '43200');
    }
  });

  it('normal requests with a foreign Origin get allow-origin/credentials; same origin or none gets nothing', async () => {
    let r = await req(h.port, '/ping', { headers: { origin: 'http://other' } });
    assert.equal(r.headers['access-control-allow-origin'], '*');
    assert.equal(r.headers['access-control-allow-credentials'], 'true');
    assert.equal(r.headers['access-control-allow-methods'], undefined);
    r = await req(h.port, '/servers', { headers: { origin: 'http://other' } });
    assert.equal(r.status, 401);
    assert.equal(r.headers['access-control-allow-origin'], '*');
    r = await req(h.port, '/ping', { headers: { origin: `http://127.0.0.1:${h.port}` } });
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    r = await req(h.port, '/ping');
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    r = await req(h.port, '/servers', { method: 'OPTIONS' });
    assert.equal(r.status, 404);
  });
});

describe('REST API listener', () => {
  it('startApi rejects with the Go listen text when the port is taken', async () => {
    const h = await harness();
    try {
      await assert.rejects(
        harness({ bind: `127.0.0.1:${h.port}` }),
        { message: `listen tcp 127.0.0.1:${h.port}: bind: address already in use` },
      );
    } finally {
      await h.api.close();
    }
  });

  it('rfc3339Nano trims the fraction like Go', () => {
    const d = new Date(Date.UTC(2025, 3, 27, 10, 0, 0, 120));
    const s = rfc3339Nano(d);
    assert.match(s, /T\d\d:\d\d:00\.12(Z|[+-]\d\d:\d\d)$/);
    assert.doesNotMatch(rfc3339Nano(new Date(Date.UTC(2025, 3, 27, 10, 0, 0, 0))), /\./);
  });
});
