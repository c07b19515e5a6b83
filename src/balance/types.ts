/**
 * The balancer contract. A balancer is small, synchronous and pure: given the candidates that
 * survived the filter chain (eligible in the snapshot, SNI, max connections) — plain
 * `SnapshotBackend`s sorted by `host:port`, never empty — and the load figures by slot, it returns
 * one of them, or undefined when it cannot choose (e.g. `weight` with only negative weights).
 * No I/O, no sorting, no logging, no allocation per pick.
 */
import type { Random } from '../core/clock.js';
import type { LoadView, SnapshotBackend } from '../core/snapshot.js';

export interface PickContext {
  /**
   * The client IP exactly as Node reports it: `1.2.3.4` on an IPv4 listener, `::ffff:1.2.3.4`
   * on a dual-stack one, `2001:db8::1` for IPv6. Hashing balancers hash the 4- or 16-byte form
   * accordingly, as GoBetween does (data-plane §1.6).
   */
  readonly clientIp: string;
  readonly clientPort: number;
  /** SNI hostname from the ClientHello, '' when none. */
  readonly sni: string;
}

export interface Balancer {
  pick(ctx: PickContext, candidates: readonly SnapshotBackend[], load: LoadView): SnapshotBackend | undefined;
}

export interface BalancerDeps {
  readonly random: Random;
}

export interface BalancerKind {
  readonly kind: string;
  create(deps: BalancerDeps): Balancer;
}
