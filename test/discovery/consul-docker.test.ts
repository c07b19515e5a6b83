import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ConfigError } from '../../src/core/errors.js';
import { consulKind, sniFromTags } from '../../src/discovery/consul.js';
import { dockerKind } from '../../src/discovery/docker.js';
import {
  consulGroup, discoveryWire, dockerGroup, fetchCtx, hang, sendJson, startHttpServer, startHttpsServer,
} from './helpers.js';
import { makePki, OPENSSL, type Pki } from './tls-fixture.js';

const P = 'servers.web.discovery';
const noOpenssl = OPENSSL === undefined ? 'openssl CLI not installed (needed to make test certificates)' : false;

let pki: Pki | undefined;
let sockDir: string;
before(() => {
  if (OPENSSL !== undefined) pki = makePki();
  sockDir = mkdtempSync(join(tmpdir(), 'tsb-sock-'));
});
after(() => {
  pki?.dispose();
  rmSync(sockDir, { recursive: true, force: true });
});

// ---- consul ---------------------------------------------------------------------------------

const CONSUL_ENTRIES = [
  { Node: { Node: 'n1', Address: '10.0.0.1' }, Service: { ID: 'web-1', Service: 'web', Tags: ['sni=old.test', 'x', 'sni=a.example.com extra'], Address: '', Port: 8080 }, Checks: [] },
  { Node: { Node: 'n2', Address: '10.0.0.2' }, Service: { ID: 'web-2', Service: 'web', Tags: null, Address: '10.9.0.2', Port: 8081 }, Checks: [] },
  { Node: { Node: 'n3', Address: '2001:db8::3' }, Service: { ID: 'web-3', Service: 'web', Tags: [], Address: '', Port: 8082 }, Checks: [] },
  { Node: { Node: 'n4', Address: '' }, Service: { ID: 'web-4', Service: 'web', Address: '', Port: 8083 }, Checks: [] },
];

function consulSettings(host: string, g: Parameters<typeof consulGroup>[0] = {}) {
  return consulKind.parse(discoveryWire('consul', { consul: consulGroup({ consul_host: host, consul_service_name: 'web', ...g }) }), P);
}

function consulHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const u = new URL(req.url ?? '/', 'http://x');
  if (u.pathname !== '/v1/health/service/web') {
    res.writeHead(404);
    res.end('not found');
    return;
  }
  sendJson(res, CONSUL_ENTRIES);
}

test('consul: health API path, query, headers; host = service else node address; sni tag', async () => {
  const srv = await startHttpServer(consulHandler);
  try {
    const c = fetchCtx();
    const specs = await consulKind.fetch(consulSettings(`127.0.0.1:${srv.port}`, {
      consul_service_tag: 'prod', consul_service_passing_only: true, consul_datacenter: 'dc2',
      consul_acl_token: 'secret-token', consul_auth_username: 'u', consul_auth_password: 'p',
    }), c);
    assert.deepEqual(specs, [
      { host: '10.0.0.1', port: '8080', priority: 1, weight: 1, maxConnections: 0, sni: 'a.example.com' },
      { host: '10.9.0.2', port: '8081', priority: 1, weight: 1, maxConnections: 0, sni: '' },
      { host: '[2001:db8::3]', port: '8082', priority: 1, weight: 1, maxConnections: 0, sni: '' },
    ]);
    assert.ok(c.lines.some((l) => l.level === 40), 'entry without address warned');
    const req = srv.requests[0];
    const u = new URL(req?.url ?? '/', 'http://x');
    assert.equal(u.pathname, '/v1/health/service/web');
    assert.equal(u.searchParams.get('tag'), 'prod');
    assert.equal(u.searchParams.get('passing'), '1');
    assert.equal(u.searchParams.get('dc'), 'dc2');
    assert.equal(req?.headers['x-consul-token'], 'secret-token');
    assert.equal(req?.headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);

    await consulKind.fetch(consulSettings(`127.0.0.1:${srv.port}`), fetchCtx());
    const plain = new URL(srv.requests[1]?.url ?? '/', 'http://x');
    assert.equal(plain.search, '', 'no tag/passing/dc when not configured');
    assert.equal(srv.requests[1]?.headers.authorization, undefined);
    assert.equal(srv.requests[1]?.headers['x-consul-token'], undefined);
  } finally {
    await srv.close();
  }
});

test('consul: sni from the last sni= tag', () => {
  assert.equal(sniFromTags(['a', 'sni=x.test', 'sni=y.test z']), 'y.test');
  assert.equal(sniFromTags(null), '');
});

