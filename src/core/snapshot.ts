/**
 * Backend snapshots and counter deltas: the data that crosses between the planes at run time.
 *
 * - The control plane (backend pool) publishes a `BackendSnapshot` whenever its table changes;
 *   the data plane rebuilds its election tables only when `version` changes.
 * - Every backend object of the pool has a `slot`: a small integer, unique within its server while
 *   the backend object exists (a backend removed and re-added gets a new slot, so a connection that
 *   still holds the old one releases the old one — D13). Slots index the data plane's counters and
 *   the `ActiveTable`, which can therefore live in shared memory.
 * - The data plane reports `CounterDeltas` (plain) or, in one thread, calls a `CounterSink`
 *   directly; either way the control plane folds them into stats and metrics.
 */

export interface SnapshotBackend {
  readonly slot: number;
  /** `host:port` — GoBetween's identity (exact strings). */
  readonly key: string;
  readonly host: string;
  readonly port: string;
  /** Host to dial (no IPv6 brackets) and port to dial (0 when the string is not a port). */
  readonly dialHost: string;
  readonly dialPort: number;
  /** `net.isIP(dialHost)`: 4, 6, or 0 for a host name (dialers choose by it without a regexp). */
  readonly dialFamily: number;
  readonly weight: number;
  readonly priority: number;
  /** '' = none. */
  readonly sni: string;
  /** 0 = unlimited. */
  readonly maxConnections: number;
  readonly live: boolean;
  /** live && discovered: may be elected. */
  readonly eligible: boolean;
}

export interface BackendSnapshot {
  /** Increases with every change; equal versions carry equal contents. */
  readonly version: number;
  /** Every backend of the table (lingering ones included), sorted by key in byte order. */
  readonly backends: readonly SnapshotBackend[];
}

/**
 * The load figures balancers read per pick (leastconn, leastbandwidth, the max-connections
 * filter), by slot. Implemented by the data plane over its ActiveTable.
 */
export interface LoadView {
  /** Connections holding the backend now (reserved at election, D12). */
  active(slot: number): number;
  /** rx_second + tx_second of the last stats window (leastbandwidth). */
  bandwidth(slot: number): number;
}

/**
 * Active-connection accounting shared by everything that admits connections for one server:
 * the server-wide count (server max_connections) and one count per backend slot (backend
 * max_connections, leastconn). Check-and-increment is one operation, so an implementation over
 * an Int32Array in a SharedArrayBuffer (Atomics.compareExchange) keeps the limits exact across
 * threads; the in-process one is src/data/active.ts.
 */
export interface ActiveTable {
  /** Admits one server connection unless `max > 0` and the count has reached it (max < 0: never). */
  admit(max: number): boolean;
  leave(): void;
  serverActive(): number;
  /** Reserves one connection on `slot` unless `max > 0` and it is full. */
  acquire(slot: number, max: number): boolean;
  release(slot: number): void;
  active(slot: number): number;
}

/**
 * Counter deltas of one server since the previous report. Arrays are parallel, one entry per
 * slot that changed. Plain data: posted from workers as is.
 */
export interface CounterDeltas {
  readonly server: string;
  readonly active: number;
  readonly rx: number;
  readonly tx: number;
  readonly slots: readonly number[];
  readonly backendActive: readonly number[];
  readonly total: readonly number[];
  readonly refused: readonly number[];
  readonly backendRx: readonly number[];
  readonly backendTx: readonly number[];
}

/**
 * Where the data plane reports counters. The per-event methods are the hot path (one call per
 * chunk, no allocation); `apply` takes a batch (from a worker). The control plane's
 * implementation folds both into its stats objects (src/control/tally.ts).
 */
export interface CounterSink {
  serverActive(delta: number): void;
  backendActive(slot: number, delta: number): void;
  /** A successful backend connect. */
  connected(slot: number): void;
  /** A failed backend dial. */
  refused(slot: number): void;
  /** Bytes written to the client (backend -> client). Server rx counts them too. */
  rx(slot: number, n: number): void;
  /** Bytes written to the backend (client -> backend). Server tx counts them too. */
  tx(slot: number, n: number): void;
  apply(deltas: CounterDeltas): void;
}
