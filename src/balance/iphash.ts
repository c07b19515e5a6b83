/**
 * `iphash` (data-plane §9.5): FNV-1a-32 over the client IP bytes (4 bytes for a dotted IPv4
 * client, 16 for anything with ':' — including `::ffff:a.b.c.d` on a dual-stack listener, the
 * form Go hashes there), modulo the number of candidates, indexing the list sorted by
 * `host:port`. A change in the number of candidates remaps most clients (use `iphash1` for
 * stability).
 */
import type { SnapshotBackend as Backend } from '../core/snapshot.js';
import { ipHash } from './hash.js';
import type { Balancer, BalancerKind, PickContext } from './types.js';

export class IpHashBalancer implements Balancer {
  pick(ctx: PickContext, candidates: readonly Backend[]): Backend | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    return candidates[(ipHash(ctx.clientIp) >>> 0) % n];
  }
}

export const ipHashBalancer: BalancerKind = {
  kind: 'iphash',
  create(): Balancer {
    return new IpHashBalancer();
  },
};
