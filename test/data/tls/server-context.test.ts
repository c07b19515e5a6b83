import assert from 'node:assert/strict';
import { copyFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TlsWire } from '../../../src/config/types.js';
import { StartError } from '../../../src/core/errors.js';
import { ServerTls } from '../../../src/data/tls/server-context.js';
import { makeTestPki, OPENSSL, type TestPki } from './pki.js';
import { handshake, tlsTerminator, waitFor } from './tls-helpers.js';

let pki: TestPki | undefined;
before(() => {
  if (OPENSSL !== undefined) pki = makeTestPki();
});
after(() => pki?.dispose());

function wire(p: TestPki, extra: Partial<TlsWire> = {}): TlsWire {
  return { acme_hosts: null, cert_path: p.cert, key_path: p.key, ciphers: null, min_version: '', max_version: '', session_tickets: false, ...extra };
}

async function withServer(st: ServerTls, fn: (port: number) => Promise<void>): Promise<void> {
  const srv = await tlsTerminator(() => st.context);
  try {
    await fn(srv.port);
  } finally {
    await srv.close();
    st.close();
  }
}

test('a missing certificate or key fails with the key path', (t) => {
  const p = pki;
  if (p === undefined) return t.skip('openssl not installed');
  assert.throws(() => new ServerTls(wire(p, { cert_path: '/nonexistent/x.pem' }), 'servers.web.tls'),
    (e: unknown) => e instanceof StartError && e.message.startsWith('servers.web.tls.cert_path: ') && e.message.includes('ENOENT'));
  assert.throws(() => new ServerTls(wire(p, { key_path: p.ca }), 'servers.web.tls'),
    (e: unknown) => e instanceof StartError && e.message.startsWith('servers.web.tls: '));
});

test('min/max versions bound what is negotiated', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  await withServer(new ServerTls(wire(pki, { min_version: 'tls1.3' }), 'tls'), async (port) => {
    assert.equal((await handshake(port, { maxVersion: 'TLSv1.2' })).ok, false);
    assert.equal((await handshake(port)).protocol, 'TLSv1.3');
  });
  await withServer(new ServerTls(wire(pki, { max_version: 'tls1.2' }), 'tls'), async (port) => {
    assert.equal((await handshake(port)).protocol, 'TLSv1.2');
  });
  await withServer(new ServerTls(wire(pki, { min_version: 'tls1', max_version: 'tls1' }), 'tls'), async (port) => {
    const h = await handshake(port, { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' });
    assert.equal(h.protocol, 'TLSv1', h.error);
  });
});

test('a cipher list restricts TLS <= 1.2; unknown names are dropped and reported; all unknown leaves TLS 1.3 only', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  const dropped: string[] = [];
  const st = new ServerTls(wire(pki, { ciphers: ['TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'TLS_NOT_A_CIPHER', 'TLS_RSA_WITH_RC4_128_SHA'] }), 'tls', {
    onDroppedCiphers: (n) => dropped.push(...n),
  });
  assert.deepEqual(dropped, ['TLS_NOT_A_CIPHER', 'TLS_RSA_WITH_RC4_128_SHA']);
  await withServer(st, async (port) => {
    assert.equal((await handshake(port, { maxVersion: 'TLSv1.2' })).cipher, 'ECDHE-ECDSA-AES256-GCM-SHA384');
    assert.equal((await handshake(port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' })).ok, false);
    assert.equal((await handshake(port)).protocol, 'TLSv1.3');
  });
  await withServer(new ServerTls(wire(pki, { ciphers: ['NOPE'] }), 'tls'), async (port) => {
    assert.equal((await handshake(port, { maxVersion: 'TLSv1.2' })).ok, false);
    assert.equal((await handshake(port)).protocol, 'TLSv1.3');
  });
});

test('session tickets: resumption only when session_tickets = true (TLS 1.2 and 1.3)', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    await withServer(new ServerTls(wire(pki, { session_tickets: true }), 'tls'), async (port) => {
      const first = await handshake(port, { maxVersion });
      assert.ok(first.session, `${maxVersion}: a ticket was issued`);
      const second = await handshake(port, { maxVersion, session: first.session as Buffer });
      assert.equal(second.reused, true, maxVersion);
    });
    await withServer(new ServerTls(wire(pki, { session_tickets: false }), 'tls'), async (port) => {
      const first = await handshake(port, { maxVersion });
      const second = await handshake(port, first.session === undefined ? { maxVersion } : { maxVersion, session: first.session });
      assert.equal(second.ok, true);
      assert.equal(second.reused, false, maxVersion);
    });
  }
});

test('the certificate is re-read when the files change; a bad pair keeps the old one', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  const p = pki;
  const cert = join(p.dir, 'live.crt');
  const key = join(p.dir, 'live.key');
  copyFileSync(p.cert, cert);
  copyFileSync(p.key, key);
  const failures: string[] = [];
  const st = new ServerTls(wire(p, { cert_path: cert, key_path: key }), 'tls', { onReloadFailed: (m) => failures.push(m) });
  st.watch({ watchIntervalMs: 50 });
  await withServer(st, async (port) => {
    assert.equal((await handshake(port)).subjectCn, 'tsbetween test server');
    // new cert, old key: does not load — still the old certificate
    p.issue('renewed', join(p.dir, 'renewed.crt'), join(p.dir, 'renewed.key'));
    copyFileSync(join(p.dir, 'renewed.crt'), `${cert}.tmp`);
    renameSync(`${cert}.tmp`, cert);
    await waitFor(() => failures.length > 0, 10000, 'a failed reload');
    assert.equal((await handshake(port)).subjectCn, 'tsbetween test server');
    copyFileSync(join(p.dir, 'renewed.key'), `${key}.tmp`);
    renameSync(`${key}.tmp`, key);
    await waitFor(async () => (await handshake(port)).subjectCn === 'renewed', 10000, 'the renewed certificate');
  });
});
