/**
 * The hot path must not allocate: a million elections through each balancer (behind the elector
 * with the max-connections filter on) must not trigger a single garbage collection. Even 8 bytes
 * per pick would fill the young generation several times over.
 *
 * The random source is a constant here: any injected `() => number` returning a fresh double
 * (Math.random included) boxes one number per call, which is the source's cost, not ours — and
 * only `weight` draws, once per pick, when its best group has more than one member.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GCProfiler } from 'node:v8';
import { createBalancerRegistry } from '../../src/balance/index.js';
import { Elector } from '../../src/balance/elector.js';
import type { PickContext } from '../../src/balance/types.js';
import { load, mk, sorted } from './helpers.js';

const list = sorted(Array.from({ length: 8 }, (_, i) => mk(`10.0.0.${i + 1}`, 8080, {
  weight: i + 1,
  priority: i < 6 ? 1 : 2,
  maxConnections: i === 3 ? 1 : 0,
})));
(list[3] as (typeof list)[number]).active = 1; // over its limit: filtered out every time
const contexts: PickContext[] = ['192.168.1.20', '::ffff:192.168.1.20', '2001:db8::7'].map((clientIp) => ({
  clientIp, clientPort: 5000, sni: '',
}));

const FIXED_DRAW = 0.6180339887;

for (const name of createBalancerRegistry().names()) {
  test(`${name}: 1,000,000 elections without a GC`, () => {
    const kind = createBalancerRegistry().get(name);
    assert.ok(kind !== undefined);
    const elector = new Elector(kind.create({ random: () => FIXED_DRAW }), load);
    let picked = 0;
    const run = (n: number): void => {
      for (let i = 0; i < n; i++) {
        const r = elector.electAmong(contexts[i % 3] as PickContext, list, true);
        if (typeof r !== 'string') picked++; // a small integer: no boxing in the loop itself
      }
    };
    run(200_000); // warm up: let the JIT settle
    const profiler = new GCProfiler();
    profiler.start();
    run(1_000_000);
    const gcs = profiler.stop().statistics.length;
    assert.equal(picked, 1_200_000);
    assert.equal(gcs, 0, `${gcs} garbage collections during the run`);
  });
}
