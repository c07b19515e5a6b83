import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigError } from '../../src/core/errors.js';
import { compileDiscovery, createDiscoveryRegistry, startDiscovery } from '../../src/discovery/index.js';
import { jsonKind } from '../../src/discovery/json.js';
import { lookupJson, parseJsonPath } from '../../src/discovery/json-path.js';
import { plaintextKind } from '../../src/discovery/plaintext.js';
import {
  captureLogger, discoveryWire, fetchCtx, hang, jsonGroup, keys, plaintextGroup, recorder, sendJson, sleep,
  startHttpServer, waitFor,
} from './helpers.js';

const P = 'servers.web.discovery';

function jsonSettings(url: string, g: Parameters<typeof jsonGroup>[0] = {}) {
  return jsonKind.parse(discoveryWire('json', { json: jsonGroup({ json_endpoint: url, ...g }) }), P);
}

function plainSettings(url: string, pattern = '') {
  return plaintextKind.parse(discoveryWire('plaintext', { plaintext: plaintextGroup({ plaintext_endpoint: url, plaintext_regex_pattern: pattern }) }), P);
}

test('json path syntax: dots, [n], key[n], quotes', () => {
  assert.deepEqual(parseJsonPath('a.b'), ['a', 'b']);
  assert.deepEqual(parseJsonPath('addrs.[1].ip'), ['addrs', 1, 'ip']);
  assert.deepEqual(parseJsonPath('addrs[0][2]'), ['addrs', 0, 2]);
  assert.deepEqual(parseJsonPath(`'a.b'.c`), ['a.b', 'c']);
  assert.deepEqual(parseJsonPath('"x.y"'), ['x.y']);
  assert.throws(() => parseJsonPath('"open'));
  assert.deepEqual(lookupJson({ a: [{ b: 1 }] }, ['a', 0, 'b']), { found: true, value: 1 });
  assert.deepEqual(lookupJson({ a: [] }, ['a', 0]), { found: false });
  assert.deepEqual(lookupJson({ a: 'str' }, ['a', 'b']), { found: false });
  assert.deepEqual(lookupJson({ a: null }, ['a']), { found: true, value: null });
});

test('json: default shape, port as string or number, defaults, IPv6 bracketed, status ignored', async () => {
  const srv = await startHttpServer((_req, res) => sendJson(res, [
    { host: '10.0.0.1', port: '8080', weight: 5, priority: 2, sni: 'a.example.com', max_connections: 3 },
    { host: '10.0.0.2', port: 8081, weight: 'heavy', priority: 2.9 },
    { host: '2001:db8::1', port: 9000, sni: 7 },
  ], 503));
  try {
    const specs = await jsonKind.fetch(jsonSettings(`${srv.url}/backends`), fetchCtx());
    assert.deepEqual(specs, [
      { host: '10.0.0.1', port: '8080', weight: 5, priority: 2, maxConnections: 3, sni: 'a.example.com' },
      { host: '10.0.0.2', port: '8081', weight: 1, priority: 2, maxConnections: 0, sni: '' },
      { host: '[2001:db8::1]', port: '9000', weight: 1, priority: 1, maxConnections: 0, sni: '' },
    ]);
    assert.equal(srv.requests[0]?.method, 'GET');
    assert.equal(srv.requests[0]?.url, '/backends');
  } finally {
    await srv.close();
  }
});

test('json: custom nested patterns and a redirect', async () => {
  const srv = await startHttpServer((req, res) => {
    if (req.url === '/old') {
      res.writeHead(302, { location: '/new' });
      res.end();
      return;
    }
    sendJson(res, [{ node: { addrs: ['x', '10.1.0.1'], 'svc.port': 80, meta: { w: 7, p: 3, n: 'n.test', max: 9 } } }]);
  });
  try {
    const s = jsonSettings(`${srv.url}/old`, {
      json_host_pattern: 'node.addrs.[1]', json_port_pattern: `node.'svc.port'`, json_weight_pattern: 'node.meta.w',
      json_priority_pattern: 'node.meta.p', json_sni_pattern: 'node.meta.n', json_max_connections_pattern: 'node.meta.max',
    });
    assert.deepEqual(await jsonKind.fetch(s, fetchCtx()), [
      { host: '10.1.0.1', port: '80', weight: 7, priority: 3, maxConnections: 9, sni: 'n.test' },
    ]);
  } finally {
    await srv.close();
  }
});

test('json: garbage, wrong shapes, refused connection and a hanging endpoint fail the fetch', async () => {
  let body = '';
  const srv = await startHttpServer((req, res) => {
    if (req.url === '/hang') return hang();
    res.end(body);
  });
  try {
    const s = jsonSettings(srv.url);
    body = '<html>oops</html>';
    await assert.rejects(jsonKind.fetch(s, fetchCtx()), /invalid json/);
    body = '{"host":"a","port":1}';
    await assert.rejects(jsonKind.fetch(s, fetchCtx()), /^Error: Unexpected json in response$/);
    body = '[{"port":1}]';
    await assert.rejects(jsonKind.fetch(s, fetchCtx()), /host is missing/);
    body = '[{"host":"a"}]';
    await assert.rejects(jsonKind.fetch(s, fetchCtx()), /port is missing/);
    body = '[{"host":1,"port":1}]';
    await assert.rejects(jsonKind.fetch(s, fetchCtx()), /host/);
    body = '[]';
    assert.deepEqual(await jsonKind.fetch(s, fetchCtx()), []);
    const t0 = Date.now();
    await assert.rejects(jsonKind.fetch(jsonSettings(`${srv.url}/hang`), fetchCtx(150)));
    assert.ok(Date.now() - t0 < 1500);
  } finally {
    await srv.close();
  }
  await assert.rejects(jsonKind.fetch(jsonSettings(srv.url), fetchCtx()), /ECONNREFUSED/);
});

