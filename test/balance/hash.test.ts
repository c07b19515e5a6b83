import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FNV32_OFFSET, fnv1aBytes, fnv1aUtf8, ipHash } from '../../src/balance/hash.js';
import { ipBytes } from '../../src/core/ip.js';
import { seededRandom } from '../../src/core/clock.js';

function fnvOf(bytes: readonly number[]): number {
  return fnv1aBytes(FNV32_OFFSET, Uint8Array.from(bytes), bytes.length) >>> 0;
}

function parse(ip: string): number[] | undefined {
  const out = new Uint8Array(16);
  const n = ipBytes(ip, out);
  return n === 0 ? undefined : [...out.subarray(0, n)];
}

/** A naive reference IPv6 parser (allocates freely; tests only). */
function refV6(ip: string): number[] {
  let s = ip;
  const tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tail.push(...s.slice(lastColon + 1).split('.').map(Number));
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = s.includes('::') ? s.split('::') as [string, string] : [s, undefined];
  const hg = head === '' ? [] : head.split(':');
  const rg = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? hg : [...hg, ...Array<string>(8 - hg.length - rg.length).fill('0'), ...rg];
  const bytes = groups.flatMap((g) => {
    const v = parseInt(g, 16);
    return [v >> 8, v & 0xff];
  });
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

test('FNV-1a 32 reference vectors', () => {
  assert.equal(fnvOf([]), 0x811c9dc5);
  assert.equal(fnvOf([0x61]), 0xe40c292c);
  assert.equal(fnvOf([...Buffer.from('foobar')]), 0xbf9cf968);
  assert.equal(fnv1aUtf8(FNV32_OFFSET, 'foobar') >>> 0, 0xbf9cf968);
  // UTF-8 continuation matches hashing the encoded bytes.
  for (const s of ['é', 'host-€:80', '😀:1', 'a\ud800b']) {
    assert.equal(fnv1aUtf8(FNV32_OFFSET, s) >>> 0, fnvOf([...Buffer.from(s, 'utf8')]), s);
  }
});

test('IPv4 dotted strings give 4 bytes', () => {
  assert.deepEqual(parse('1.2.3.4'), [1, 2, 3, 4]);
  assert.deepEqual(parse('127.0.0.1'), [127, 0, 0, 1]);
  assert.deepEqual(parse('255.255.255.0'), [255, 255, 255, 0]);
  assert.deepEqual(parse('0.0.0.0'), [0, 0, 0, 0]);
});

test('strings with a colon give the 16-byte form', () => {
  const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4];
  assert.deepEqual(parse('::ffff:1.2.3.4'), mapped);
  assert.deepEqual(parse('0:0:0:0:0:ffff:1.2.3.4'), mapped);
  assert.deepEqual(parse('::ffff:102:304'), mapped);
  assert.deepEqual(parse('::'), Array<number>(16).fill(0));
  assert.deepEqual(parse('::1'), [...Array<number>(15).fill(0), 1]);
  assert.deepEqual(parse('1::'), [0, 1, ...Array<number>(14).fill(0)]);
  assert.deepEqual(parse('2001:db8::1'), [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(parse('1:2:3:4:5:6:7:8'), [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
  assert.deepEqual(parse('1:2:3:4:5:6:7::'), [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0]);
  assert.deepEqual(parse('FE80::ABCD'), parse('fe80::abcd'));
  assert.deepEqual(parse('fe80::1%eth0'), parse('fe80::1'));
});

test('unparsable strings give 0 bytes (hash = offset basis, like a nil IP in Go)', () => {
  for (const bad of ['', 'abc', '1.2.3', '1.2.3.4.5', '1.2.3.256', '01.2.3.4', '1..2.3', '1.2.3.4%x',
    ':', ':1', '1:', '1:2', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8::',
    '::1.2.3', '12345::', 'g::1', '::ffff:1.2.3.4:5', '1.2.3.4::']) {
    assert.equal(parse(bad), undefined, bad);
  }
  assert.equal(ipHash('garbage') >>> 0, FNV32_OFFSET);
});

test('random IPv6 literals parse like a naive reference parser', () => {
  const random = seededRandom(7);
  for (let i = 0; i < 2000; i++) {
    const groups = Array.from({ length: 8 }, () => (random() < 0.3 ? 0 : Math.floor(random() * 65536)));
    let text = groups.map((g) => g.toString(16)).join(':');
    // Compress the first run of zero groups, as Node prints addresses.
    const m = /(^|:)0(:0)+(:|$)/.exec(text);
    if (m !== null) text = `${text.slice(0, m.index)}::${text.slice(m.index + m[0].length)}`;
    if (random() < 0.2) text = `::ffff:${groups.slice(0, 4).map((g) => g & 0xff).join('.')}`;
    assert.deepEqual(parse(text), refV6(text), text);
  }
});

test('the 4- and 16-byte forms of one IPv4 client hash differently', () => {
  const h4 = ipHash('10.1.2.3') >>> 0;
  const h16 = ipHash('::ffff:10.1.2.3') >>> 0;
  assert.equal(h4, fnvOf([10, 1, 2, 3]));
  assert.equal(h16, fnvOf([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]));
  assert.notEqual(h4, h16);
});

test('ipHash (with its IPv4 fast path) equals FNV-1a over ipBytes for any string', () => {
  const random = seededRandom(8);
  const alphabet = '0123456789.:abcdef%x';
  const samples = ['1.2.3.4', '0.0.0.0', '255.255.255.255', '01.2.3.4', '1.2.3.04', '1.2.3.256', '1.2.3.',
    '.1.2.3', '1..2.3', '1.2.3.4.', '1.2.3.4.5', '1.2.3', '::ffff:1.2.3.4', '1.2.3.4%eth0', '',
    '::FFFF:1.2.3.4', '::ffff:01.2.3.4', '::ffff:1.2.3', '::ffff:', '::ffff:1.2.3.4.5', '::fff:1.2.3.4'];
  for (let i = 0; i < 3000; i++) {
    const len = 1 + Math.floor(random() * 16);
    let s = '';
    for (let k = 0; k < len; k++) s += alphabet[Math.floor(random() * alphabet.length)] ?? '';
    samples.push(s);
  }
  for (let i = 0; i < 500; i++) samples.push(randomDotted(random), `::ffff:${randomDotted(random)}`);
  const out = new Uint8Array(16);
  for (const s of samples) {
    const len = ipBytes(s, out);
    assert.equal(ipHash(s) >>> 0, fnv1aBytes(FNV32_OFFSET, out, len) >>> 0, JSON.stringify(s));
  }
});

function randomDotted(random: () => number): string {
  const part = (): string => String(Math.floor(random() * (random() < 0.1 ? 300 : 256)));
  return `${part()}.${part()}.${part()}.${part()}`;
}
