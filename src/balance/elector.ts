/**
 * The election chain of data-plane §9.1, wrapping one balancer:
 *
 *   eligible (live && discovered, sorted by key — taken from the snapshot, rebuilt only when its
 *            version changes)
 *     -> [SNI filter, when the server has `[sni]`]   (seam only: see `SniFilter`)
 *     -> max-connections filter                     (only when some backend has a limit)
 *     -> balancer.pick
 *
 * Failures are values (the GoBetween message texts), not exceptions. The filters write into
 * scratch arrays owned by the elector, so an election allocates nothing. The elector does not
 * reserve the connection: the data plane acquires the slot in its ActiveTable as soon as `elect`
 * returns a backend (D12) and releases it when the connection ends or the dial fails.
 */
import type { BackendSnapshot, LoadView, SnapshotBackend as Backend } from '../core/snapshot.js';
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
function underLimit(input: readonly Backend[], out: Backend[], load: LoadView): number {
  const n = input.length;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const b = input[i] as Backend;
    if (b.maxConnections > 0 && load.active(b.slot) >= b.maxConnections) continue;
    out[k++] = b;
  }
  if (out.length !== k) out.length = k;
  return k;
}

export class Elector {
  private readonly sniScratch: Backend[] = [];
  private readonly maxScratch: Backend[] = [];
  /** Version of the snapshot `eligible` was built from (-1: none yet). */
  private version = -1;
  /** The snapshot's eligible backends, in its (key) order. */
  eligible: readonly Backend[] = [];
  /** Whether some eligible backend has a limit (the filter is skipped otherwise). */
  anyMaxConnections = false;

  constructor(
    readonly balancer: Balancer,
    readonly load: LoadView,
    private readonly sniFilter?: SniFilter,
  ) {}

  /** Takes a new snapshot; the tables are rebuilt only when its version is newer. */
  setSnapshot(s: BackendSnapshot): void {
    if (s.version <= this.version) return;
    this.version = s.version;
    const eligible: Backend[] = [];
    let anyMax = false;
    for (const b of s.backends) {
      if (!b.eligible) continue;
      eligible.push(b);
      if (b.maxConnections > 0) anyMax = true;
    }
    this.eligible = eligible;
    this.anyMaxConnections = anyMax;
  }

  /** Elects over the current snapshot: a backend, or the failure message. */
  elect(ctx: PickContext): Backend | string {
    return this.electAmong(ctx, this.eligible, this.anyMaxConnections);
  }

  /**
   * Elects among `eligible` (sorted by key); `anyMaxConnections` lets the max-connections filter
   * be skipped.
   */
  electAmong(ctx: PickContext, eligible: readonly Backend[], anyMaxConnections: boolean): Backend | string {
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
      if (underLimit(candidates, this.maxScratch, this.load) === 0) return ELECT_MAX_CONNECTIONS;
      candidates = this.maxScratch;
    }

    return this.balancer.pick(ctx, candidates, this.load) ?? ELECT_EMPTY;
  }
}