test('consul: non-200, garbage, hang and refusal are fetch errors', async () => {
  let mode = 'status';
  const srv = await startHttpServer((_req, res) => {
    if (mode === 'hang') return hang();
    if (mode === 'status') {
      res.writeHead(500);
      res.end('Internal error');
      return;
    }
    res.end(mode === 'garbage' ? 'definitely not json' : '{"not":"a list"}');
  });
  const s = consulSettings(`127.0.0.1:${srv.port}`);
  try {
    await assert.rejects(consulKind.fetch(s, fetchCtx()), /status 500/);
    mode = 'garbage';
    await assert.rejects(consulKind.fetch(s, fetchCtx()), /invalid JSON/);
    mode = 'object';
    await assert.rejects(consulKind.fetch(s, fetchCtx()), /unexpected/);
    mode = 'hang';
    await assert.rejects(consulKind.fetch(s, fetchCtx(150)));
  } finally {
    await srv.close();
  }
  await assert.rejects(consulKind.fetch(s, fetchCtx()), /ECONNREFUSED/);
});

test('consul: TLS with client certificate and CA', { skip: noOpenssl }, async () => {
  const k = pki;
  assert.ok(k !== undefined);
  const srv = await startHttpsServer({ cert: k.read(k.serverCert), key: k.read(k.serverKey), ca: k.read(k.caCert) }, consulHandler);
  try {
    const s = consulSettings(`127.0.0.1:${srv.port}`, {
      consul_tls_enabled: true, consul_tls_cert_path: k.clientCert, consul_tls_key_path: k.clientKey, consul_tls_cacert_path: k.caCert,
    });
    assert.equal((await consulKind.fetch(s, fetchCtx())).length, 3);
    // without the client certificate the server refuses the handshake
    const noCert = consulSettings(`127.0.0.1:${srv.port}`, { consul_tls_enabled: true, consul_tls_cacert_path: k.caCert });
    await assert.rejects(consulKind.fetch(noCert, fetchCtx()));
  } finally {
    await srv.close();
  }
});

test('consul: config validation', () => {
  assert.throws(() => consulKind.parse(discoveryWire('consul'), P), (e: ConfigError) => e.path === `${P}.consul_host`);
  assert.throws(() => consulKind.parse(discoveryWire('consul', { consul: consulGroup({ consul_host: 'h:1' }) }), P),
    (e: ConfigError) => e.path === `${P}.consul_service_name`);
});

// ---- docker ---------------------------------------------------------------------------------

const CONTAINERS = [
  {
    Id: 'aaa111', Names: ['/web1'], Image: 'nginx', State: 'running', Labels: { proxied: 'true', sni: 'w1.example.com' },
    Ports: [
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 32768, Type: 'tcp' },
      { IP: '::', PrivatePort: 80, PublicPort: 32768, Type: 'tcp' },
      { PrivatePort: 443, Type: 'tcp' },
    ],
  },
  { Id: 'bbb222', Names: ['/web2'], Labels: { proxied: 'true' }, Ports: [{ IP: '10.1.1.1', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }] },
  { Id: 'ccc333', Names: ['/web3'], Labels: { proxied: 'true' }, Ports: [{ PrivatePort: 80, Type: 'tcp' }] },
  { Id: 'ddd444', Names: ['/other'], Labels: { proxied: 'true' }, Ports: [{ IP: '0.0.0.0', PrivatePort: 5432, PublicPort: 5432, Type: 'tcp' }] },
];

function dockerHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const u = new URL(req.url ?? '/', 'http://x');
  if (u.pathname === '/containers/json') {
    sendJson(res, CONTAINERS);
    return;
  }
  const m = /^\/containers\/(\w+)\/json$/.exec(u.pathname);
  if (m !== null) {
    sendJson(res, { Id: m[1], Config: { Env: ['PATH=/usr/bin', m[1] === 'aaa111' ? 'HOST_IP=192.168.7.7' : 'OTHER=1'] } });
    return;
  }
  res.writeHead(404);
  res.end('{"message":"page not found"}');
}

function dockerSettings(endpoint: string, g: Parameters<typeof dockerGroup>[0] = {}) {
  return dockerKind.parse(discoveryWire('docker', {
    docker: dockerGroup({ docker_endpoint: endpoint, docker_container_private_port: 80, docker_container_label: 'proxied=true', ...g }),
  }), P);
}

test('docker over HTTP: label filter, private port, wildcard -> endpoint host, unpublished skipped, sni label', async () => {
  const srv = await startHttpServer(dockerHandler);
  try {
    const c = fetchCtx();
    const specs = await dockerKind.fetch(dockerSettings(`http://127.0.0.1:${srv.port}`), c);
    assert.deepEqual(specs, [
      { host: '127.0.0.1', port: '32768', priority: 1, weight: 1, maxConnections: 0, sni: 'w1.example.com' },
      { host: '10.1.1.1', port: '8080', priority: 1, weight: 1, maxConnections: 0, sni: '' },
    ]);
    assert.ok(c.lines.some((l) => l.level === 40 && /web3.*not published/.test(l.msg)));
    const u = new URL(srv.requests[0]?.url ?? '/', 'http://x');
    assert.equal(u.pathname, '/containers/json');
    assert.deepEqual(JSON.parse(u.searchParams.get('filters') ?? 'null'), { label: ['proxied=true'] });

    // tcp:// scheme as in Docker's own configs
    const tcp = await dockerKind.fetch(dockerSettings(`tcp://127.0.0.1:${srv.port}`, { docker_container_label: '' }), fetchCtx());
    assert.equal(tcp.length, 2);
    assert.equal(new URL(srv.requests[srv.requests.length - 1]?.url ?? '/', 'http://x').search, '', 'no filter without a label');
  } finally {
    await srv.close();
  }
});

