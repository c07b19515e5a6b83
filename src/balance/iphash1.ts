/**
 * `iphash1` (data-plane §9.6): rendezvous (highest random weight) hashing. For each candidate,
 * FNV-1a-32 over the client IP bytes followed by the UTF-8 (in practice ASCII) bytes of
 * `host:port`; the largest hash wins, strictly greater, so on an exact tie the first in list
 * order (smallest key) wins. Removing a backend moves only its own clients; adding one moves
 * only the clients that now hash highest to it (about 1/n).
 *
 * The IP part of the hash is computed once per pick and continued per candidate. Unlike
 * GoBetween (which starts from 0 and returns nothing if every hash is 0), a hash of 0 can win.
 */
import type { SnapshotBackend as Backend } from '../core/snapshot.js';
import { fnv1aUtf8, ipHash } from './hash.js';
import type { Balancer, BalancerKind, PickContext } from './types.js';

export class IpHash1Balancer implements Balancer {
  pick(ctx: PickContext, candidates: readonly Backend[]): Backend | undefined {
    const n = candidates.length;
    const prefix = ipHash(ctx.clientIp);
    let best: Backend | undefined;
    let max = -1;
    for (let i = 0; i < n; i++) {
      const b = candidates[i] as Backend;
      const h = fnv1aUtf8(prefix, b.key) >>> 0;
      if (h > max) {
        max = h;
        best = b;
      }
    }
    return best;
  }
}

export const ipHash1Balancer: BalancerKind = {
  kind: 'iphash1',
  create(): Balancer {
    return new IpHash1Balancer();
  },
};
