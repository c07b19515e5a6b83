/**
 * ACME end to end through tsbetween itself: `[acme]` + a `tls` server with `acme_hosts`, pebble as
 * the CA (trusted through `root_ca_cert_path`), openssl s_client as the client, the REST API for
 * DELETE/POST. http-01 on `http_bind`, then tls-alpn-01 on the server's own TLS port.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:tls';
import { startApp, type App } from '../../src/app.js';
import { decodeConfig } from '../../src/config/decode.js';
import { silentLogger } from '../../src/core/log.js';
import { req } from '../api/http.js';
import { tempDir, type TempDir } from '../helpers/cli.js';
import { holdPort, type HeldPort } from '../helpers/net.js';
import { pebbleMissing, sClient, startPebble, type Pebble } from './pebble.js';

/** Echoes `echo:<data>` once per chunk. */
async function echoBackend(): Promise<Server> {
  const s = createServer((c) => {
    c.on('data', (d: Buffer) => c.write(`echo:${d.toString()}`));
    c.on('error', () => undefined);
  });
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

/** One request through the TLS server, verifying pebble's certificate for `servername`. */
function tlsEcho(port: number, servername: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername, ca }, () => s.write('ping'));
    s.setTimeout(20_000, () => s.destroy(new Error('timeout')));
    s.once('data', (d: Buffer) => {
      resolve(d.toString());
      s.destroy();
    });
    s.once('error', reject);
  });
}

describe('ACME through the tsbetween TLS server', { concurrency: false }, () => {
  let skipReason = pebbleMissing();
  let pebble: Pebble | undefined;
  let dir: TempDir;
  let httpPort = 0;
  let tlsPort = 0;
  const held: HeldPort[] = [];
  let root = '';
  let rootFile = '';
  let caFile = '';
  let backend: Server;

  before(async () => {
    dir = tempDir('tsb-acme-e2e-');
    backend = await echoBackend();
    if (skipReason !== undefined) return;
    // Held until each start: pebble is told them now, the app binds them seconds later.
    held.push(await holdPort(), await holdPort());
    [httpPort, tlsPort] = held.map((h) => h.port) as [number, number];
    try {
      pebble = await startPebble({ httpPort, tlsPort });
      root = await pebble.rootPem();
      rootFile = dir.write('root.pem', root);
      caFile = dir.write('directory-ca.pem', pebble.caPem);
    } catch (err) {
      skipReason = `pebble cannot start: ${(err as Error).message.slice(0, 300)}`;
    }
  });
  after(async () => {
    await pebble?.stop();
    await Promise.all(held.map((h) => h.release()));
    backend.close();
    dir.remove();
  });

  /** Starts the app on the held ports; they are held again once it has closed. */
  async function start(challenge: string, hosts: string[], cacheName: string): Promise<App> {
    assert.ok(pebble !== undefined);
    await Promise.all(held.map((h) => h.release()));
    const app = await startApp(appConfig(challenge, hosts, cacheName));
    const close = app.close.bind(app);
    app.close = async (graceMs: number) => {
      await close(graceMs);
      await Promise.all(held.map((h) => h.hold()));
    };
    return app;
  }

  function appConfig(challenge: string, hosts: string[], cacheName: string): Parameters<typeof startApp>[0] {
    assert.ok(pebble !== undefined);
    const config = {
      api: { enabled: true, bind: '127.0.0.1:0' },
      metrics: { enabled: false },
      acme: {
        challenge,
        http_bind: `127.0.0.1:${httpPort}`,
        cache_dir: `${dir.path}/${cacheName}`,
        directory_url: pebble.directoryUrl,
        root_ca_cert_path: caFile,
      },
      servers: {
        web: {
          protocol: 'tls',
          bind: `127.0.0.1:${tlsPort}`,
          tls: { acme_hosts: hosts },
          discovery: { kind: 'static', static_list: [`127.0.0.1:${(backend.address() as AddressInfo).port}`] },
        },
      },
    };
    return { config: decodeConfig(JSON.stringify(config), 'json').config, source: { kind: 'file', path: 'e2e.json' }, log: silentLogger, version: '0.8.2', startTime: new Date() };
  }

  it('http-01: first s_client handshake gets a pebble certificate, traffic flows; DELETE releases the host', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    const app = await start('http', ['g.test'], 'http');
    try {
      const hs = await sClient(tlsPort, 'g.test', rootFile);
      assert.ok(hs.ok, hs.output);
      assert.match(hs.issuer, /Pebble Intermediate CA/);
      assert.equal(await tlsEcho(tlsPort, 'g.test', root), 'echo:ping');
      const other = await sClient(tlsPort, 'x.test', rootFile);
      assert.equal(other.ok, false, 'a host not in acme_hosts fails the handshake');

      const api = app.apiAddress?.port ?? 0;
      const server = { protocol: 'tls', bind: '127.0.0.1:0', tls: { acme_hosts: ['g.test'] }, discovery: { kind: 'static', static_list: ['127.0.0.1:1'] } };
      const dup = await req(api, '/servers/dup', { method: 'POST', body: JSON.stringify(server) });
      assert.equal(dup.status, 409);
      assert.match(dup.body, /Acme host g\.test is already configured/);
      assert.equal((await req(api, '/servers/web', { method: 'DELETE' })).status, 200);
      const again = await req(api, '/servers/dup', { method: 'POST', body: JSON.stringify(server) });
      assert.equal(again.status, 200, again.body);
    } finally {
      await app.close(0);
    }
  });

  it('tls-alpn-01 answered on the server\'s own TLS port; a restart reuses the cache', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    let serial = '';
    const app = await start('tls-alpn', ['h.test'], 'alpn');
    try {
      const hs = await sClient(tlsPort, 'h.test', rootFile);
      assert.ok(hs.ok, hs.output);
      assert.match(hs.issuer, /Pebble Intermediate CA/);
      serial = hs.serial;
      assert.equal(await tlsEcho(tlsPort, 'h.test', root), 'echo:ping');
    } finally {
      await app.close(0);
    }
    const restarted = await start('tls-alpn', ['h.test'], 'alpn');
    try {
      const hs = await sClient(tlsPort, 'h.test', rootFile);
      assert.ok(hs.ok, hs.output);
      assert.equal(hs.serial, serial, 'the cached certificate, no new order');
    } finally {
      await restarted.close(0);
    }
  });
});
