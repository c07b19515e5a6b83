import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ipHashBalancer } from '../../src/balance/iphash.js';
import { ipHash1Balancer } from '../../src/balance/iphash1.js';
import { FNV32_OFFSET, fnv1aBytes, fnv1aUtf8 } from '../../src/balance/hash.js';
import type { SnapshotBackend as Backend } from '../../src/core/snapshot.js';
import { seededRandom } from '../../src/core/clock.js';
import { ctx, mk, randomIpv4, sorted, load } from './helpers.js';

const deps = { random: seededRandom(1) };

function backends(n: number): Backend[] {
  return sorted(Array.from({ length: n }, (_, i) => mk(`127.0.0.${i + 1}`, 1000 + i)));
}

test('iphash: FNV-1a of the IP bytes mod count over the sorted list', () => {
  const b = ipHashBalancer.create(deps);
  const list = backends(5);
  for (const ip of ['1.2.3.4', '10.0.0.7', '::ffff:1.2.3.4', '2001:db8::42']) {
    const bytes = new Uint8Array(16);
    let len: number;
    if (ip.includes(':')) {
      len = 16;
      if (ip.startsWith('::ffff:')) bytes.set([0xff, 0xff, ...ip.slice(7).split('.').map(Number)], 10);
      else bytes.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42]);
    } else {
      len = 4;
      bytes.set(ip.split('.').map(Number));
    }
    const expected = list[(fnv1aBytes(FNV32_OFFSET, bytes, len) >>> 0) % list.length];
    assert.equal(b.pick(ctx(ip), list, load), expected, ip);
  }
});

test('iphash: stable per client; 4- and 16-byte forms map differently', () => {
  const b = ipHashBalancer.create(deps);
  const list = backends(7);
  const random = seededRandom(11);
  let differ = 0;
  for (let i = 0; i < 200; i++) {
    const ip = randomIpv4(random);
    const first = b.pick(ctx(ip), list, load);
    for (let k = 0; k < 3; k++) assert.equal(b.pick(ctx(ip), list, load), first);
    if (b.pick(ctx(`::ffff:${ip}`), list, load) !== first) differ++;
  }
  assert.ok(differ > 100, `only ${differ}/200 clients map differently`);
});

test('iphash1: removing a backend moves only its clients; re-adding moves them back', () => {
  const b = ipHash1Balancer.create(deps);
  const all = [mk('127.0.0.1', 1000), mk('127.0.0.2', 1001), mk('127.0.0.3', 1002), mk('127.0.0.4', 1003)];
  const removed = all[1] as Backend;
  const without = all.filter((x) => x !== removed);
  const random = seededRandom(12);
  const clients = Array.from({ length: 100 }, () => randomIpv4(random));
  let onRemoved = 0;
  for (const ip of clients) {
    const before = b.pick(ctx(ip), all, load);
    assert.ok(before !== undefined);
    const after = b.pick(ctx(ip), without, load);
    if (before === removed) onRemoved++;
    else assert.equal(after, before, ip);
    assert.equal(b.pick(ctx(ip), all, load), before, 're-adding restores the mapping');
  }
  assert.ok(onRemoved > 0 && onRemoved < 100);
});

test('iphash1: adding a 5th backend moves ~1/5 of 10,000 clients, all to the new one', () => {
  const b = ipHash1Balancer.create(deps);
  const four = backends(4);
  const added = mk('127.0.0.5', 1004);
  const five = sorted([...four, added]);
  const random = seededRandom(13);
  let moved = 0;
  const n = 10_000;
  for (let i = 0; i < n; i++) {
    const ip = randomIpv4(random);
    const before = b.pick(ctx(ip), four, load);
    const after = b.pick(ctx(ip), five, load);
    if (after !== before) {
      moved++;
      assert.equal(after, added);
    }
  }
  assert.ok(Math.abs(moved / n - 0.2) < 0.03, `moved ${moved}/${n}`);
});

test('iphash1: largest FNV-1a(ip bytes ++ host:port) wins; order-independent', () => {
  const b = ipHash1Balancer.create(deps);
  const list = backends(6);
  const random = seededRandom(14);
  for (let i = 0; i < 100; i++) {
    const ip = randomIpv4(random);
    const prefix = fnv1aBytes(FNV32_OFFSET, Uint8Array.from(ip.split('.').map(Number)), 4);
    let best: Backend | undefined;
    let max = -1;
    for (const x of list) {
      const h = fnv1aUtf8(prefix, x.key) >>> 0;
      if (h > max) [max, best] = [h, x];
    }
    assert.equal(b.pick(ctx(ip), list, load), best);
    assert.equal(b.pick(ctx(ip), [...list].reverse(), load), best);
  }
  assert.equal(b.pick(ctx('1.2.3.4'), [], load), undefined);
});
