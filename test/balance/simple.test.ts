import assert from 'node:assert/strict';
import { test } from 'node:test';
import { roundRobinBalancer } from '../../src/balance/roundrobin.js';
import { leastConnBalancer } from '../../src/balance/leastconn.js';
import { leastBandwidthBalancer } from '../../src/balance/leastbandwidth.js';
import { createBalancerRegistry, DEFAULT_BALANCER } from '../../src/balance/index.js';
import { seededRandom } from '../../src/core/clock.js';
import { ctx, load, mk, sorted, type TB } from './helpers.js';

const c = ctx();
const deps = { random: seededRandom(1) };

test('registry lists the six balancers; weight is the default', () => {
  const r = createBalancerRegistry();
  assert.deepEqual(r.names(), ['iphash', 'iphash1', 'leastbandwidth', 'leastconn', 'roundrobin', 'weight']);
  assert.ok(r.has(DEFAULT_BALANCER));
  for (const name of r.names()) {
    const b = r.get(name)?.create(deps);
    assert.ok(b !== undefined);
    const only = mk('h', 1);
    assert.equal(b.pick(c, [only], load), only, name);
  }
});

test('roundrobin: exact rotation over the byte-sorted list, wrapping', () => {
  const list = sorted([mk('10.0.0.2', 80), mk('10.0.0.10', 80), mk('10.0.0.1', 80)]);
  assert.deepEqual(list.map((b) => b.key), ['10.0.0.10:80', '10.0.0.1:80', '10.0.0.2:80']);
  const b = roundRobinBalancer.create(deps);
  const got = Array.from({ length: 7 }, () => b.pick(c, list, load)?.key);
  assert.deepEqual(got, ['10.0.0.10:80', '10.0.0.1:80', '10.0.0.2:80',
    '10.0.0.10:80', '10.0.0.1:80', '10.0.0.2:80', '10.0.0.10:80']);
});

test('roundrobin: the index is not reset when the list changes', () => {
  const [a, b2, c3, d] = [mk('a', 1), mk('b', 1), mk('c', 1), mk('d', 1)];
  const rr = roundRobinBalancer.create(deps);
  const all = [a, b2, c3, d];
  assert.equal(rr.pick(c, all, load), a); // current -> 1
  assert.equal(rr.pick(c, all, load), b2); // current -> 2
  // b dies: index 2 applies to [a, c, d] -> d, then wraps.
  assert.equal(rr.pick(c, [a, c3, d], load), d);
  assert.equal(rr.pick(c, [a, c3, d], load), a);
  // Shrinking below the index wraps to 0.
  assert.equal(rr.pick(c, [a, c3, d], load), c3); // current -> 2
  assert.equal(rr.pick(c, [a], load), a); // 2 >= 1 -> 0
  assert.equal(rr.pick(c, [], load), undefined);
  // Each instance (server) has its own index.
  assert.equal(roundRobinBalancer.create(deps).pick(c, all, load), a);
});

test('leastconn: fewest active; equals take turns', () => {
  const lc = leastConnBalancer.create(deps);
  const [a, b2, c3] = [mk('a', 1), mk('b', 1), mk('c', 1)];
  a.active = 3;
  b2.active = 1;
  c3.active = 2;
  for (let i = 0; i < 3; i++) assert.equal(lc.pick(c, [a, b2, c3], load), b2, 'single least loaded, whatever the rotation');
  c3.active = 1;
  const tied = new Set<string>();
  for (let i = 0; i < 4; i++) tied.add(lc.pick(c, [a, b2, c3], load)?.key ?? '');
  assert.deepEqual([...tied].sort(), ['b:1', 'c:1'], 'ties alternate between the equals');
  a.active = 0;
  assert.equal(lc.pick(c, [a, b2, c3], load), a);
  // Sequential short connections (nothing held) rotate over all backends.
  for (const x of [a, b2, c3]) x.active = 0;
  const seq: string[] = [];
  for (let i = 0; i < 6; i++) seq.push(lc.pick(c, [a, b2, c3], load)?.key ?? '');
  assert.deepEqual(seq.slice().sort(), ['a:1', 'a:1', 'b:1', 'b:1', 'c:1', 'c:1']);
  // With reservation at election (the data plane does active++), a burst spreads out.
  const picked: string[] = [];
  for (let i = 0; i < 6; i++) {
    const got = lc.pick(c, [a, b2, c3], load);
    assert.ok(got !== undefined);
    (got as TB).active++;
    picked.push(got.key);
  }
  assert.deepEqual(picked.slice().sort(), ['a:1', 'a:1', 'b:1', 'b:1', 'c:1', 'c:1']);
  assert.equal(lc.pick(c, [], load), undefined);
});

test('leastbandwidth: smallest rx+tx per second; ties -> the first', () => {
  const lb = leastBandwidthBalancer.create(deps);
  const [a, b2, c3] = [mk('a', 1), mk('b', 1), mk('c', 1)];
  a.rxSecond = 100;
  a.txSecond = 100;
  b2.rxSecond = 50;
  b2.txSecond = 120;
  c3.rxSecond = 300;
  assert.equal(lb.pick(c, [a, b2, c3], load), b2);
  c3.rxSecond = 170;
  assert.equal(lb.pick(c, [a, b2, c3], load), b2, 'tie -> first');
  for (const x of [a, b2, c3]) x.rxSecond = x.txSecond = 0;
  assert.equal(lb.pick(c, [a, b2, c3], load), a);
  assert.equal(lb.pick(c, [], load), undefined);
});
