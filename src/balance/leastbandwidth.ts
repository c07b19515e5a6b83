/**
 * `leastbandwidth` (data-plane §9.7): the candidate with the smallest `rxSecond + txSecond`
 * (bytes per second over the last stats window, published by the control plane after each tick). Ties: the first in list order, i.e. the
 * smallest `host:port` since candidates are sorted (GoBetween: first in random order).
 */
import type { LoadView, SnapshotBackend as Backend } from '../core/snapshot.js';
import type { Balancer, BalancerKind, PickContext } from './types.js';

export class LeastBandwidthBalancer implements Balancer {
  pick(_ctx: PickContext, candidates: readonly Backend[], load: LoadView): Backend | undefined {
    const n = candidates.length;
    let best: Backend | undefined;
    let least = Infinity;
    for (let i = 0; i < n; i++) {
      const b = candidates[i] as Backend;
      const bw = load.bandwidth(b.slot);
      if (bw < least || best === undefined) {
        least = bw;
        best = b;
      }
    }
    return best;
  }
}

export const leastBandwidthBalancer: BalancerKind = {
  kind: 'leastbandwidth',
  create(): Balancer {
    return new LeastBandwidthBalancer();
  },
};