test('docker: host from the container env var (inspect call), else the usual rules', async () => {
  const srv = await startHttpServer(dockerHandler);
  try {
    const specs = await dockerKind.fetch(dockerSettings(`http://127.0.0.1:${srv.port}`, { docker_container_host_env_var: 'HOST_IP' }), fetchCtx());
    assert.deepEqual(specs.map((s) => `${s.host}:${s.port}`), ['192.168.7.7:32768', '10.1.1.1:8080']);
    assert.ok(srv.requests.some((r) => r.url === '/containers/aaa111/json'));
  } finally {
    await srv.close();
  }
});

test('docker over a unix socket: wildcard bindings use 0.0.0.0 (GoBetween), requests reach the socket', async () => {
  const sock = join(sockDir, 'docker.sock');
  const srv = await startHttpServer(dockerHandler, sock);
  try {
    const specs = await dockerKind.fetch(dockerSettings(`unix://${sock}`), fetchCtx());
    assert.deepEqual(specs.map((s) => `${s.host}:${s.port}`), ['0.0.0.0:32768', '10.1.1.1:8080']);
    assert.equal(srv.requests.length, 1);
  } finally {
    await srv.close();
  }
});

test('docker over HTTPS with client certificates', { skip: noOpenssl }, async () => {
  const k = pki;
  assert.ok(k !== undefined);
  const srv = await startHttpsServer({ cert: k.read(k.serverCert), key: k.read(k.serverKey), ca: k.read(k.caCert) }, dockerHandler);
  try {
    const s = dockerSettings(`tcp://127.0.0.1:${srv.port}`, {
      docker_tls_enabled: true, docker_tls_cert_path: k.clientCert, docker_tls_key_path: k.clientKey, docker_tls_cacert_path: k.caCert,
    });
    assert.equal(s.baseUrl, `https://127.0.0.1:${srv.port}`);
    assert.equal((await dockerKind.fetch(s, fetchCtx())).length, 2);
    // no CA given: the server certificate is not verified (GoBetween's sample config), client cert still sent
    const noCa = dockerSettings(`tcp://127.0.0.1:${srv.port}`, {
      docker_tls_enabled: true, docker_tls_cert_path: k.clientCert, docker_tls_key_path: k.clientKey,
    });
    assert.equal((await dockerKind.fetch(noCa, fetchCtx())).length, 2);
    const missing = dockerSettings(`tcp://127.0.0.1:${srv.port}`, {
      docker_tls_enabled: true, docker_tls_cert_path: join(k.dir, 'nope.crt'), docker_tls_key_path: k.clientKey,
    });
    await assert.rejects(dockerKind.fetch(missing, fetchCtx()), /ENOENT/);
  } finally {
    await srv.close();
  }
});

test('docker: API errors, garbage, hang, refusal', async () => {
  let mode = 'status';
  const sock = join(sockDir, 'bad.sock');
  const srv = await startHttpServer((_req, res) => {
    if (mode === 'hang') return hang();
    if (mode === 'status') {
      res.writeHead(500);
      res.end('{"message":"server error"}');
      return;
    }
    res.end('garbage');
  }, sock);
  const s = dockerSettings(`unix://${sock}`);
  try {
    await assert.rejects(dockerKind.fetch(s, fetchCtx()), /status 500/);
    mode = 'garbage';
    await assert.rejects(dockerKind.fetch(s, fetchCtx()), /invalid JSON/);
    mode = 'hang';
    await assert.rejects(dockerKind.fetch(s, fetchCtx(150)));
  } finally {
    await srv.close();
  }
  await assert.rejects(dockerKind.fetch(s, fetchCtx()), /ENOENT|ECONNREFUSED/);
});

test('docker: config validation', () => {
  assert.throws(() => dockerKind.parse(discoveryWire('docker'), P), (e: ConfigError) => e.path === `${P}.docker_endpoint`);
  assert.throws(() => dockerSettings('http://h:1', { docker_container_private_port: 0 }), (e: ConfigError) => e.path === `${P}.docker_container_private_port`);
  assert.throws(() => dockerSettings('http://h:1', { docker_tls_enabled: true, docker_tls_cert_path: '/c.pem' }),
    (e: ConfigError) => e.message === 'Missing key or certificate required for TLS client validation');
  assert.throws(() => dockerSettings('ftp://h:1'), (e: ConfigError) => e.path === `${P}.docker_endpoint`);
});
