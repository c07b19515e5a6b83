/**
 * The election chain of data-plane §9.1, wrapping one balancer:
 *
 *   eligible (live && discovered, sorted by key — published by the pool)
 *     -> [SNI filter, when the server has `[sni]`]   (seam only: see `SniFilter`)
 *     -> max-connections filter                     (only when some backend has a limit)
 *     -> balancer.pick
 *
 * Failures are values (the GoBetween message texts), not exceptions. The filters write into
 * scratch arrays owned by the elector, so an election allocates nothing. The elector does not
 * reserve the connection: the data plane does `backend.active++` as soon as `elect` returns a
 * backend (D12) and releases it when the connection ends or the dial fails.
 */
import type { Backend } from '../core/backend.js';
import type { Balancer, PickContext } from './types.js';

export const ELECT_EMPTY = "Can't elect backend, Backends empty";
export const ELECT_MAX_CONNECTIONS = 'all backends have reached max connections limit';

/**
 * SEAM for SNI-aware routing (data-plane §5.5), applied before the max-connections filter.
 * Not implemented here. Contract for an implementation:
 * - write the matching backends, in input order, to `out` from index 0 (`out[k++] = b`), set
 *   `out.length = k` (assigning in place, not emptying first, keeps the array's storage), and
 *   return true;
 * - or return false when the filter does not apply to this connection (the input is used
 *   unchanged);
 * - or return a message string when the election must fail (e.g. no backend for this SNI under
 *   `unexpected_hostname_strategy = "reject"`).
 * It must not keep `out`, allocate per call beyond `out` growing, or log above debug.
 */
export interface SniFilter {
  filter(sni: string, input: readonly Backend[], out: Backend[]): boolean | string;
}

/** Copies into `out` the backends still under their limit; returns how many. */
function underLimit(input: readonly Backend[], out: Backend[]): number {
  const n = input.length;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const b = input[i] as Backend;
    if (b.maxConnections > 0 && b.active >= b.maxConnections) continue;
    out[k++] = b;
  }
  if (out.length !== k) out.length = k;
  return k;
}

export class Elector {
  private readonly sniScratch: Backend[] = [];
  private readonly maxScratch: Backend[] = [];

  constructor(
    readonly balancer: Balancer,
    private readonly sniFilter?: SniFilter,
  ) {}

  /**
   * Elects a backend for one connection (or UDP session), or returns the failure message.
   * `eligible` must be sorted by key (the pool's `eligible`); `anyMaxConnections` is the pool's
   * flag that lets the max-connections filter be skipped.
   */
  elect(ctx: PickContext, eligible: readonly Backend[], anyMaxConnections: boolean): Backend | string {
    if (eligible.length === 0) return ELECT_EMPTY;
    let candidates = eligible;

    // ---- SNI filter seam (data-plane §5.5): runs before max connections. ----
    if (this.sniFilter !== undefined) {
      const out = this.sniScratch;
      const r = this.sniFilter.filter(ctx.sni, candidates, out);
      if (typeof r === 'string') return r;
      if (r) candidates = out;
      if (candidates.length === 0) return ELECT_EMPTY;
    }

    if (anyMaxConnections) {
      if (underLimit(candidates, this.maxScratch) === 0) return ELECT_MAX_CONNECTIONS;
      candidates = this.maxScratch;
    }

    return this.balancer.pick(ctx, candidates) ?? ELECT_EMPTY;
  }
}
