/**
 * The `http` health check (tsbetween-only): key parsing, real node:http / node:https servers whose
 * answer changes, and the whole path (config → scheduler → pool) marking a backend dead and live.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { decodeConfig } from '../../src/config/decode.js';
import { serverToJson } from '../../src/config/dump.js';
import { prepareServer } from '../../src/config/prepare.js';
import type { BackendsTlsWire, HealthcheckWire } from '../../src/config/types.js';
import { ConfigError } from '../../src/core/errors.js';
import { compileHealthcheck, createHealthcheckRegistry } from '../../src/healthcheck/index.js';
import { parseStatusRanges } from '../../src/healthcheck/http.js';
import type { CheckResult } from '../../src/healthcheck/types.js';
import { startWebApp } from '../helpers/app.js';
import { OPENSSL, makePki } from '../discovery/tls-fixture.js';
import { hcWire, waitFor } from './helpers.js';

const registry = createHealthcheckRegistry();

function compile(http: Partial<NonNullable<HealthcheckWire['http']>>, opts: { protocol?: string; tls?: BackendsTlsWire | null } = {}) {
  const wire = hcWire({
    kind: 'http',
    timeout: '2s',
    http: { http_path: '', http_method: '', http_host: '', http_expected_status: '', http_expected_body: '', ...http },
  });
  const c = compileHealthcheck(wire, 'servers.web.healthcheck', registry, opts.protocol ?? 'tcp', opts.tls ?? null);
  if (!c.enabled) throw new Error('not enabled');
  return c;
}

interface Backend {
  server: Server;
  port: number;
  /** What the next requests get. */
  status: number;
  body: string;
  seen: { method: string; url: string; host: string }[];
}

function handler(b: Omit<Backend, 'server' | 'port'>) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    b.seen.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '' });
    res.writeHead(b.status, { 'Content-Type': 'text/plain' });
    res.end(req.method === 'HEAD' ? undefined : b.body);
  };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

