import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CLIENT_HELLO_CAP, peekClientHello, type ClientHelloResult } from '../../../src/data/protocol/client-hello.js';
import { OPENSSL } from '../../discovery/tls-fixture.js';
import { buildHello, frame, nodeHello, opensslHello, unframe } from './hello-helpers.js';

const PQ_HELLO = new Uint8Array(readFileSync(new URL('../../fixtures/tls/hello-mlkem.bin', import.meta.url)));

/** Every proper prefix answers `more` (or the final verdict once it is decided); the whole input `want`. */
function everySplit(input: Uint8Array, want: ClientHelloResult): void {
  const full = peekClientHello(input);
  assert.deepEqual(full, want);
  for (let k = 0; k < input.length; k++) {
    const r = peekClientHello(input.subarray(0, k));
    if (r.kind === 'more') continue;
    assert.deepEqual(r, full, `prefix of ${k} bytes`);
  }
}

test('a real post-quantum ClientHello (node 24, X25519MLKEM768, 1.5 KB) fed byte by byte', () => {
  assert.ok(PQ_HELLO.length > 1460, 'larger than one Ethernet segment');
  everySplit(PQ_HELLO, { kind: 'done', hostname: 'pq.example', consumed: PQ_HELLO.length });
  // no prefix decides early: the hello is only complete with its last byte
  for (let k = 0; k < PQ_HELLO.length; k++) assert.equal(peekClientHello(PQ_HELLO.subarray(0, k)).kind, 'more');
});

test('the same hello re-framed into many records (1, 7, 100, 512 bytes each), every split point', () => {
  const hs = unframe(PQ_HELLO);
  for (const size of [1, 7, 100, 512]) {
    const framed = frame(hs, size);
    everySplit(framed, { kind: 'done', hostname: 'pq.example', consumed: framed.length });
  }
});

test('bytes after the ClientHello are not consumed (the client may pipeline)', () => {
  const withTail = Uint8Array.from([...PQ_HELLO, 23, 3, 3, 0, 1, 0]);
  assert.deepEqual(peekClientHello(withTail), { kind: 'done', hostname: 'pq.example', consumed: PQ_HELLO.length });
});

test('node:tls client hellos, with and without SNI', async () => {
  const withSni = new Uint8Array(await nodeHello('Mixed.Case.example'));
  everySplit(withSni, { kind: 'done', hostname: 'Mixed.Case.example', consumed: withSni.length });
  const noSni = new Uint8Array(await nodeHello(undefined));
  everySplit(noSni, { kind: 'done', hostname: '', consumed: noSni.length });
});

test('an openssl s_client hello, and the same re-framed into 64-byte records', async (t) => {
  if (OPENSSL === undefined) return t.skip('openssl not installed');
  const bytes = new Uint8Array(await opensslHello(OPENSSL, 'frag.example'));
  assert.ok(bytes.length > 5);
  const r = peekClientHello(bytes);
  assert.equal(r.kind, 'done');
  if (r.kind !== 'done') return;
  everySplit(bytes.subarray(0, r.consumed), { kind: 'done', hostname: 'frag.example', consumed: r.consumed });
  const reframed = frame(unframe(bytes.subarray(0, r.consumed)), 64);
  everySplit(reframed, { kind: 'done', hostname: 'frag.example', consumed: reframed.length });
});

test('large hellos: a 16 KiB message in one record is refused, one just under fits; multi-record within the cap', () => {
  const base = buildHello({ hostname: 'big.example' }).length;
  // one record holds at most 16384 bytes of handshake
  const fits = buildHello({ hostname: 'big.example', padding: 16384 - base - 4 });
  assert.equal(fits.length, 16384);
  everySplit(frame(fits), { kind: 'done', hostname: 'big.example', consumed: CLIENT_HELLO_CAP });
  const tooBig = buildHello({ hostname: 'big.example', padding: 16384 - base - 4 + 1 });
  const r = peekClientHello(frame(tooBig, 16384));
  assert.equal(r.kind, 'error');
  // the size is judged from the headers: no need to wait for 16 KiB to arrive
  assert.equal(peekClientHello(frame(tooBig, 16384).subarray(0, 9)).kind, 'error');
  const two = buildHello({ hostname: 'two.example', padding: 9000 });
  const framed = frame(two, 8000);
  everySplit(framed, { kind: 'done', hostname: 'two.example', consumed: framed.length });
});

test('not TLS: plain-text clients and other record types', () => {
  assert.deepEqual(peekClientHello(Buffer.from('GET / HTTP/1.1\r\n')), { kind: 'not-tls' });
  assert.deepEqual(peekClientHello(Buffer.from('G')), { kind: 'not-tls' });
  assert.deepEqual(peekClientHello(Uint8Array.of(22, 2)), { kind: 'not-tls' });
  assert.deepEqual(peekClientHello(Uint8Array.of(23, 3, 3, 0, 1, 0)), { kind: 'not-tls' });
  assert.deepEqual(peekClientHello(Uint8Array.of()), { kind: 'more' });
  assert.deepEqual(peekClientHello(Uint8Array.of(22)), { kind: 'more' });
});

test('malformed hellos are errors, never exceptions', () => {
  const hs = buildHello({ hostname: 'x.example' });
  const notHello = Uint8Array.from(hs);
  notHello[0] = 2;
  assert.equal(peekClientHello(frame(notHello)).kind, 'error');
  // a record length beyond 16 KiB
  assert.equal(peekClientHello(Uint8Array.of(22, 3, 1, 0x40, 0x01)).kind, 'error');
  assert.equal(peekClientHello(Uint8Array.of(22, 3, 1, 0, 0)).kind, 'error');
  // an alert record in the middle of a multi-record hello
  const framed = frame(hs, 20);
  const bad = Uint8Array.from(framed);
  bad[25] = 21;
  assert.equal(peekClientHello(bad).kind, 'error');
  // truncated extensions: body length says more than the extensions block holds
  const cut = Uint8Array.from(hs);
  cut[cut.length - 20] = 0xff;
  assert.notEqual(peekClientHello(frame(cut)).kind, 'more');
});

test('server_name details: first host_name wins, other name types skipped, trailing dot gives ""', () => {
  const a = frame(buildHello({ names: [[1, 'other'], [0, 'first.example'], [0, 'second.example']] }));
  assert.deepEqual(peekClientHello(a), { kind: 'done', hostname: 'first.example', consumed: a.length });
  const dot = frame(buildHello({ hostname: 'dot.example.' }));
  assert.deepEqual(peekClientHello(dot), { kind: 'done', hostname: '', consumed: dot.length });
  const none = frame(buildHello({}));
  assert.deepEqual(peekClientHello(none), { kind: 'done', hostname: '', consumed: none.length });
});
