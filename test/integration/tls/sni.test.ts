/**
 * SNI routing (data-plane §5): passthrough on a tcp server to two TLS backends tagged
 * sni=a.example / sni=b.example (plus an untagged one), exact and regexp matching, the reject /
 * default / any strategies; the same routing on a terminating tls server; a ClientHello split
 * over several segments (fix D4) still routes, and the backend receives the bytes untouched.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { makeTestPki, OPENSSL, type TestPki } from '../../data/tls/pki.js';
import { plainBackend, staticList, tlsBackend, tlsRequest, withTsb } from './harness.js';

let pki: TestPki | undefined;
let peers: Array<{ port: number; close(): Promise<void> }> = [];
let aPort = 0;
let bPort = 0;
let cPort = 0;

before(async () => {
  if (OPENSSL === undefined) return;
  pki = makeTestPki();
  const opts = { cert: readFileSync(pki.cert), key: readFileSync(pki.key) };
  const a = await tlsBackend('A', opts);
  const b = await tlsBackend('B', opts);
  const c = await tlsBackend('C', opts);
  peers = [a, b, c];
  [aPort, bPort, cPort] = [a.port, b.port, c.port];
});
after(async () => {
  await Promise.all(peers.map((p) => p.close()));
  pki?.dispose();
});

function backends(tagA = 'a.example', tagB = 'b.example', untagged = true): Record<string, unknown> {
  const list = [`127.0.0.1:${aPort} sni=${tagA}`, `127.0.0.1:${bPort} sni=${tagB}`];
  if (untagged) list.push(`127.0.0.1:${cPort}`);
  return staticList(list);
}

const ask = async (port: number, servername?: string): Promise<string> =>
  (await tlsRequest(port, servername === undefined ? {} : { servername })).reply;

test('passthrough, exact: case-insensitive names; default strategy sends unknown names to the untagged backend', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  await withTsb({ s: { sni: {}, discovery: backends() } }, async (tsb) => {
    const p = tsb.ports['s'] as number;
    assert.equal(await ask(p, 'a.example'), 'A');
    assert.equal(await ask(p, 'B.Example'), 'B');
    assert.equal(await ask(p, 'unknown.example'), 'C');
    assert.equal(await ask(p), 'C'); // no SNI matches the untagged backend
  });
  // default without untagged backends: unknown names and no-SNI clients are closed
  await withTsb({ s: { sni: { unexpected_hostname_strategy: 'default' }, discovery: backends('a.example', 'b.example', false) } }, async (tsb) => {
    const p = tsb.ports['s'] as number;
    assert.equal(await ask(p, 'unknown.example'), '');
    assert.equal(await ask(p), '');
    assert.equal(await ask(p, 'a.example'), 'A');
  });
});

test('passthrough, reject and any strategies', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  await withTsb({ s: { sni: { unexpected_hostname_strategy: 'reject' }, discovery: backends() } }, async (tsb) => {
    const p = tsb.ports['s'] as number;
    assert.equal(await ask(p, 'unknown.example'), '');
    assert.equal(await ask(p, 'b.example'), 'B');
    assert.ok(tsb.logs.some((l) => l.includes("No matching sni [unknown.example] found, rejecting due to 'reject' unexpected hostname strategy")));
  });
  await withTsb({ s: { sni: { unexpected_hostname_strategy: 'any' }, balance: 'roundrobin', discovery: backends('a.example', 'b.example', false) } }, async (tsb) => {
    const p = tsb.ports['s'] as number;
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add(await ask(p, 'unknown.example'));
    assert.deepEqual([...seen].sort(), ['A', 'B']);
  });
});

test('passthrough, regexp: unanchored as GoBetween; anchored patterns', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  await withTsb({ s: { sni: { hostname_matching_strategy: 'regexp', unexpected_hostname_strategy: 'reject' }, discovery: backends('^a\\.example$', 'b\\.example') } }, async (tsb) => {
    const p = tsb.ports['s'] as number;
    assert.equal(await ask(p, 'a.example'), 'A');
    assert.equal(await ask(p, 'xa.example'), '');
    assert.equal(await ask(p, 'evil-b.example.attacker.net'), 'B');
  });
});

test('a ClientHello sent in several segments still routes, and the backend sees the same bytes', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  const hello = readFileSync(new URL('../../fixtures/tls/hello-mlkem.bin', import.meta.url));
  const seen = await plainBackend((d) => `len=${d.length}`, (b) => b.length >= hello.length);
  const other = await plainBackend(() => 'wrong');
  try {
    await withTsb({ s: { sni: { read_timeout: '5s' }, discovery: staticList([`127.0.0.1:${seen.port} sni=pq.example`, `127.0.0.1:${other.port}`]) } }, async (tsb) => {
      const reply = await new Promise<string>((resolve) => {
        let out = '';
        const c = net.connect(tsb.ports['s'] as number, '127.0.0.1', () => {
          c.write(hello.subarray(0, 100));
          setTimeout(() => c.write(hello.subarray(100, 1000)), 100);
          setTimeout(() => c.write(hello.subarray(1000)), 200);
        });
        c.on('data', (d: Buffer) => {
          out += d.toString();
        });
        c.on('error', () => {});
        c.on('close', () => resolve(out));
      });
      assert.equal(reply, `len=${hello.length}`);
      assert.ok(seen.received[0]?.equals(hello), 'replayed bytes unchanged');
    });
  } finally {
    await seen.close();
    await other.close();
  }
});

test('silent clients are closed after read_timeout; plain-text clients route with an empty name', async (t) => {
  if (pki === undefined) return t.skip('openssl not installed');
  const plain = await plainBackend((d) => `plain:${d.toString()}`);
  try {
    await withTsb({ s: { sni: { read_timeout: '300ms' }, discovery: staticList([`127.0.0.1:${plain.port}`]) } }, async (tsb) => {
      const p = tsb.ports['s'] as number;
      const started = Date.now();
      const silent = await new Promise<number>((resolve) => {
        const c = net.connect(p, '127.0.0.1');
        c.on('error', () => {});
        c.on('close', () => resolve(Date.now() - started));
      });
      assert.ok(silent >= 250 && silent < 5000, `closed after ${silent} ms`);
      assert.equal(plain.count, 0);
      const r = await new Promise<string>((resolve) => {
        let out = '';
        const c = net.connect(p, '127.0.0.1', () => c.write('GET / HTTP/1.0\r\n\r\n'));
        c.on('data', (d: Buffer) => {
          out += d.toString();
        });
        c.on('close', () => resolve(out));
      });
      assert.equal(r, 'plain:GET / HTTP/1.0\r\n\r\n');
    });
  } finally {
    await plain.close();
  }
});

test('termination with SNI: a tls server routes on the handshake name (exact, reject)', async (t) => {
  const p0 = pki;
  if (p0 === undefined) return t.skip('openssl not installed');
  const a = await plainBackend(() => 'plain-A');
  const b = await plainBackend(() => 'plain-B');
  try {
    await withTsb({
      s: {
        protocol: 'tls',
        tls: { cert_path: p0.cert, key_path: p0.key },
        sni: { unexpected_hostname_strategy: 'reject' },
        discovery: staticList([`127.0.0.1:${a.port} sni=a.example`, `127.0.0.1:${b.port} sni=b.example`]),
      },
    }, async (tsb) => {
      const p = tsb.ports['s'] as number;
      const ca = readFileSync(p0.ca);
      assert.equal((await tlsRequest(p, { servername: 'a.example', ca, rejectUnauthorized: true })).reply, 'plain-A');
      assert.equal((await tlsRequest(p, { servername: 'b.example', ca, rejectUnauthorized: true })).reply, 'plain-B');
      assert.equal((await tlsRequest(p, { servername: 'c.example' })).reply, '');
    });
  } finally {
    await a.close();
    await b.close();
  }
});

