/**
 * `leastconn` (data-plane §9.4): the candidate with the fewest active connections.
 *
 * Ties: GoBetween keeps the **last** of the equals in its (random) list order. Our candidates
 * are sorted by `host:port`, so the rule becomes deterministic: among equals, the one with the
 * greatest key wins. [FIX D12] `active` counts connections reserved at election (the data plane
 * increments it as soon as `elect` returns), so a burst of concurrent connections spreads out
 * instead of piling onto one backend. Weights are ignored.
 */
import type { Backend } from '../core/backend.js';
import type { Balancer, BalancerKind, PickContext } from './types.js';

export class LeastConnBalancer implements Balancer {
  pick(_ctx: PickContext, candidates: readonly Backend[]): Backend | undefined {
    const n = candidates.length;
    let best: Backend | undefined;
    let least = Infinity;
    for (let i = 0; i < n; i++) {
      const b = candidates[i] as Backend;
      if (b.active <= least) {
        least = b.active;
        best = b;
      }
    }
    return best;
  }
}

export const leastConnBalancer: BalancerKind = {
  kind: 'leastconn',
  create(): Balancer {
    return new LeastConnBalancer();
  },
};
