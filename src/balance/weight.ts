/**
 * `weight` (GoBetween's default, data-plane §9.2): RFC 2782-style. Only the best (lowest)
 * priority group is used; inside it, a weighted random choice.
 *
 * - A single member is returned even when its weight is 0.
 * - When every member has weight 0 the choice is uniform.
 * - Otherwise weight-0 members are never chosen.
 * - [FIX D14] Backends with a negative (or non-numeric) priority or weight are invalid: they are
 *   skipped before the best priority is chosen, so they can neither crash the election nor hide
 *   the valid backends. When nothing valid remains the pick is undefined (the elector then
 *   reports "backends empty").
 *
 * Two O(n) passes over the candidates, no allocation.
 */
import type { SnapshotBackend as Backend } from '../core/snapshot.js';
import type { Random } from '../core/clock.js';
import type { Balancer, BalancerDeps, BalancerKind, PickContext } from './types.js';

function valid(b: Backend): boolean {
  // `>= 0` is also false for NaN.
  return b.priority >= 0 && b.weight >= 0;
}

export class WeightBalancer implements Balancer {
  constructor(private readonly random: Random) {}

  pick(_ctx: PickContext, candidates: readonly Backend[]): Backend | undefined {
    const n = candidates.length;
    let min = Infinity;
    let count = 0;
    let sum = 0;
    let only: Backend | undefined;
    for (let i = 0; i < n; i++) {
      const b = candidates[i] as Backend;
      if (!valid(b) || b.priority > min) continue;
      if (b.priority < min) {
        min = b.priority;
        count = 0;
        sum = 0;
      }
      if (count === 0) only = b;
      count++;
      sum += b.weight;
    }
    if (count <= 1) return only;

    if (sum === 0) {
      // Uniform among the group: the k-th member in list order.
      let k = Math.floor(this.random() * count);
      if (k >= count) k = count - 1;
      for (let i = 0; i < n; i++) {
        const b = candidates[i] as Backend;
        if (b.priority === min && valid(b)) {
          if (k === 0) return b;
          k--;
        }
      }
      return only;
    }

    const r = this.random() * sum;
    let acc = 0;
    let last: Backend | undefined;
    for (let i = 0; i < n; i++) {
      const b = candidates[i] as Backend;
      if (b.priority !== min || !valid(b) || b.weight === 0) continue;
      acc += b.weight;
      if (acc > r) return b;
      last = b;
    }
    // Only reachable through floating-point rounding of fractional weights.
    return last;
  }
}

export const weightBalancer: BalancerKind = {
  kind: 'weight',
  create(deps: BalancerDeps): Balancer {
    return new WeightBalancer(deps.random);
  },
};
