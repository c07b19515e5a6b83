import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import type { BackendsTlsWire } from '../../../src/config/types.js';
import type { SnapshotBackend as Backend } from '../../../src/core/snapshot.js';
import { ConfigError } from '../../../src/core/errors.js';
import { BackendTls } from '../../../src/data/tls/backend-tls.js';
import { makeTestPki, OPENSSL, type TestPki } from './pki.js';

let pki: TestPki | undefined;
before(() => {
  if (OPENSSL !== undefined) pki = makeTestPki();
});
after(() => pki?.dispose());

function wire(extra: Partial<BackendsTlsWire> = {}): BackendsTlsWire {
  return { ignore_verify: false, root_ca_cert_path: null, cert_path: null, key_path: null, ciphers: null, min_version: '', max_version: '', session_tickets: false, ...extra };
}

interface Seen {
  servername: string | false | null;
  clientCn?: string;
}

/** A TLS backend recording what each client presented. */
async function tlsBackend(p: TestPki, opts: tls.TlsOptions = {}): Promise<{ port: number; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = tls.createServer({ cert: readPem(p.cert), key: readPem(p.key), ...opts }, (s) => {
    const peer = s.getPeerCertificate();
    const entry: Seen = { servername: s.servername };
    if (typeof peer.subject?.CN === 'string') entry.clientCn = peer.subject.CN;
    seen.push(entry);
    s.end('ok');
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function readPem(path: string): Buffer {
  return readFileSync(path);
}

/** Dials `port` as backend `host` through BackendTls; resolves with the reply or the error. */
function dial(bt: BackendTls, backend: Backend, port: number): Promise<{ ok: boolean; reused?: boolean; error?: string }> {
  return new Promise((resolve) => {
    const raw = net.connect(port, '127.0.0.1', () => {
      const t = bt.connect(raw, backend);
      t.on('secureConnect', () => {
        t.on('data', () => {});
        t.on('end', () => {
          resolve({ ok: true, reused: t.isSessionReused() });
          t.destroy();
        });
      });
      t.on('error', (e: Error) => {
        resolve({ ok: false, error: e.message });
        raw.destroy();
      });
    });
    raw.on('error', (e) => resolve({ ok: false, error: e.message }));
  });
}

function backend(host: string, port: number, sni = ''): Backend {
  return {
    slot: 0, key: `${host}:${port}`, host, port: String(port), dialHost: host, dialPort: port, dialFamily: net.isIP(host),
    weight: 1, priority: 1, sni, maxConnections: 0, live: true, eligible: true,
  };
}

test('ignore_verify accepts any certificate; without it an unknown CA is refused', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  const b = await tlsBackend(pki);
  try {
    assert.equal((await dial(new BackendTls(wire({ ignore_verify: true }), 'bt'), backend('127.0.0.1', b.port), b.port)).ok, true);
    const r = await dial(new BackendTls(wire(), 'bt'), backend('127.0.0.1', b.port), b.port);
    assert.equal(r.ok, false);
  } finally {
    await b.close();
  }
});

test('private CA: verified against the backend host; the wrong CA fails', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  const b = await tlsBackend(pki);
  try {
    assert.equal((await dial(new BackendTls(wire({ root_ca_cert_path: pki.ca }), 'bt'), backend('127.0.0.1', b.port), b.port)).ok, true);
    assert.equal((await dial(new BackendTls(wire({ root_ca_cert_path: pki.otherCa }), 'bt'), backend('127.0.0.1', b.port), b.port)).ok, false);
    // host not in the certificate: refused even though the SNI tag names a host that is
    assert.equal((await dial(new BackendTls(wire({ root_ca_cert_path: pki.ca }), 'bt'), backend('127.0.0.2', b.port, 'a.example'), b.port)).ok, false);
  } finally {
    await b.close();
  }
});

test('a client certificate the backend requires', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  const b = await tlsBackend(pki, { requestCert: true, rejectUnauthorized: true, ca: readPem(pki.ca) });
  try {
    const withCert = new BackendTls(wire({ root_ca_cert_path: pki.ca, cert_path: pki.clientCert, key_path: pki.clientKey }), 'bt');
    assert.equal((await dial(withCert, backend('127.0.0.1', b.port), b.port)).ok, true);
    assert.equal(b.seen.at(-1)?.clientCn, 'tsbetween-client');
    const without = await dial(new BackendTls(wire({ root_ca_cert_path: pki.ca }), 'bt'), backend('127.0.0.1', b.port), b.port);
    assert.equal(without.ok && b.seen.length > 1, false);
  } finally {
    await b.close();
  }
});

test('SNI sent: the backend sni tag, else a host name, never an IP literal', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  const b = await tlsBackend(pki);
  try {
    const bt = new BackendTls(wire({ root_ca_cert_path: pki.ca }), 'bt');
    assert.equal((await dial(bt, backend('127.0.0.1', b.port, 'a.example'), b.port)).ok, true);
    assert.equal((await dial(bt, backend('localhost', b.port), b.port)).ok, true);
    assert.equal((await dial(bt, backend('127.0.0.1', b.port), b.port)).ok, true);
    assert.deepEqual(b.seen.map((s) => s.servername), ['a.example', 'localhost', false]);
  } finally {
    await b.close();
  }
});

test('session_tickets = true resumes the session per backend; false never does', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  const b = await tlsBackend(pki);
  try {
    const on = new BackendTls(wire({ root_ca_cert_path: pki.ca, session_tickets: true }), 'bt');
    const be = backend('127.0.0.1', b.port);
    assert.equal((await dial(on, be, b.port)).reused, false);
    assert.equal((await dial(on, be, b.port)).reused, true);
    const off = new BackendTls(wire({ root_ca_cert_path: pki.ca }), 'bt');
    await dial(off, be, b.port);
    assert.equal((await dial(off, be, b.port)).reused, false);
  } finally {
    await b.close();
  }
});

test('a CA file without certificates or an unreadable file is a config error naming the key (fix D9)', (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  const empty = join(pki.dir, 'empty.pem');
  writeFileSync(empty, 'not a certificate\n');
  assert.throws(() => new BackendTls(wire({ root_ca_cert_path: empty }), 'servers.web.backends_tls'),
    (e: unknown) => e instanceof ConfigError && e.path === 'servers.web.backends_tls.root_ca_cert_path');
  assert.throws(() => new BackendTls(wire({ cert_path: '/nonexistent.pem', key_path: pki?.clientKey ?? '' }), 'servers.web.backends_tls'),
    (e: unknown) => e instanceof ConfigError && e.path === 'servers.web.backends_tls.cert_path');
});
