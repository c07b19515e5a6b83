/** AcmeManager without a CA: allow-list, cache files, back-off (an unreachable directory). */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { CertCache, splitKeyAndChain } from '../../src/acme/cache.js';
import { AcmeManager, renewalTime } from '../../src/acme/manager.js';
import { silentLogger } from '../../src/core/log.js';
import { tempDir } from '../helpers/cli.js';

const DAY = 86_400_000;

function manager(cacheDir: string, extra: { directory_url?: string; now?: () => number; log?: pino.Logger; challenge?: string } = {}): AcmeManager {
  return new AcmeManager({
    settings: { challenge: extra.challenge ?? 'http', http_bind: '127.0.0.1:0', cache_dir: cacheDir, directory_url: extra.directory_url },
    log: extra.log ?? silentLogger,
    retryMinMs: 60_000,
    ...(extra.now !== undefined ? { now: extra.now } : {}),
  });
}

/** A directory that answers 404 (connection errors are retried by acme-client for ~75 s). */
async function notFoundDirectory(): Promise<Server> {
  const dirServer = createServer((_req, res) => res.writeHead(404).end('no directory here'));
  dirServer.listen(0, '127.0.0.1');
  await once(dirServer, 'listening');
  return dirServer;
}

describe('AcmeManager', () => {
  it('host allow-list: union of servers, a host on two servers is refused, DELETE releases', () => {
    const m = manager('/nonexistent');
    m.claim('web', ['a.test', 'B.test']);
    m.claim('api', ['c.test']);
    assert.ok(m.isAllowed('b.test') && m.isAllowed('A.TEST.') && m.isAllowed('c.test'));
    assert.throws(() => m.claim('api2', ['x.test', 'a.test']), { message: 'Acme host a.test is already configured', path: 'servers.api2.tls.acme_hosts' });
    assert.equal(m.isAllowed('x.test'), false, 'a refused claim adds nothing');
    assert.throws(() => m.claim('evil', ['../etc/passwd']), /not a valid host name/);
    m.claim('web', ['a.test']); // re-claim by the same server (an update) is fine
    m.release('web');
    assert.equal(m.isAllowed('a.test'), false);
    assert.ok(m.isAllowed('c.test'));
    m.claim('api2', ['a.test']);
    m.close();
  });

  it('renewal time: the last third of the validity, at most 30 days before expiry', () => {
    assert.equal(renewalTime(0, 90 * DAY), 60 * DAY);
    assert.equal(renewalTime(0, 365 * DAY), 335 * DAY);
    assert.equal(renewalTime(0, 3 * DAY), 2 * DAY);
  });

  it('handshakes for unknown hosts and without SNI fail without an order', async () => {
    const m = manager('/nonexistent');
    m.claim('web', ['a.test']);
    await assert.rejects(m.certificate('z.test'), { message: 'Acme: host z.test is not configured' });
    await assert.rejects(m.certificate(''), /missing server name/);
    const err = await new Promise<Error | null>((resolve) => m.sniCallback()('z.test', (e) => resolve(e)));
    assert.match(String(err), /not configured/);
    assert.equal(m.orders, 0);
    m.close();
  });

  it('a failing directory: concurrent handshakes share one attempt, then back off (logged once per attempt)', async () => {
    const dir = tempDir('tsb-acme-unit-');
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(s) });
    const dirServer = await notFoundDirectory();
    const port = (dirServer.address() as AddressInfo).port;
    let now = 1_000_000;
    const m = manager(dir.path, { directory_url: `http://127.0.0.1:${port}/dir`, log, now: () => now });
    m.claim('web', ['a.test']);
    try {
      const all = await Promise.allSettled([m.certificate('a.test'), m.certificate('a.test'), m.certificate('a.test')]);
      assert.ok(all.every((r) => r.status === 'rejected'));
      const errors = (): string[] => lines.filter((l) => l.includes('"level":50'));
      await new Promise((r) => setImmediate(r));
      assert.equal(errors().length, 1, lines.join(''));
      assert.match(errors()[0] ?? '', /certificate for a\.test failed \(attempt 1, next in 60s\)/);
      // Inside the back-off window: fails fast, no new attempt, nothing logged.
      await assert.rejects(m.certificate('a.test'), /retrying later/);
      assert.equal(errors().length, 1);
      now += 61_000;
      await assert.rejects(m.certificate('a.test'));
      await new Promise((r) => setImmediate(r));
      assert.match(errors()[1] ?? '', /attempt 2, next in 120s/);
      // The account key was created and cached 0600 even though the directory is down.
      assert.equal(statSync(join(dir.path, 'acme_account+key')).mode & 0o777, 0o600);
    } finally {
      m.close();
      dirServer.close();
      dir.remove();
    }
  });

  it('reads a Go autocert cache file (SEC1 EC key + chain) without an order; ignores a wrong-host one', async (t) => {
    if (spawnSync('openssl', ['version']).status !== 0) return t.skip('openssl not installed');
    const dir = tempDir('tsb-acme-autocert-');
    try {
      const run = (args: string[]): void => {
        const r = spawnSync('openssl', args, { cwd: dir.path, encoding: 'utf8', timeout: 30_000 });
        assert.equal(r.status, 0, r.stderr);
      };
      run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'k.pem']);
      run(['req', '-x509', '-key', 'k.pem', '-out', 'c.pem', '-days', '30', '-subj', '/CN=a.test', '-addext', 'subjectAltName=DNS:a.test']);
      const key = readFileSync(join(dir.path, 'k.pem'), 'utf8');
      assert.match(key, /BEGIN EC PRIVATE KEY/);
      const chain = readFileSync(join(dir.path, 'c.pem'), 'utf8');
      const cacheDir = join(dir.path, 'cache');
      await new CertCache(cacheDir).put('a.test', key + chain);
      await new CertCache(cacheDir).put('b.test', key + chain); // a certificate for a.test under b.test
      const dirServer = await notFoundDirectory();
      t.after(() => dirServer.close());
      const m = manager(cacheDir, { directory_url: `http://127.0.0.1:${(dirServer.address() as AddressInfo).port}/dir` });
      m.claim('web', ['a.test', 'b.test']);
      const cert = await m.certificate('a.test');
      assert.ok(cert.notAfter > Date.now() + 29 * DAY);
      const ctx = await new Promise<unknown>((resolve, reject) => m.sniCallback()('a.test', (e, c) => (e === null ? resolve(c) : reject(e))));
      assert.ok(ctx !== undefined);
      assert.equal(m.orders, 0);
      await assert.rejects(m.certificate('b.test')); // not valid for b.test: ignored, and the order fails
      m.close();
    } finally {
      dir.remove();
    }
  });

  it('cache: atomic 0600 writes, no temporary files left, key/chain split', async () => {
    const dir = tempDir('tsb-acme-cache-');
    try {
      const c = new CertCache(join(dir.path, 'sub'));
      await c.put('a.test', 'one');
      await c.put('a.test', 'two');
      assert.equal(await c.get('a.test'), 'two');
      assert.equal(await c.get('b.test'), undefined);
      assert.deepEqual(readdirSync(join(dir.path, 'sub')), ['a.test']);
      assert.equal(statSync(join(dir.path, 'sub', 'a.test')).mode & 0o777, 0o600);
      assert.equal(statSync(join(dir.path, 'sub')).mode & 0o777, 0o700);
      await assert.rejects(c.put('../x', 'y'), /invalid cache name/);
      const pem = '-----BEGIN EC PRIVATE KEY-----\nk\n-----END EC PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\nc1\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nc2\n-----END CERTIFICATE-----\n';
      const parts = splitKeyAndChain(pem);
      assert.ok(parts !== undefined);
      assert.match(parts.key, /EC PRIVATE KEY/);
      assert.equal(parts.chain.match(/BEGIN CERTIFICATE/g)?.length, 2);
      assert.equal(splitKeyAndChain('nothing'), undefined);
    } finally {
      dir.remove();
    }
  });
});