test('json through the runner: hanging endpoint times out, keeplast keeps, recovery publishes', async () => {
  let mode: 'ok' | 'hang' | 'ok2' = 'ok';
  const srv = await startHttpServer((_req, res) => {
    if (mode === 'hang') return hang();
    sendJson(res, mode === 'ok' ? [{ host: '127.0.0.1', port: 1 }] : [{ host: '127.0.0.1', port: 2 }]);
  });
  const rec = recorder();
  const cap = captureLogger();
  const compiled = compileDiscovery(discoveryWire('json', {
    interval: '50ms', timeout: '100ms', json: jsonGroup({ json_endpoint: srv.url }),
  }), P, createDiscoveryRegistry());
  const h = startDiscovery(compiled, { serverName: 'web', log: cap.log, onResult: rec.onResult, retryWaitMs: 50 });
  try {
    await waitFor(() => rec.results.length >= 1);
    mode = 'hang';
    await waitFor(() => cap.lines.some((l) => /json error timeout after 100ms/.test(l.msg)), 3000, 'timeout');
    assert.deepEqual(keys(rec.last()), ['127.0.0.1:1']);
    mode = 'ok2';
    await waitFor(() => keys(rec.last()).join() === '127.0.0.1:2', 3000, 'recovery');
  } finally {
    h.stop();
    await srv.close();
  }
});

test('json: config validation', () => {
  assert.throws(() => jsonKind.parse(discoveryWire('json'), P), (e: ConfigError) => e.path === `${P}.json_endpoint` && e.message === 'required');
  assert.throws(() => jsonSettings('ftp://x/'), (e: ConfigError) => e.path === `${P}.json_endpoint`);
  assert.throws(() => jsonSettings('http://x/', { json_host_pattern: "'open" }), (e: ConfigError) => e.path === `${P}.json_host_pattern`);
});

test('plaintext: default grammar, CRLF, blank and bad lines warned and skipped', async () => {
  const srv = await startHttpServer((_req, res) => {
    res.end('10.0.0.1:80 weight=3 priority=2 sni=a.test\r\n\n  \n[::1]:81\nnot a backend\n10.0.0.2:82 priority=1 weight=2\n10.0.0.3:83 max_connections=4');
  });
  try {
    const c = fetchCtx();
    const specs = await plaintextKind.fetch(plainSettings(srv.url), c);
    assert.deepEqual(specs, [
      { host: '10.0.0.1', port: '80', weight: 3, priority: 2, maxConnections: 0, sni: 'a.test' },
      { host: '[::1]', port: '81', weight: 1, priority: 1, maxConnections: 0, sni: '' },
      { host: '10.0.0.3', port: '83', weight: 1, priority: 1, maxConnections: 4, sni: '' },
    ]);
    // one warning per fetch (issue 12): the count and the first bad line
    assert.deepEqual(c.lines.filter((l) => l.level === 40).map((l) => l.msg), ['2 lines skipped, first: Cant parse not a backend']);
  } finally {
    await srv.close();
  }
});

test('plaintext: custom Go regexp with (?P<name>) groups, first match, missing groups default', async () => {
  const srv = await startHttpServer((_req, res) => {
    res.end('node web1.local port 8080 w 5\nnode web2.local port 8081\njunk\n');
  });
  try {
    const s = plainSettings(srv.url, String.raw`node (?P<host>[\w.]+) port (?P<port>\d+)( w (?P<weight>\d+))?`);
    const specs = await plaintextKind.fetch(s, fetchCtx());
    assert.deepEqual(specs.map((x) => `${x.host}:${x.port} w${x.weight} p${x.priority}`), [
      'web1.local:8080 w5 p1', 'web2.local:8081 w1 p1',
    ]);
  } finally {
    await srv.close();
  }
});

test('plaintext: invalid regexp is a config error; garbage gives an empty list; hang and refusal fail', async () => {
  assert.throws(() => plainSettings('http://127.0.0.1:1/', '(?P<host>[a-'), (e: ConfigError) => e.path === `${P}.plaintext_regex_pattern`);
  assert.throws(() => plaintextKind.parse(discoveryWire('plaintext'), P), (e: ConfigError) => e.path === `${P}.plaintext_endpoint`);
  const srv = await startHttpServer((req, res) => {
    if (req.url === '/hang') return hang();
    res.end('\u0000\u0001garbage\n%%%%');
  });
  try {
    const c = fetchCtx();
    assert.deepEqual(await plaintextKind.fetch(plainSettings(srv.url), c), []);
    assert.deepEqual(c.lines.filter((l) => l.level === 40).map((l) => l.msg), ['2 lines skipped, first: Cant parse \\x00\\x01garbage']);
    await assert.rejects(plaintextKind.fetch(plainSettings(`${srv.url}/hang`), fetchCtx(150)));
  } finally {
    await srv.close();
  }
  await assert.rejects(plaintextKind.fetch(plainSettings(srv.url), fetchCtx()), /ECONNREFUSED/);
  await sleep(0);
});