async function httpBackend(): Promise<Backend> {
  const state = { status: 200, body: 'ok', seen: [] as Backend['seen'] };
  const server = createHttpServer(handler(state));
  const port = await listen(server);
  return Object.assign(state, { server, port });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

const target = (port: number) => ({ host: '127.0.0.1', port, hostLabel: '127.0.0.1', portLabel: String(port) });

function run(c: ReturnType<typeof compile>, port: number): Promise<CheckResult> {
  return c.run(target(port), AbortSignal.timeout(c.timeoutMs), c.timeoutMs);
}

test('status ranges: codes, ranges, Nxx, lists; bad ones are refused', () => {
  assert.deepEqual(parseStatusRanges('200'), [[200, 200]]);
  assert.deepEqual(parseStatusRanges('200-299, 302'), [[200, 299], [302, 302]]);
  assert.deepEqual(parseStatusRanges('2xx,3XX'), [[200, 299], [300, 399]]);
  for (const bad of ['', 'abc', '99', '600', '300-200', '2x', '200-']) assert.throws(() => parseStatusRanges(bad), bad);
});

test('keys: defaults, and a ConfigError naming the key for bad values', () => {
  const c = compile({});
  assert.equal(c.kind, 'http');
  const bad: [Partial<NonNullable<HealthcheckWire['http']>>, string][] = [
    [{ http_method: 'POST' }, 'http_method'],
    [{ http_path: 'health' }, 'http_path'],
    [{ http_path: '/a b' }, 'http_path'],
    [{ http_expected_status: '2000' }, 'http_expected_status'],
    [{ http_method: 'HEAD', http_expected_body: 'ok' }, 'http_expected_body'],
    [{ http_expected_body: '(' }, 'http_expected_body'],
    [{ http_host: 'a\r\nb' }, 'http_host'],
  ];
  for (const [keys, key] of bad) {
    assert.throws(() => compile(keys), (e: unknown) => e instanceof ConfigError && e.path === `servers.web.healthcheck.${key}`, key);
  }
  assert.throws(() => compile({}, { protocol: 'udp' }), /Cant use http healthcheck with udp server/);
});

test('config: http keys decode (status as a comma-separated list), validate, and echo only when given', () => {
  const { config } = decodeConfig(
    `[servers.web]
bind = "127.0.0.1:0"
[servers.web.discovery]
kind = "static"
static_list = ["127.0.0.1:1"]
[servers.web.healthcheck]
kind = "http"
interval = "1s"
http_path = "/health"
http_expected_status = "200,300-302"
`,
    'toml',
  );
  const input = config.servers?.['web'];
  assert.ok(input !== undefined && input !== null);
  const { server } = prepareServer('web', input, config.defaults);
  assert.equal(server.healthcheck.http?.http_expected_status, '200,300-302');
  const echo = serverToJson(server)['healthcheck'] as Record<string, unknown>;
  assert.equal(echo['http_path'], '/health');
  assert.equal(echo['http_expected_status'], '200,300-302');
  // A GoBetween config has no http keys in its echo.
  const ping = decodeConfig('[servers.a]\nbind = "x:1"\n[servers.a.discovery]\nkind = "static"\nstatic_list = ["a:1"]\n[servers.a.healthcheck]\nkind = "ping"\ninterval = "1s"\n', 'toml');
  const a = ping.config.servers?.['a'];
  assert.ok(a !== undefined && a !== null);
  const echoA = serverToJson(prepareServer('a', a, ping.config.defaults).server)['healthcheck'] as Record<string, unknown>;
  assert.equal(Object.keys(echoA).some((k) => k.startsWith('http_')), false);
});

test('a real HTTP server changing its status: healthy while 2xx/3xx, unhealthy on 5xx, method/path/host sent', async () => {
  const b = await httpBackend();
  try {
    const c = compile({ http_path: '/health?deep=1' });
    assert.deepEqual(await run(c, b.port), { status: 'healthy', reason: 'HTTP 200' });
    assert.deepEqual(b.seen.at(-1), { method: 'GET', url: '/health?deep=1', host: `127.0.0.1:${b.port}` });
    b.status = 302;
    assert.equal((await run(c, b.port)).status, 'healthy');
    b.status = 503;
    assert.deepEqual(await run(c, b.port), { status: 'unhealthy', reason: 'HTTP 503' });
    b.status = 404;
    assert.equal((await run(c, b.port)).status, 'unhealthy');
    // Own list; HEAD; Host header.
    const own = compile({ http_expected_status: '404', http_method: 'head', http_host: 'app.example' });
    assert.equal((await run(own, b.port)).status, 'healthy');
    assert.deepEqual(b.seen.at(-1), { method: 'HEAD', url: '/', host: 'app.example' });
    b.status = 200;
    assert.equal((await run(own, b.port)).status, 'unhealthy');
  } finally {
    await close(b.server);
  }
});

test('body match, refused connection, silent server (timeout)', async () => {
  const b = await httpBackend();
  try {
    const c = compile({ http_expected_body: '"status":\\s*"up"' });
    b.body = '{"status": "up"}';
    assert.deepEqual(await run(c, b.port), { status: 'healthy', reason: 'HTTP 200, body matched' });
    b.body = '{"status": "down"}';
    assert.deepEqual(await run(c, b.port), { status: 'unhealthy', reason: 'HTTP 200, body did not match' });
    // A big body: only the first 64 KiB are read, the match can be in them.
    b.body = `{"status": "up"}${'x'.repeat(1024 * 1024)}`;
    assert.equal((await run(c, b.port)).status, 'healthy');
  } finally {
    await close(b.server);
  }
  // Refused (the port is closed now).
  const refused = await run(compile({}), b.port);
  assert.equal(refused.status, 'unhealthy');
  assert.match(refused.reason, /^connect ECONNREFUSED/);
  // Silent: accepts, never answers.
  const silent = createHttpServer(() => undefined);
  const port = await listen(silent);
  try {
    const c = compileHealthcheck(hcWire({ kind: 'http', timeout: '150ms' }), 'h', registry, 'tcp');
    assert.ok(c.enabled);
    const t0 = Date.now();
    const r = await c.run(target(port), AbortSignal.timeout(c.timeoutMs), c.timeoutMs);
    assert.equal(r.status, 'unhealthy');
    assert.ok(Date.now() - t0 < 2000);
  } finally {
    await close(silent);
  }
});

test('over TLS when backends_tls is set: verified with root_ca_cert_path, or ignore_verify', async (t) => {
  if (OPENSSL === undefined) {
    t.skip('openssl not installed');
    return;
  }
  const pki = makePki();
  const state = { status: 200, body: 'ok', seen: [] as Backend['seen'] };
  const server = createHttpsServer({ cert: pki.read(pki.serverCert), key: pki.read(pki.serverKey) }, handler(state));
  const port = await listen(server);
  const bt = (over: Partial<BackendsTlsWire>): BackendsTlsWire => ({
    ignore_verify: false, root_ca_cert_path: null, cert_path: null, key_path: null,
    ciphers: null, min_version: '', max_version: '', session_tickets: false, ...over,
  });
  try {
    assert.deepEqual(await run(compile({}, { tls: bt({ root_ca_cert_path: pki.caCert }) }), port), { status: 'healthy', reason: 'HTTP 200' });
    assert.equal((await run(compile({}, { tls: bt({ ignore_verify: true }) }), port)).status, 'healthy');
    const unverified = await run(compile({}, { tls: bt({}) }), port);
    assert.equal(unverified.status, 'unhealthy', 'a self-signed backend fails verification against the system roots');
    state.status = 500;
    assert.equal((await run(compile({}, { tls: bt({ ignore_verify: true }) }), port)).status, 'unhealthy');
    // Plain HTTP to a TLS port fails.
    assert.equal((await run(compile({}), port)).status, 'unhealthy');
  } finally {
    await close(server);
    pki.dispose();
  }
});

test('end to end: a backend answering 503 goes dead (no new connections), 200 brings it back', async () => {
  const a = await httpBackend();
  const b = await httpBackend();
  const { app } = await startWebApp({
    backends: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`],
    web: { healthcheck: { kind: 'http', interval: '40ms', timeout: '1s', fails: 2, passes: 1, http_path: '/healthz' } },
  });
  const live = (port: number): boolean | undefined => app.manager.get('web')?.pool.get(`127.0.0.1:${port}`)?.live;
  try {
    await waitFor(() => a.seen.some((s) => s.url === '/healthz'), 5000, 'first check of a');
    assert.equal(live(a.port), true);
    a.status = 503;
    await waitFor(() => live(a.port) === false, 5000, 'a dead');
    assert.equal(live(b.port), true);
    assert.deepEqual(app.manager.get('web')?.pool.eligible.map((x) => x.port), [String(b.port)]);
    a.status = 204;
    await waitFor(() => live(a.port) === true, 5000, 'a live again');
  } finally {
    await app.close(0);
    await Promise.all([close(a.server), close(b.server)]);
  }
});
