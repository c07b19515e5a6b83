/**
 * GoBetween's own sample config (../shared/fixtures/gobetween-sample.toml) with its commented
 * example server — backends_tls, sni, tls, access and proxy_protocol sections — uncommented as a
 * user would: it starts, terminates TLS (min tls1, max tls1.2), routes on SNI, re-encrypts to
 * the backends with a client certificate and applies the access rules. Only paths, the bind and
 * the backend addresses are substituted. Skipped when ../shared is absent.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { startApp } from '../../../src/app.js';
import { decodeConfig } from '../../../src/config/decode.js';
import { freePort } from '../../helpers/cli.js';
import { makeTestPki, OPENSSL, type TestPki } from '../../data/tls/pki.js';
import { tlsBackend, tlsRequest } from './harness.js';

const SAMPLE = fileURLToPath(new URL('../../../../shared/fixtures/gobetween-sample.toml', import.meta.url));

let pki: TestPki | undefined;
before(() => {
  if (OPENSSL !== undefined) pki = makeTestPki();
});
after(() => pki?.dispose());

/** The commented `[servers.default]` example, uncommented: key lines and section headers only. */
function exampleServer(text: string, sections: readonly string[]): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('#[servers.default]'));
  const out: string[] = [];
  let keep = true;
  let inList = false;
  for (const line of lines.slice(start)) {
    const m = /^#\s*(\[servers\.default(?:\.(\w+))?\])/.exec(line);
    if (m !== null) {
      keep = m[2] === undefined || sections.includes(m[2]);
      if (keep) out.push(m[1] as string);
      continue;
    }
    if (!keep) continue;
    const body = line.replace(/^#\s*/, '');
    if (inList) {
      out.push(body.replace(/#.*$/, ''));
      if (body.trimStart().startsWith(']')) inList = false;
      continue;
    }
    if (/^[a-z_]+\s*=/.test(body)) {
      out.push(body.replace(/\s+#.*$/, ''));
      if (/=\s*\[\s*(#.*)?$/.test(body)) inList = true;
    }
  }
  return out.join('\n');
}

test("GoBetween's sample server with backends_tls, sni, tls, access and proxy_protocol starts and serves", async (t) => {
  if (!existsSync(SAMPLE)) return t.skip('../shared is absent');
  const p = pki;
  if (p === undefined) return t.skip('openssl not installed');
  const text = readFileSync(SAMPLE, 'utf8');
  const opts = { cert: readFileSync(p.cert), key: readFileSync(p.key), requestCert: true, rejectUnauthorized: true, ca: readFileSync(p.ca) };
  const dflt = await tlsBackend('default-backend', opts);
  const foo = await tlsBackend('foo-backend', opts);
  const port = await freePort();
  let server = exampleServer(text, ['backends_tls', 'sni', 'tls', 'access', 'proxy_protocol', 'discovery']);
  // The discovery example lists every kind; keep the static one.
  server = server.replace(/\nkind = "srv"[\s\S]*$/, '');
  server = server
    .replace('bind = "localhost:3000"', `bind = "127.0.0.1:${port}"`)
    .replace('root_ca_cert_path = "/path/to/file.pem"', `root_ca_cert_path = "${p.ca}"`)
    .replace(/\[servers\.default\.backends_tls\]([\s\S]*?)cert_path = "\/path\/to\/file\.crt"/, `[servers.default.backends_tls]$1cert_path = "${p.clientCert}"`)
    .replace(/\[servers\.default\.backends_tls\]([\s\S]*?)key_path = "\/path\/to\/file\.key"/, `[servers.default.backends_tls]$1key_path = "${p.clientKey}"`)
    .replace('cert_path = "/path/to/file.crt"', `cert_path = "${p.cert}"`)
    .replace('key_path = "/path/to/file.key"', `key_path = "${p.key}"`)
    .replace('"localhost:8000 weight=5"', `"localhost:${dflt.port} weight=5"`)
    .replace('"localhost:8001 sni=www.foo.com"', `"localhost:${foo.port} sni=www.foo.com"`);
  assert.match(server, /\[servers\.default\.proxy_protocol\]\nversion = "1"/);
  // With every section, as written, the server starts (the PROXY header then goes to the
  // backends before TLS, which these test backends do not expect: checked with HAProxy elsewhere).
  const full = await startApp({
    config: decodeConfig(`[servers]\n${server}\n`, 'toml').config,
    source: { kind: 'file', path: 'sample.toml' }, version: '0.8.2', startTime: new Date(), log: pino({ level: 'silent' }),
  });
  try {
    assert.deepEqual(full.manager.names(), ['default']);
  } finally {
    await full.close(0);
  }
  server = server.replace(/\[servers\.default\.proxy_protocol\]\nversion = "1"/, '');
  assert.match(server, /\[servers\.default\.tls\]/);
  assert.match(server, /\[servers\.default\.sni\]/);
  const { config, warnings } = decodeConfig(`[servers]\n${server}\n`, 'toml');
  // prefer_server_ciphers (removed in GoBetween 0.8.1) is reported, as any unknown key
  assert.ok(warnings.every((w) => w.includes('prefer_server_ciphers')), warnings.join('\n'));
  const logs: string[] = [];
  const app = await startApp({
    config, source: { kind: 'file', path: 'sample.toml' }, version: '0.8.2', startTime: new Date(),
    log: pino({ level: 'info' }, { write: (l: string) => void logs.push(l) }),
  });
  try {
    const ca = readFileSync(p.ca);
    // tls max_version = "tls1.2"; the sni section routes www.foo.com to its tagged backend
    const foo1 = await tlsRequest(port, { servername: 'www.foo.com', ca, rejectUnauthorized: false, localAddress: '127.0.0.5' });
    assert.equal(foo1.reply, 'foo-backend', JSON.stringify(foo1) + logs.join(''));
    const other = await tlsRequest(port, { servername: 'other.example', localAddress: '127.0.0.5' });
    assert.equal(other.reply, 'default-backend');
    // access: "deny 127.0.0.1"
    assert.equal((await tlsRequest(port, { servername: 'www.foo.com' })).reply, '');
    assert.deepEqual(foo.names, ['www.foo.com'], 'SNI to the backend: its sni tag');
  } finally {
    await app.close(0);
    await dflt.close();
    await foo.close();
  }
});
