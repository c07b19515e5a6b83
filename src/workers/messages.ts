/**
 * What crosses between the primary (control plane) and a data-plane worker thread: a
 * discriminated union of plain data each way (structured clone; the only non-JSON value is the
 * SharedArrayBuffer of a server's active counts, which is shared, not copied).
 */
import type { ServerPlan } from '../core/plan.js';
import type { BackendSnapshot, CounterDeltas } from '../core/snapshot.js';

/** Set once per worker at creation (`workerData`). */
export interface WorkerInit {
  /** This worker's column in every server's shared counts (stable across restarts). */
  readonly column: number;
  /** Number of columns (the configured worker count). */
  readonly columns: number;
  /** pino level name of the primary's logger. */
  readonly logLevel: string;
  /** How often a worker reports counter deltas while they change, in ms. */
  readonly reportIntervalMs: number;
}

export type ToWorker =
  | {
    /** `replace`: a hot reload of a running server (its listener kept when the bind is unchanged). */
    readonly type: 'start' | 'replace';
    readonly id: number;
    /**
     * This version of the server (unique per primary): its counters are posted under it, so that
     * a replaced version's connections are never booked to the version that replaced it.
     */
    readonly gen: number;
    readonly plan: ServerPlan;
    readonly snapshot: BackendSnapshot;
    /** The server's active counts (shared-active.ts layout). */
    readonly shared: SharedArrayBuffer;
    /** Latest leastbandwidth inputs, when a stats tick has published some. */
    readonly rates: { readonly slots: readonly number[]; readonly bandwidth: readonly number[] } | null;
    /** Listen with SO_REUSEPORT (every worker binds the same address). */
    readonly reusePort: boolean;
  }
  | { readonly type: 'update'; readonly name: string; readonly snapshot: BackendSnapshot }
  | { readonly type: 'rates'; readonly name: string; readonly slots: readonly number[]; readonly bandwidth: readonly number[] }
  | { readonly type: 'flush'; readonly name: string }
  | { readonly type: 'drain'; readonly id: number; readonly name: string; readonly graceMs: number }
  | { readonly type: 'close'; readonly id: number; readonly name: string };

/** An error as plain data; `kind` lets the primary rebuild the typed error (StartError…). */
export interface ErrorData {
  readonly kind: string;
  readonly message: string;
}

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'started'; readonly id: number; readonly address: string; readonly port: number }
  | { readonly type: 'failed'; readonly id: number; readonly error: ErrorData }
  /** A drain or close finished: every connection of that server in this worker is released. */
  | { readonly type: 'done'; readonly id: number }
  /** Counter deltas, each of the server version in the parallel `gens`. */
  | { readonly type: 'counters'; readonly gens: readonly number[]; readonly deltas: readonly CounterDeltas[] }
  /**
   * Version `gen` has no connection left in this worker and its last counters were posted before
   * (a replaced version once its connections ended; every version of a name on drain/close).
   */
  | { readonly type: 'ended'; readonly gen: number }
  /** One pino JSON line from the worker's logger, re-logged by the primary. */
  | { readonly type: 'log'; readonly line: string };
