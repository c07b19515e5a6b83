/**
 * Fuzzes the PROXY header decoder: random bytes, mutated v1/v2 headers, random round trips and
 * every split point. Properties: no exception; `consumed` within the input and the cap; a prefix
 * answers `more` or the final verdict; encode→decode gives the addresses back.
 * Longer run: see test/helpers/fuzz.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeProxyHeader } from '../../../src/data/protocol/proxy-encode.js';
import { decodeProxyHeader, formatIPv6, PROXY_V2_CAP } from '../../../src/data/protocol/proxy-header.js';
import { fuzzBudgetMs, fuzzFor, mutate, type Rng } from '../../helpers/fuzz.js';

function check(rng: Rng, input: Uint8Array): void {
  const full = decodeProxyHeader(input);
  if (full.kind === 'done') assert.ok(full.consumed > 0 && full.consumed <= Math.min(input.length, PROXY_V2_CAP));
  if (full.kind === 'more') assert.ok(input.length < PROXY_V2_CAP);
  const step = input.length <= 200 ? 1 : 1 + rng.int(30);
  for (let k = rng.int(step); k < input.length; k += step) {
    const r = decodeProxyHeader(input.subarray(0, k));
    if (r.kind !== 'more') assert.deepEqual(r, full, `prefix ${k}`);
  }
}

function randomV4(rng: Rng): string {
  return `${rng.int(256)}.${rng.int(256)}.${rng.int(256)}.${rng.int(256)}`;
}

function randomIp(rng: Rng): string {
  if (rng.int(2) === 0) return randomV4(rng);
  const b = rng.bytes(16);
  if (rng.int(2) === 0) b.fill(0, 0, 2 + rng.int(12));
  return formatIPv6(b, 0);
}

test('fuzz: PROXY decoder on random bytes (with and without a valid prefix)', { timeout: fuzzBudgetMs() + 120000 }, (t) => {
  const n = fuzzFor('proxy random', (rng) => {
    const prefix = [Uint8Array.of(), Buffer.from('PROXY '), Buffer.from('PROXY TCP4 '), Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a)][rng.int(4)] as Uint8Array;
    const input = Uint8Array.from([...prefix, ...rng.bytes(rng.int(120))]);
    check(rng, input);
  });
  assert.ok(n > 0);
  t.diagnostic(`${n} iterations`);
});

test('fuzz: PROXY encode/decode round trip and mutated headers', { timeout: fuzzBudgetMs() + 120000 }, (t) => {
  const n = fuzzFor('proxy mutate', (rng) => {
    const version = rng.int(2) === 0 ? 1 : 2;
    // now and then both ends IPv4-mapped, as Node reports them on a dual-stack listener
    const mapped = rng.int(16) === 0;
    const src = mapped ? `::ffff:${randomV4(rng)}` : randomIp(rng);
    const dst = mapped ? `::ffff:${randomV4(rng)}` : randomIp(rng);
    const sp = rng.int(65536);
    const dp = rng.int(65536);
    const h = encodeProxyHeader(version, src, sp, dst, dp);
    assert.ok(h !== undefined, `${src} ${dst}`);
    const d = decodeProxyHeader(h);
    assert.equal(d.kind, 'done');
    if (d.kind === 'done' && d.header.command === 'proxy') {
      assert.equal(d.consumed, h.length);
      assert.equal(d.header.srcPort, sp);
      assert.equal(d.header.dstPort, dp);
      // IPv4-mapped addresses are written as IPv4 when both ends are IPv4 (TCP4), IPv4 ends as
      // IPv4-mapped when the other end is IPv6 (TCP6).
      const norm = (ip: string, fam: string): string => {
        const v4 = ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
        if (fam === 'tcp4') return v4;
        return v4.includes(':') ? v4 : `::ffff:${v4}`;
      };
      assert.equal(d.header.srcIp, norm(src, d.header.family));
      assert.equal(d.header.dstIp, norm(dst, d.header.family));
    } else {
      assert.fail('not a proxy header');
    }
    const m = mutate(rng, Uint8Array.from([...h, ...rng.bytes(rng.int(8))]));
    check(rng, m);
  });
  assert.ok(n > 0);
  t.diagnostic(`${n} iterations`);
});
