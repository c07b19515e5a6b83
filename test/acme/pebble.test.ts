/**
 * ACME against a real ACME server: pebble on loopback, its DNS (pebble-challtestsrv) resolving
 * the *.test names to 127.0.0.1, its validation authority pointed at this test's HTTP-01 and TLS
 * listeners. Handshakes are made by `openssl s_client`. The TLS listener is a minimal node:tls
 * server fed through `acceptWithAcme` (what the real TLS listener does).
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { startHttpChallenge, type HttpChallengeListener } from '../../src/acme/http-challenge.js';
import { AcmeManager, renewalTime, type AcmeManagerOptions } from '../../src/acme/manager.js';
import { acceptWithAcme } from './tls-rig.js';
import { silentLogger } from '../../src/core/log.js';
import { tempDir, type TempDir } from '../helpers/cli.js';
import { holdPort, type HeldPort } from '../helpers/net.js';
import { pebbleMissing, sClient, startPebble, type Pebble } from './pebble.js';

async function waitFor(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Rig {
  readonly manager: AcmeManager;
  readonly contexts: readonly unknown[];
  close(): Promise<void>;
}

describe('ACME against pebble', { concurrency: false }, () => {
  const missing = pebbleMissing();
  let pebble: Pebble | undefined;
  let skipReason = missing;
  let httpPort = 0;
  let tlsPort = 0;
  const held: HeldPort[] = [];
  let dir: TempDir;
  let rootFile = '';

  before(async () => {
    dir = tempDir('tsb-acme-');
    if (skipReason !== undefined) return;
    // Held between rigs: pebble is told them now, each rig binds them later.
    held.push(await holdPort(), await holdPort());
    [httpPort, tlsPort] = held.map((h) => h.port) as [number, number];
    try {
      pebble = await startPebble({ httpPort, tlsPort });
      rootFile = dir.write('pebble-root.pem', await pebble.rootPem());
    } catch (err) {
      skipReason = `pebble cannot start: ${(err as Error).message.slice(0, 300)}`;
    }
  });
  after(async () => {
    await pebble?.stop();
    await Promise.all(held.map((h) => h.release()));
    dir.remove();
  });

  /** An AcmeManager + HTTP-01 listener + a TLS listener on the ports pebble validates against. */
  async function rig(cacheDir: string, hosts: Record<string, string[]>, extra: Partial<AcmeManagerOptions> & { challenge?: string } = {}): Promise<Rig> {
    assert.ok(pebble !== undefined);
    const challenge = extra.challenge ?? 'http';
    await Promise.all(held.map((h) => h.release()));
    const manager = new AcmeManager({
      settings: { challenge, http_bind: `127.0.0.1:${httpPort}`, cache_dir: cacheDir, directory_url: pebble.directoryUrl },
      log: silentLogger,
      caPem: pebble.caPem,
      pollMinMs: 100,
      pollMaxMs: 500,
      retryMinMs: 200,
      ...extra,
    });
    for (const [server, list] of Object.entries(hosts)) manager.claim(server, list);
    let http: HttpChallengeListener | undefined;
    if (challenge === 'http') http = await startHttpChallenge({ bind: `127.0.0.1:${httpPort}`, tokens: (t) => manager.httpToken(t), log: silentLogger });
    // The server's own options reach every ACME context (here: TLS 1.2 at least).
    const contexts: unknown[] = [];
    const tlsServer = createTlsServer({ SNICallback: manager.sniCallback({ minVersion: 'TLSv1.2' }, (c) => contexts.push(c)) }, (s) => s.end('hello\n'));
    tlsServer.on('tlsClientError', () => undefined);
    const sockets = new Set<Socket>();
    const listener: NetServer = createNetServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      void acceptWithAcme(socket, manager, tlsServer);
    });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(tlsPort, '127.0.0.1', resolve);
    });
    return {
      manager,
      contexts,
      close: async () => {
        manager.close();
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => listener.close(() => r()));
        await http?.close();
        await Promise.all(held.map((h) => h.hold()));
      },
    };
  }

  it('first handshake gets a certificate from pebble via http-01, cached 0600; one order for concurrent handshakes', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    const cache = join(dir.path, 'http01');
    const r = await rig(cache, { web: ['a.test', 'b.test'] });
    try {
      const hs = await sClient(tlsPort, 'a.test', rootFile);
      assert.ok(hs.ok, hs.output);
      assert.match(hs.issuer, /Pebble Intermediate CA/);
      assert.equal(r.manager.orders, 1);
      const st = statSync(join(cache, 'a.test'));
      assert.equal(st.mode & 0o777, 0o600);
      assert.equal(statSync(join(cache, 'acme_account+key')).mode & 0o777, 0o600);

      const many = await Promise.all([1, 2, 3, 4].map(() => sClient(tlsPort, 'b.test', rootFile)));
      for (const h of many) assert.ok(h.ok, h.output);
      assert.equal(new Set(many.map((h) => h.serial)).size, 1);
      assert.equal(r.manager.orders, 2, 'four concurrent first handshakes for b.test made one order');
      assert.equal(r.contexts.length, 2, 'one context per certificate, reused by later handshakes');
    } finally {
      await r.close();
    }
    // A restart with the same cache directory: the cached certificate, no new order.
    const first = await (async () => {
      const again = await rig(cache, { web: ['a.test'] });
      try {
        const hs = await sClient(tlsPort, 'a.test', rootFile);
        assert.ok(hs.ok, hs.output);
        assert.equal(again.manager.orders, 0);
        return hs.serial;
      } finally {
        await again.close();
      }
    })();
    assert.notEqual(first, '');
  });

  it('a host not in acme_hosts fails the handshake and orders nothing', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    const r = await rig(join(dir.path, 'deny'), { web: ['a.test'] });
    try {
      const hs = await sClient(tlsPort, 'c.test', rootFile);
      assert.equal(hs.ok, false);
      assert.doesNotMatch(hs.output, /BEGIN CERTIFICATE/);
      assert.equal(r.manager.orders, 0);
    } finally {
      await r.close();
    }
  });

  it('tls-alpn-01 is answered on the TLS listener itself (no HTTP listener)', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    const r = await rig(join(dir.path, 'alpn'), { web: ['d.test'] }, { challenge: 'tls-alpn' });
    try {
      const hs = await sClient(tlsPort, 'd.test', rootFile);
      assert.ok(hs.ok, hs.output);
      assert.match(hs.issuer, /Pebble Intermediate CA/);
      assert.equal(r.manager.orders, 1);
    } finally {
      await r.close();
    }
  });

  it('renews near expiry without a restart (injected clock)', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    let offset = 0;
    const r = await rig(join(dir.path, 'renew'), { web: ['e.test'] }, { now: () => Date.now() + offset, renewCheckMs: 100 });
    try {
      const first = await sClient(tlsPort, 'e.test', rootFile);
      assert.ok(first.ok, first.output);
      const cert = await r.manager.certificate('e.test');
      // Jump to one minute past the renewal time: the renewal timer orders a new certificate.
      offset = renewalTime(cert.notBefore, cert.notAfter) + 60_000 - Date.now();
      await waitFor('the renewal', () => r.manager.orders === 2);
      await waitFor('the new certificate in use', () => r.manager.current('e.test') !== cert);
      const second = await sClient(tlsPort, 'e.test', rootFile);
      assert.ok(second.ok, second.output);
      assert.notEqual(second.serial, first.serial);
    } finally {
      await r.close();
    }
  });

  it('DELETE releases the host: handshakes fail, another server may claim it', async (t) => {
    if (skipReason !== undefined) return t.skip(skipReason);
    const r = await rig(join(dir.path, 'release'), { web: ['f.test'] });
    try {
      assert.ok((await sClient(tlsPort, 'f.test', rootFile)).ok);
      assert.throws(() => r.manager.claim('other', ['f.test']), { message: 'Acme host f.test is already configured' });
      r.manager.release('web');
      const denied = await sClient(tlsPort, 'f.test', rootFile);
      assert.equal(denied.ok, false);
      r.manager.claim('other', ['f.test']);
      assert.ok((await sClient(tlsPort, 'f.test', rootFile)).ok);
    } finally {
      await r.close();
    }
  });
});
