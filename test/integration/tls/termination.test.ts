/**
 * TLS termination through tsbetween, checked with `openssl s_client`: version bounds, cipher
 * restriction, session tickets on/off; handshake failures are closed before any backend
 * connection (fix D7), counted and logged with the peer address; a bad certificate file fails
 * the start naming the key. Plus TLS to backends (backends_tls) through tsbetween.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeTestPki, OPENSSL, type TestPki } from '../../data/tls/pki.js';
import { plainBackend, startTsb, staticList, tcpRequest, tlsBackend, tlsRequest, type Tsb } from './harness.js';
import { sClient } from './openssl.js';

let pki: TestPki | undefined;
let echo: Awaited<ReturnType<typeof plainBackend>> | undefined;

before(async () => {
  if (OPENSSL === undefined) return;
  pki = makeTestPki();
  echo = await plainBackend((d) => `got:${d.toString()}`);
});
after(async () => {
  await echo?.close();
  pki?.dispose();
});

async function withTls(tlsSection: Record<string, unknown>, fn: (port: number, tsb: Tsb) => Promise<void>, extra: Record<string, unknown> = {}): Promise<void> {
  const p = pki as TestPki;
  const tsb = await startTsb({
    s: { protocol: 'tls', tls: { cert_path: p.cert, key_path: p.key, ...tlsSection }, discovery: staticList([`127.0.0.1:${(echo as { port: number }).port}`]), ...extra },
  });
  try {
    await fn(tsb.ports['s'] as number, tsb);
  } finally {
    await tsb.close();
  }
}

test('s_client: min_version = "tls1.3" refuses a TLS 1.2 client; max_version = "tls1.2" caps it', async (t) => {
  if (pki === undefined || OPENSSL === undefined) return t.skip('openssl not installed');
  const ossl = OPENSSL;
  await withTls({ min_version: 'tls1.3' }, async (port) => {
    const old = await sClient(ossl, port, ['-tls1_2']);
    assert.equal(old.protocol, undefined, old.out);
    assert.notEqual(old.code, 0);
    const ok = await sClient(ossl, port, ['-tls1_3']);
    assert.equal(ok.protocol, 'TLSv1.3', ok.out);
    assert.match(ok.out, /got:hi/);
  });
  await withTls({ max_version: 'tls1.2' }, async (port) => {
    const r = await sClient(ossl, port, []);
    assert.equal(r.protocol, 'TLSv1.2', r.out);
    assert.match(r.out, /got:hi/);
  });
});

test('s_client: a cipher list restricts what TLS 1.2 negotiates', async (t) => {
  if (pki === undefined || OPENSSL === undefined) return t.skip('openssl not installed');
  const ossl = OPENSSL;
  await withTls({ max_version: 'tls1.2', ciphers: ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_NO_SUCH_CIPHER'] }, async (port, tsb) => {
    const r = await sClient(ossl, port, []);
    assert.equal(r.cipher, 'ECDHE-ECDSA-AES128-GCM-SHA256', r.out);
    const other = await sClient(ossl, port, ['-cipher', 'ECDHE-ECDSA-AES256-GCM-SHA384']);
    assert.equal(other.cipher, undefined, other.out);
    assert.ok(tsb.logs.some((l) => l.includes('tls.ciphers: dropped unknown or unavailable TLS_NO_SUCH_CIPHER')));
  });
});

test('s_client: session tickets on → the session is reused; off (the default) → never', async (t) => {
  if (pki === undefined || OPENSSL === undefined) return t.skip('openssl not installed');
  const ossl = OPENSSL;
  const p = pki;
  for (const [tickets, want] of [[true, 'Reused'], [false, 'New']] as const) {
    await withTls({ session_tickets: tickets }, async (port) => {
      for (const v of ['-tls1_2', '-tls1_3']) {
        const sess = join(p.dir, `sess-${String(tickets)}${v}`);
        const first = await sClient(ossl, port, [v, '-sess_out', sess]);
        assert.equal(first.session, 'New', first.out);
        const second = await sClient(ossl, port, [v, '-sess_in', sess]);
        assert.equal(second.session, want, `${v} tickets=${String(tickets)}: ${second.out}`);
      }
    });
  }
});

test('handshake failures: closed before any backend connection, counted and logged with the peer address', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  const be = await plainBackend(() => 'x');
  const p = pki;
  const tsb = await startTsb({ s: { protocol: 'tls', tls: { cert_path: p.cert, key_path: p.key }, discovery: staticList([`127.0.0.1:${be.port}`]) } });
  try {
    const port = tsb.ports['s'] as number;
    assert.equal(await tcpRequest(port, 'GET / HTTP/1.1\r\n\r\n', '127.0.0.5'), '');
    assert.equal(await tcpRequest(port, 'GET / HTTP/1.1\r\n\r\n', '127.0.0.5'), '');
    assert.equal(be.count, 0, 'no backend connection for a failed handshake');
    const lines = tsb.logs.filter((l) => l.includes('TLS handshake with 127.0.0.5:'));
    assert.ok(lines.length >= 1, tsb.logs.join('\n'));
    assert.match(lines.at(-1) ?? '', /\(2 handshake failures so far\)/);
    const ok = await tlsRequest(port, { ca: readFileSync(p.ca), rejectUnauthorized: true });
    assert.equal(ok.reply, 'x');
    // every lease released: failed handshakes and the served connection alike
    const active = (): number => (tsb.app.manager.stats('s') as unknown as { active_connections: number }).active_connections;
    const deadline = Date.now() + 10000;
    while (active() !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    assert.equal(active(), 0);
  } finally {
    await tsb.close();
    await be.close();
  }
});

test('a missing certificate fails the start naming the key; acme-only tls without [acme] is refused by name; a missing backends CA too', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  const p = pki;
  await assert.rejects(
    startTsb({ s: { protocol: 'tls', tls: { cert_path: '/nonexistent/cert.pem', key_path: p.key }, discovery: staticList(['127.0.0.1:1']) } }),
    (e: Error) => e.message.includes('servers.s.tls.cert_path') && e.message.includes('ENOENT'),
  );
  await assert.rejects(
    startTsb({ s: { protocol: 'tls', tls: { acme_hosts: ['a.example'] }, discovery: staticList(['127.0.0.1:1']) } }),
    (e: Error) => e.message.includes('acme_hosts need a root [acme] section'),
  );
  // backends_tls files are read when the server is created: the error names the key
  await assert.rejects(
    startTsb({ s: { backends_tls: { root_ca_cert_path: '/nonexistent/ca.pem' }, discovery: staticList(['127.0.0.1:1']) } }),
    (e: Error & { path?: string }) => e.path === 'servers.s.backends_tls.root_ca_cert_path' && e.message.includes('ENOENT'),
  );
});

test('backends_tls: ignore_verify, a private CA, a required client certificate; a wrong CA counts as refused', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  const p = pki;
  const opts = { cert: readFileSync(p.cert), key: readFileSync(p.key) };
  const plainTls = await tlsBackend('TLS', opts);
  const mtls = await tlsBackend('MTLS', { ...opts, requestCert: true, rejectUnauthorized: true, ca: readFileSync(p.ca) });
  const tsb = await startTsb({
    ignore: { backends_tls: { ignore_verify: true }, discovery: staticList([`127.0.0.1:${plainTls.port}`]) },
    ca: { backends_tls: { root_ca_cert_path: p.ca }, discovery: staticList([`127.0.0.1:${plainTls.port}`]) },
    client: { backends_tls: { root_ca_cert_path: p.ca, cert_path: p.clientCert, key_path: p.clientKey }, discovery: staticList([`127.0.0.1:${mtls.port}`]) },
    nocert: { backends_tls: { root_ca_cert_path: p.ca }, discovery: staticList([`127.0.0.1:${mtls.port}`]) },
    wrong: { backends_tls: { root_ca_cert_path: p.otherCa }, discovery: staticList([`127.0.0.1:${plainTls.port}`]) },
    system: { backends_tls: {}, discovery: staticList([`127.0.0.1:${plainTls.port}`]) },
  });
  try {
    assert.equal(await tcpRequest(tsb.ports['ignore'] as number, 'hi'), 'TLS');
    assert.equal(await tcpRequest(tsb.ports['ca'] as number, 'hi'), 'TLS');
    assert.equal(await tcpRequest(tsb.ports['client'] as number, 'hi'), 'MTLS');
    assert.equal(await tcpRequest(tsb.ports['nocert'] as number, 'hi'), '');
    assert.equal(await tcpRequest(tsb.ports['wrong'] as number, 'hi'), '');
    assert.equal(await tcpRequest(tsb.ports['system'] as number, 'hi'), '');
    const refused = (name: string): number => {
      const st = tsb.app.manager.stats(name) as unknown as { backends: Array<{ stats: { refused_connections: number; total_connections: number } }> };
      return st.backends[0]?.stats.refused_connections ?? -1;
    };
    assert.equal(refused('wrong'), 1);
    assert.equal(refused('system'), 1);
    assert.equal(refused('ca'), 0);
  } finally {
    await tsb.close();
    await plainTls.close();
    await mtls.close();
  }
});
