/**
 * The balancer contract. A balancer is small, synchronous and pure: given the candidates that
 * survived the filter chain (live && discovered, SNI, max connections) — sorted by `host:port`,
 * never empty — it returns one of them, or undefined when it cannot choose (e.g. `weight` with
 * only negative weights). No I/O, no sorting, no logging, no allocation per pick.
 */
import type { Backend } from '../core/backend.js';
import type { Random } from '../core/clock.js';

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
  pick(ctx: PickContext, candidates: readonly Backend[]): Backend | undefined;
}

export interface BalancerDeps {
  readonly random: Random;
}

export interface BalancerKind {
  readonly kind: string;
  create(deps: BalancerDeps): Balancer;
}
