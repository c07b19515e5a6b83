/**
 * `roundrobin` (data-plane §9.3): one index per server, applied to the candidates sorted by
 * `host:port` (the pool and the filters keep that order, so no sort here). The index wraps to 0
 * when it runs past the end and is never reset when the list changes: a backend dying or being
 * filtered out shifts the rotation, exactly as in GoBetween. Weights and priorities are ignored.
 */
import type { SnapshotBackend as Backend } from '../core/snapshot.js';
import type { Balancer, BalancerKind, PickContext } from './types.js';

export class RoundRobinBalancer implements Balancer {
  private current = 0;

  pick(_ctx: PickContext, candidates: readonly Backend[]): Backend | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    if (this.current >= n) this.current = 0;
    const b = candidates[this.current];
    this.current++;
    return b;
  }
}

export const roundRobinBalancer: BalancerKind = {
  kind: 'roundrobin',
  create(): Balancer {
    return new RoundRobinBalancer();
  },
};
