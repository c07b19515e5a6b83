import assert from 'node:assert/strict';
import { test } from 'node:test';
import { weightBalancer } from '../../src/balance/weight.js';
import { Elector, ELECT_EMPTY } from '../../src/balance/elector.js';
import type { SnapshotBackend as Backend } from '../../src/core/snapshot.js';
import { seededRandom } from '../../src/core/clock.js';
import { ctx, mk, sorted, tally, load } from './helpers.js';

const c = ctx();

test('only the best (lowest) priority group is elected', () => {
  const list: Backend[] = [];
  for (const priority of [0, 1, 2]) {
    for (const weight of [0, 1, 2]) list.push(mk(`10.0.${priority}.${weight}`, 80, { priority, weight }));
  }
  const b = weightBalancer.create({ random: seededRandom(1) });
  for (let i = 0; i < 100; i++) {
    const got = b.pick(c, sorted(list), load);
    assert.ok(got !== undefined);
    assert.equal(got.priority, 0);
    assert.notEqual(got.weight, 0, 'weight-0 members are never chosen when others have weight');
  }
});

test('all weights 0: every member is elected (uniform)', () => {
  const list = sorted([mk('a', 1, { weight: 0 }), mk('b', 1, { weight: 0 }), mk('c', 1, { weight: 0 })]);
  const b = weightBalancer.create({ random: seededRandom(2) });
  const seen = new Set<string>();
  for (let i = 0; i < 100; i++) seen.add(b.pick(c, list, load)?.key ?? 'none');
  assert.deepEqual([...seen].sort(), ['a:1', 'b:1', 'c:1']);
});

test('a single candidate is returned even with weight 0', () => {
  const b = weightBalancer.create({ random: seededRandom(3) });
  const only = mk('a', 1, { weight: 0 });
  assert.equal(b.pick(c, [only], load), only);
  // ...also when it is the only one of the best priority group.
  const worse = mk('b', 1, { weight: 5, priority: 2 });
  for (let i = 0; i < 20; i++) assert.equal(b.pick(c, [only, worse], load), only);
});

test('weight distribution: share ~ weight % over 1,000,000 elections, lower priority ignored', () => {
  const weights = [20, 15, 25, 40];
  const list = sorted([
    ...weights.map((w, i) => mk(`192.168.0.${i + 1}`, 80, { weight: w, priority: 1 })),
    mk('192.168.0.9', 80, { weight: 244, priority: 2 }),
  ]);
  const b = weightBalancer.create({ random: seededRandom(4) });
  const n = 1_000_000;
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const k = b.pick(c, list, load)?.key ?? 'none';
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  assert.equal(counts.get('192.168.0.9:80'), undefined);
  weights.forEach((w, i) => {
    const share = (counts.get(`192.168.0.${i + 1}:80`) ?? 0) / 10_000;
    assert.ok(Math.abs(share - w) <= 0.5, `weight ${w}: share ${share}%`);
  });
});

test('negative priorities and weights are skipped, never crash (D14)', () => {
  const b = weightBalancer.create({ random: seededRandom(5) });
  const negPrio = mk('a', 1, { priority: -1, weight: 10 });
  const negWeight = mk('b', 1, { priority: 0, weight: -5 });
  const good1 = mk('c', 1, { priority: 3, weight: 1 });
  const good2 = mk('d', 1, { priority: 3, weight: 3 });
  const picks = tally(Array.from({ length: 4000 }, () => b.pick(c, [negPrio, negWeight, good1, good2], load)?.key ?? 'none'));
  assert.deepEqual([...picks.keys()].sort(), ['c:1', 'd:1']);
  const share = (picks.get('d:1') ?? 0) / 4000;
  assert.ok(share > 0.7 && share < 0.8, `share ${share}`);

  // Only invalid backends: no pick, and the elector reports "backends empty".
  assert.equal(b.pick(c, [negPrio, negWeight], load), undefined);
  assert.equal(b.pick(c, [mk('x', 1, { weight: Number.NaN })], load), undefined);
  assert.equal(new Elector(b, load).electAmong(c, [negPrio, negWeight], false), ELECT_EMPTY);
});

test('the same seed gives the same sequence (injected random)', () => {
  const list = sorted([mk('a', 1, { weight: 1 }), mk('b', 1, { weight: 2 }), mk('c', 1, { weight: 3 })]);
  const run = (): string[] => {
    const b = weightBalancer.create({ random: seededRandom(42) });
    return Array.from({ length: 50 }, () => b.pick(c, list, load)?.key ?? 'none');
  };
  assert.deepEqual(run(), run());
});
