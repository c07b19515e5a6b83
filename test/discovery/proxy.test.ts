import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { httpRequest } from '../../src/discovery/http.js';
import { jsonKind } from '../../src/discovery/json.js';
import { proxyFor, useProxy } from '../../src/discovery/proxy-env.js';
import { discoveryWire, fetchCtx, jsonGroup, listenLoopback, sendJson, startHttpsServer } from './helpers.js';
import { makePki, OPENSSL, type Pki } from './tls-fixture.js';

test('NO_PROXY rules and loopback bypass', () => {
  assert.equal(useProxy('localhost', '80', ''), false);
  assert.equal(useProxy('127.0.0.5', '80', ''), false);
  assert.equal(useProxy('::1', '80', ''), false);
  assert.equal(useProxy('api.example.com', '80', ''), true);
  assert.equal(useProxy('api.example.com', '80', '*'), false);
  assert.equal(useProxy('api.example.com', '80', 'example.com'), false);
  assert.equal(useProxy('example.com', '80', 'example.com'), false);
  assert.equal(useProxy('example.com', '80', '.example.com'), true, 'leading dot: subdomains only');
  assert.equal(useProxy('a.example.com', '80', '*.example.com'), false);
  assert.equal(useProxy('badexample.com', '80', 'example.com'), true);
  assert.equal(useProxy('example.com', '8080', 'example.com:80'), true);
  assert.equal(useProxy('example.com', '80', ' other.org , example.com:80'), false);
  assert.equal(useProxy('10.1.2.3', '80', '10.0.0.0/8'), false);
  assert.equal(useProxy('11.1.2.3', '80', '10.0.0.0/8'), true);
  assert.equal(useProxy('10.1.2.3', '80', '10.1.2.3'), false);
  assert.equal(useProxy('2001:db8::1', '80', '[2001:db8::1]'), false);
});

test('proxy selection by scheme; scheme-less proxy addresses; unsupported schemes', () => {
  const e = { httpProxy: 'proxy.local:3128', httpsProxy: 'http://u:p%40ss@sproxy:8080', noProxy: '' };
  assert.deepEqual(proxyFor(new URL('http://svc.test/x'), e), { host: 'proxy.local', port: 3128, auth: '' });
  assert.deepEqual(proxyFor(new URL('https://svc.test/x'), e), { host: 'sproxy', port: 8080, auth: 'u:p@ss' });
  assert.equal(proxyFor(new URL('http://127.0.0.1:9/x'), e), undefined);
  assert.equal(proxyFor(new URL('http://svc.test/'), { ...e, httpProxy: '' }), undefined);
  assert.throws(() => proxyFor(new URL('http://svc.test/'), { ...e, httpProxy: 'socks5://p:1080' }), /unsupported proxy scheme/);
});

let proxy: http.Server;
let proxyPort = 0;
const seen: { method: string; url: string; auth: string | undefined; host: string | undefined }[] = [];
const tunnels = new Set<Socket>();
let tunnelTarget = 0;

before(async () => {
  proxy = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers['proxy-authorization'], host: req.headers.host });
    sendJson(res, [{ host: '10.7.7.7', port: 7 }]);
  });
  proxy.on('connect', (req: http.IncomingMessage, client: Socket) => {
    seen.push({ method: 'CONNECT', url: req.url ?? '', auth: req.headers['proxy-authorization'], host: req.headers.host });
    const up = net.connect(tunnelTarget, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection established\r\n\r\n');
      up.pipe(client);
      client.pipe(up);
    });
    tunnels.add(client).add(up);
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  proxyPort = await listenLoopback(proxy);
});

after(async () => {
  for (const s of tunnels) s.destroy();
  proxy.closeAllConnections();
  await new Promise<void>((r) => proxy.close(() => r()));
});

test('json discovery honours HTTP_PROXY (absolute-form request, Proxy-Authorization) and NO_PROXY', async () => {
  const saved = { h: process.env['HTTP_PROXY'], n: process.env['NO_PROXY'] };
  process.env['HTTP_PROXY'] = `http://user:secret@127.0.0.1:${proxyPort}`;
  delete process.env['NO_PROXY'];
  try {
    const s = jsonKind.parse(discoveryWire('json', { json: jsonGroup({ json_endpoint: 'http://registry.test:8500/v1/backends?x=1' }) }), 'p');
    const specs = await jsonKind.fetch(s, fetchCtx());
    assert.deepEqual(specs.map((x) => `${x.host}:${x.port}`), ['10.7.7.7:7']);
    const last = seen[seen.length - 1];
    assert.equal(last?.method, 'GET');
    assert.equal(last?.url, 'http://registry.test:8500/v1/backends?x=1');
    assert.equal(last?.host, 'registry.test:8500');
    assert.equal(last?.auth, `Basic ${Buffer.from('user:secret').toString('base64')}`);

    process.env['NO_PROXY'] = '.test';
    await assert.rejects(jsonKind.fetch(s, fetchCtx(2000)), 'direct connection to an unresolvable name fails');
  } finally {
    if (saved.h === undefined) delete process.env['HTTP_PROXY'];
    else process.env['HTTP_PROXY'] = saved.h;
    if (saved.n === undefined) delete process.env['NO_PROXY'];
    else process.env['NO_PROXY'] = saved.n;
  }
});

test('https through a CONNECT tunnel, certificate checked against the target name', { skip: OPENSSL === undefined ? 'openssl CLI not installed' : false }, async () => {
  const pki: Pki = makePki();
  const target = await startHttpsServer(
    { cert: pki.read(pki.serverCert), key: pki.read(pki.serverKey), ca: pki.read(pki.caCert) },
    (_req, res) => sendJson(res, { ok: true }),
  );
  tunnelTarget = target.port;
  try {
    const res = await httpRequest({
      url: `https://backends.test:${target.port}/list`,
      signal: AbortSignal.timeout(3000),
      proxyEnv: { httpProxy: '', httpsProxy: `127.0.0.1:${proxyPort}`, noProxy: '' },
      tls: { ca: pki.read(pki.caCert), cert: pki.read(pki.clientCert), key: pki.read(pki.clientKey), rejectUnauthorized: true },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body.toString()), { ok: true });
    const c = seen.find((x) => x.method === 'CONNECT');
    assert.equal(c?.url, `backends.test:${target.port}`);
  } finally {
    await target.close();
    pki.dispose();
  }
});
