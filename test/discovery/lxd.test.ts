import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ConfigError } from '../../src/core/errors.js';
import { lxdKind } from '../../src/discovery/lxd.js';
import { discoveryWire, fetchCtx, hang, lxdGroup, sendJson, startHttpServer, startHttpsServer } from './helpers.js';
import { makePki, OPENSSL, type Pki } from './tls-fixture.js';

const P = 'servers.web.discovery';
const noOpenssl = OPENSSL === undefined ? 'openssl CLI not installed (needed to make test certificates)' : false;

let dir: string;
let pki: Pki | undefined;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsb-lxd-'));
  if (OPENSSL !== undefined) pki = makePki();
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
  pki?.dispose();
});

function nic(v4: string[], v6: { address: string; scope: string }[] = []) {
  return {
    addresses: [
      ...v4.map((address) => ({ family: 'inet', address, netmask: '24', scope: 'global' })),
      ...v6.map((a) => ({ family: 'inet6', address: a.address, netmask: '64', scope: a.scope })),
    ],
    state: 'up',
  };
}

const CONTAINERS = [
  {
    name: 'web1', status: 'Running', status_code: 103,
    config: { 'user.gobetween.label': 'web', 'user.gobetween.port': '8080', 'user.sni': 'web1.test' },
    expanded_config: { 'user.gobetween.label': 'web', 'image.os': 'debian' },
    state: { network: { eth0: nic(['10.0.3.11'], [{ address: 'fe80::1', scope: 'link' }, { address: 'fd00::11', scope: 'global' }]), lo: nic(['127.0.0.1']) } },
  },
  {
    name: 'web2', status: 'Running', config: { 'user.gobetween.label': 'web', 'user.iface': 'eth1' },
    state: { network: { eth0: nic(['10.0.3.12']), eth1: nic(['192.168.5.12']) } },
  },
  { name: 'stopped', status: 'Stopped', config: { 'user.gobetween.label': 'web' }, state: { network: {} } },
  { name: 'db', status: 'Running', config: { 'user.gobetween.label': 'db' }, state: { network: { eth0: nic(['10.0.3.20']) } } },
  { name: 'nolabel', status: 'Running', config: {}, state: { network: { eth0: nic(['10.0.3.30']) } } },
  { name: 'noaddr', status: 'Running', config: { 'user.gobetween.label': 'web' }, state: { network: { eth0: nic([]) } } },
];

function lxdHandler(opts: { instancesOnly?: boolean } = {}) {
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const u = new URL(req.url ?? '/', 'http://x');
    const ok = (u.pathname === '/1.0/containers' && opts.instancesOnly !== true) || u.pathname === '/1.0/instances';
    if (ok && u.searchParams.get('recursion') === '2') {
      sendJson(res, { type: 'sync', status: 'Success', status_code: 200, operation: '', error_code: 0, error: '', metadata: CONTAINERS });
      return;
    }
    sendJson(res, { type: 'error', status: '', status_code: 0, error_code: 404, error: 'not found' }, 404);
  };
}

function settings(address: string, g: Parameters<typeof lxdGroup>[0] = {}) {
  return lxdKind.parse(discoveryWire('lxd', { lxd: lxdGroup({ lxd_server_address: address, ...g }) }), P);
}

test('lxd over a unix socket: running + label filter, port key else port, interface key, sni key', async () => {
  const sock = join(dir, 'unix.socket');
  const srv = await startHttpServer(lxdHandler(), sock);
  try {
    const s = settings(`unix://${sock}`, {
      lxd_container_label_key: 'user.gobetween.label', lxd_container_label_value: 'web',
      lxd_container_port_key: 'user.gobetween.port', lxd_container_port: 80,
      lxd_container_interface_key: 'user.iface', lxd_container_sni_key: 'user.sni',
    });
    const c = fetchCtx();
    const specs = await lxdKind.fetch(s, c);
    assert.deepEqual(specs, [
      { host: '10.0.3.11', port: '8080', priority: 1, weight: 1, maxConnections: 0, sni: 'web1.test' },
      { host: '192.168.5.12', port: '80', priority: 1, weight: 1, maxConnections: 0, sni: '' },
    ]);
    assert.ok(c.lines.some((l) => l.level === 40 && /noaddr/.test(l.msg)));
    assert.equal(srv.requests[0]?.url, '/1.0/containers?recursion=2');

    // label key only (any value), fixed port, IPv6 (global address preferred over link-local)
    const v6 = settings(`unix://${sock}`, {
      lxd_container_label_key: 'user.gobetween.label', lxd_container_port: 443, lxd_container_address_type: 'IPv6',
    });
    const six = await lxdKind.fetch(v6, fetchCtx());
    assert.deepEqual(six.map((x) => `${x.host}:${x.port}`), ['[fd00::11]:443']);

    // no label filter: every running container with an address
    const all = await lxdKind.fetch(settings(`unix://${sock}`, { lxd_container_port: 22 }), fetchCtx());
    assert.deepEqual(all.map((x) => x.host), ['10.0.3.11', '10.0.3.12', '10.0.3.20', '10.0.3.30']);
  } finally {
    await srv.close();
  }
});

