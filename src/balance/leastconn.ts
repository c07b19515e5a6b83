/**
 * `leastconn` (data-plane §9.4): the candidate with the fewest active connections.
 *
 * Ties: GoBetween keeps the last of the equals in its (random) list order, so equals share the
 * load at random. A fixed rule on our sorted list would send every sequential short connection
 * to the same backend, so equals take turns instead: each pick starts its scan one position
 * further (round robin among the least loaded). [FIX D12] the active count (by slot, from the data plane's ActiveTable) counts connections reserved at
 * election (the data plane increments it as soon as `elect` returns), so a burst of concurrent
 * connections spreads out instead of piling onto one backend. Weights are ignored.
 */
import type { LoadView, SnapshotBackend as Backend } from '../core/snapshot.js';
import type { Balancer, BalancerKind, PickContext } from './types.js';

export class LeastConnBalancer implements Balancer {
  private next = 0;

  pick(_ctx: PickContext, candidates: readonly Backend[], load: LoadView): Backend | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    const start = this.next % n;
    this.next = this.next >= 0x3fffffff ? 0 : this.next + 1;
    let best: Backend | undefined;
    let least = Infinity;
    for (let k = 0; k < n; k++) {
      const i = start + k < n ? start + k : start + k - n;
      const b = candidates[i] as Backend;
      const active = load.active(b.slot);
      if (active < least) {
        least = active;
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
