/**
 * The data-plane port: the only way the control plane (ServerManager) drives listeners. One
 * in-process implementation (src/data/in-process.ts); a multi-core one posts the same plain data
 * to workers. Every argument is plain data except the `CounterSink`, which stays on the control
 * plane's side (a multi-core port calls its `apply` with the deltas its workers post).
 */
import type { ServerPlan } from './plan.js';
import type { BackendSnapshot, CounterSink } from './snapshot.js';

export interface StartedServer {
  /** The bound address (port 0 in the plan resolves to the real port here). */
  readonly address: string;
  readonly port: number;
}

export interface DataPlanePort {
  /**
   * Opens the server's listener(s) with this plan and first snapshot; resolves once it accepts
   * connections. Rejects with StartError (Go's text) and leaves nothing behind.
   */
  start(plan: ServerPlan, snapshot: BackendSnapshot, sink: CounterSink): Promise<StartedServer>;
  /** Publishes a new backend snapshot (ignored when the version is not newer). */
  update(name: string, snapshot: BackendSnapshot): void;
  /**
   * Publishes the leastbandwidth inputs (bytes/s per slot, parallel arrays) after a stats tick.
   */
  rates(name: string, slots: readonly number[], bandwidth: readonly number[]): void;
  /**
   * Reports the counters not reported yet, synchronously where the implementation can (in one
   * thread every event is reported at once; across workers this sends what arrived).
   */
  flush(name: string): void;
  /** Stops accepting, gives connections `graceMs` to end, destroys the rest; resolves when all are released. */
  drain(name: string, graceMs: number): Promise<void>;
  /** Stops accepting and destroys every connection; resolves when all are released. */
  close(name: string): Promise<void>;
}
