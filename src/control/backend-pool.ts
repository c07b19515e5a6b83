/**
 * The state owner of one server's backend table (data-plane §10): merges discovery results and
 * health results, tracks lingering backends, and publishes on every change an immutable
 * `BackendSnapshot` (core/snapshot.ts) — plain data the data plane elects over — plus `eligible`
 * (the live && discovered Backend objects sorted by `host:port`) for control-plane readers.
 *
 * Each Backend object gets a slot (its index in the data plane's counter tables). A slot is
 * reused only after its backend left the table, which happens only once no connection holds it.
 */
import { Backend, type BackendSpec } from '../core/backend.js';
import type { BackendSnapshot, SnapshotBackend } from '../core/snapshot.js';

export type PoolListener = () => void;

export interface BackendPoolOptions {
  /** Live state given to newly discovered backends (`healthcheck.initial_status`). */
  readonly initialLive: boolean;
}

export class BackendPool {
  private readonly table = new Map<string, Backend>();
  private readonly listeners = new Set<PoolListener>();
  private readonly initialLive: boolean;

  /** live && discovered backends sorted by key (byte order). Replaced, never mutated. */
  eligible: readonly Backend[] = [];
  /** Incremented on every change of the table or of `eligible`. */
  version = 0;
  /** What the data plane elects over; replaced (never mutated) on every change. */
  snapshot: BackendSnapshot = { version: 0, backends: [] };
  /** Backends by slot (holes for free slots), for folding counter reports. */
  readonly bySlot: (Backend | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  /** Whether a discovery result was ever applied. */
  discoveredOnce = false;

  constructor(opts: BackendPoolOptions) {
    this.initialLive = opts.initialLive;
  }

  /** Every backend in the table, lingering ones included (health checks and stats use this). */
  all(): Backend[] {
    return [...this.table.values()];
  }

  get(key: string): Backend | undefined {
    return this.table.get(key);
  }

  get size(): number {
    return this.table.size;
  }

  /**
   * Applies a discovery result (§10.2): known backends take the new attributes and keep their
   * live state and counters; new ones get the initial status; backends no longer listed are
   * removed unless they still have connections, in which case they linger with discovered=false.
   * Duplicates: the last occurrence wins.
   */
  setDiscovered(specs: readonly BackendSpec[]): void {
    this.discoveredOnce = true;
    for (const b of this.table.values()) b.discovered = false;
    for (const spec of specs) {
      const key = `${spec.host}:${spec.port}`;
      const known = this.table.get(key);
      if (known !== undefined) {
        known.update(spec);
        known.discovered = true;
      } else {
        const slot = this.freeSlots.pop() ?? this.bySlot.length;
        const b = new Backend(spec, this.initialLive, slot);
        this.bySlot[slot] = b;
        this.table.set(key, b);
      }
    }
    for (const [key, b] of this.table) {
      if (!b.discovered && b.active === 0) this.remove(key, b);
    }
    this.changed();
  }

  /** Sets a backend's live state; returns false when the backend is unknown or unchanged. */
  setLive(key: string, live: boolean): boolean {
    const b = this.table.get(key);
    if (b === undefined || b.live === live) return false;
    b.live = live;
    this.changed();
    return true;
  }

  /**
   * Called by the data plane when a connection that held `b` has released it (b.active already
   * decremented). Removes a lingering backend once its last connection is gone.
   */
  released(b: Backend): void {
    if (!b.discovered && b.active === 0 && this.table.get(b.key) === b) {
      this.remove(b.key, b);
      this.changed();
    }
  }

  private remove(key: string, b: Backend): void {
    this.table.delete(key);
    if (this.bySlot[b.slot] === b) {
      this.bySlot[b.slot] = undefined;
      this.freeSlots.push(b.slot);
    }
  }

  /** Subscribes to table changes; returns the unsubscribe function. */
  onChange(listener: PoolListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Drops all listeners (server deleted). */
  close(): void {
    this.listeners.clear();
  }

  private changed(): void {
    const all = [...this.table.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const eligible: Backend[] = [];
    const backends: SnapshotBackend[] = [];
    for (const b of all) {
      const ok = b.live && b.discovered;
      if (ok) eligible.push(b);
      backends.push(Object.freeze({
        slot: b.slot,
        key: b.key,
        host: b.host,
        port: b.port,
        dialHost: b.dialHost,
        dialPort: b.dialPort,
        weight: b.weight,
        priority: b.priority,
        sni: b.sni,
        maxConnections: b.maxConnections,
        live: b.live,
        eligible: ok,
      }));
    }
    this.eligible = eligible;
    this.version++;
    this.snapshot = Object.freeze({ version: this.version, backends: Object.freeze(backends) });
    for (const l of this.listeners) l();
  }
}