test('lxd: falls back to /1.0/instances when containers is absent', async () => {
  const sock = join(dir, 'instances.socket');
  const srv = await startHttpServer(lxdHandler({ instancesOnly: true }), sock);
  try {
    const specs = await lxdKind.fetch(settings(`unix://${sock}`, { lxd_container_port: 1, lxd_container_label_key: 'user.gobetween.label', lxd_container_label_value: 'db' }), fetchCtx());
    assert.deepEqual(specs.map((x) => `${x.host}:${x.port}`), ['10.0.3.20:1']);
    assert.deepEqual(srv.requests.map((r) => r.url), ['/1.0/containers?recursion=2', '/1.0/instances?recursion=2']);
  } finally {
    await srv.close();
  }
});

test('lxd over HTTPS with the lxc client certificate layout and the remote server certificate', { skip: noOpenssl }, async () => {
  const k = pki;
  assert.ok(k !== undefined);
  const conf = join(dir, 'lxc');
  mkdirSync(join(conf, 'servercerts'), { recursive: true });
  writeFileSync(join(conf, 'client.crt'), k.read(k.clientCert));
  writeFileSync(join(conf, 'client.key'), k.read(k.clientKey));
  const srv = await startHttpsServer({ cert: k.read(k.serverCert), key: k.read(k.serverKey), ca: k.read(k.caCert) }, lxdHandler());
  try {
    // server certificate not known and not accepted -> TLS error
    const strict = settings(`https://127.0.0.1:${srv.port}`, { lxd_config_directory: conf, lxd_container_port: 80, lxd_server_remote_name: 'lxd1' });
    await assert.rejects(lxdKind.fetch(strict, fetchCtx()));
    // accepted blindly
    const accept = settings(`https://127.0.0.1:${srv.port}`, { lxd_config_directory: conf, lxd_container_port: 80, lxd_accept_server_cert: true });
    assert.equal((await lxdKind.fetch(accept, fetchCtx())).length, 4);
    // trusted through servercerts/<remote>.crt
    writeFileSync(join(conf, 'servercerts', 'lxd1.crt'), k.read(k.caCert));
    assert.equal((await lxdKind.fetch(strict, fetchCtx())).length, 4);
    // generating certificates is not supported: a clear fetch error when they are missing
    const gen = settings(`https://127.0.0.1:${srv.port}`, { lxd_config_directory: join(dir, 'empty'), lxd_generate_client_certs: true, lxd_container_port: 80 });
    await assert.rejects(lxdKind.fetch(gen, fetchCtx()), /not supported/);
  } finally {
    await srv.close();
  }
});

test('lxd: error documents, garbage, hang and a missing socket fail the fetch', async () => {
  let mode = 'error';
  const sock = join(dir, 'bad.socket');
  const srv = await startHttpServer((_req, res) => {
    if (mode === 'hang') return hang();
    if (mode === 'error') {
      sendJson(res, { type: 'error', error: 'not authorized', error_code: 403 }, 403);
      return;
    }
    res.end(mode === 'garbage' ? '<<<>>>' : '{"type":"sync","metadata":{"not":"a list"}}');
  }, sock);
  const s = settings(`unix://${sock}`, { lxd_container_port: 80 });
  try {
    await assert.rejects(lxdKind.fetch(s, fetchCtx()), /not authorized/);
    mode = 'garbage';
    await assert.rejects(lxdKind.fetch(s, fetchCtx()), /invalid JSON/);
    mode = 'shape';
    await assert.rejects(lxdKind.fetch(s, fetchCtx()), /unexpected/);
    mode = 'hang';
    await assert.rejects(lxdKind.fetch(s, fetchCtx(150)));
  } finally {
    await srv.close();
  }
  await assert.rejects(lxdKind.fetch(s, fetchCtx()), /ENOENT|ECONNREFUSED/);
});

test('lxd: GoBetween validation messages and defaults', () => {
  assert.throws(() => lxdKind.parse(discoveryWire('lxd'), P), (e: ConfigError) => e.path === `${P}.lxd_server_address`);
  assert.throws(() => settings(''), (e: ConfigError) => e.message === 'lxd_server_address is required');
  assert.throws(() => settings('http://lxd:8443'),
    (e: ConfigError) => e.message === 'lxd_server_address should start with either unix:// or https:// but got http://lxd:8443');
  assert.throws(() => settings('unix:///x', { lxd_container_address_type: 'ipv4' }),
    (e: ConfigError) => e.message === 'Invalid lxd_container_address_type. Must be IPv4 or IPv6' && e.path === `${P}.lxd_container_address_type`);
  const s = settings('unix:///var/lib/lxd/unix.socket');
  assert.equal(s.remoteName, 'local');
  assert.equal(s.iface, 'eth0');
  assert.equal(s.family, 'inet');
  assert.ok(s.configDir.endsWith('/.config/lxc') && !s.configDir.includes('$'));
});
