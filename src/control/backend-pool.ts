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

/**
 * Operator drain state of a backend (tsbetween-only): `ready` (in rotation), `draining` (no new
 * connections, some still open), `drained` (no new connections, none open).
 */
export type DrainState = 'ready' | 'draining' | 'drained';

/** A recent change of a backend (health transition or operator drain), for the dashboard. */
export interface PoolEvent {
  /** Epoch milliseconds. */
  readonly time: number;
  readonly backend: string;
  /** `down`/`up`: passive health (consecutive failed connects / the next passing check). */
  readonly event: 'live' | 'dead' | 'drain' | 'ready' | 'down' | 'up';
  /** Why (the health check's reason), '' when none. */
  readonly reason: string;
}

/** How many recent events a pool keeps. */
export const MAX_POOL_EVENTS = 50;

export interface BackendPoolOptions {
  /** Live state given to newly discovered backends (`healthcheck.initial_status`). */
  readonly initialLive: boolean;
  /**
   * Passive health (tsbetween-only `passive_health_fails`): after this many consecutive failed
   * connects a backend is taken out of rotation. 0 or absent: off.
   */
  readonly passiveFails?: number;
  /**
   * How long a passively downed backend stays out when no active check will bring it back
   * (`passive_health_down_time`); with an active health check it returns at the next passing check.
   */
  readonly passiveDownMs?: number;
  /** Whether an active health check runs (then it, not a timer, ends a passive down). */
  readonly activeChecks?: boolean;
  /** Told once per passive down/up (the server's logger). */
  readonly onPassive?: (key: string, down: boolean, why: string) => void;
}

/** Default `passive_health_down_time` without an active health check. */
export const DEFAULT_PASSIVE_DOWN_MS = 10_000;

export class BackendPool {
  private readonly table = new Map<string, Backend>();
  private readonly listeners = new Set<PoolListener>();
  private readonly initialLive: boolean;
  /**
   * Keys an operator drained (POST /servers/NAME/backends/KEY/drain). By key, not by object, so a
   * drain survives discovery refreshes (a backend that leaves and comes back is still drained)
   * and is carried over to the new pool when a reload changes the server.
   */
  private readonly drainKeys = new Set<string>();

  /** live && discovered && not drained backends sorted by key (byte order). Replaced, never mutated. */
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
  /** The last {@link MAX_POOL_EVENTS} health transitions and drains, oldest first. */
  readonly events: PoolEvent[] = [];

  private readonly passiveFails: number;
  private readonly passiveDownMs: number;
  private readonly activeChecks: boolean;
  private readonly onPassive: ((key: string, down: boolean, why: string) => void) | undefined;
  /** Consecutive failed connects, by key (only while passive health is on and failures happen). */
  private readonly connectFails = new Map<string, number>();
  /** Passively downed keys → the timer that brings them back (null with active checks). */
  private readonly passiveDown = new Map<string, NodeJS.Timeout | null>();

  constructor(opts: BackendPoolOptions) {
    this.initialLive = opts.initialLive;
    this.passiveFails = Math.max(0, opts.passiveFails ?? 0);
    this.passiveDownMs = opts.passiveDownMs ?? DEFAULT_PASSIVE_DOWN_MS;
    this.activeChecks = opts.activeChecks ?? false;
    this.onPassive = opts.onPassive;
  }

  /**
   * A connect to `key` failed (data plane report). With passive health on, the K-th consecutive
   * failure takes the backend out of rotation until the next passing active check (or, without
   * active checks, for `passiveDownMs`).
   */
  connectFailed(key: string): void {
    if (this.passiveFails === 0) return;
    const n = (this.connectFails.get(key) ?? 0) + 1;
    this.connectFails.set(key, n);
    if (n < this.passiveFails || this.passiveDown.has(key) || !this.table.has(key)) return;
    let timer: NodeJS.Timeout | null = null;
    if (!this.activeChecks) {
      timer = setTimeout(() => this.passiveUp(key, `after ${this.passiveDownMs} ms`), this.passiveDownMs);
      timer.unref();
    }
    this.passiveDown.set(key, timer);
    const why = `${n} consecutive failed connects`;
    this.record(key, 'down', why);
    this.onPassive?.(key, true, why);
    this.changed();
  }

  /** A connect to `key` succeeded: its failure streak ends. */
  connectSucceeded(key: string): void {
    if (this.connectFails.size !== 0) this.connectFails.delete(key);
  }

  /** An active check of `key` passed: a passive down ends. */
  checkPassed(key: string): void {
    if (this.passiveDown.has(key)) this.passiveUp(key, 'active health check passed');
  }

  /** Whether `key` is out of rotation by passive health. */
  isPassiveDown(key: string): boolean {
    return this.passiveDown.has(key);
  }

  private passiveUp(key: string, why: string): void {
    const timer = this.passiveDown.get(key);
    if (timer === undefined) return;
    if (timer !== null) clearTimeout(timer);
    this.passiveDown.delete(key);
    this.connectFails.delete(key);
    this.record(key, 'up', why);
    this.onPassive?.(key, false, why);
    this.changed();
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

  /**
   * Sets a backend's live state; returns false when the backend is unknown or unchanged. `reason`
   * (the health check's) is kept with the transition in `events`.
   */
  setLive(key: string, live: boolean, reason = ''): boolean {
    const b = this.table.get(key);
    if (b === undefined || b.live === live) return false;
    b.live = live;
    this.record(key, live ? 'live' : 'dead', reason);
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

  /** Takes `key` out of rotation (existing connections continue); returns whether it changed. */
  drain(key: string): boolean {
    if (this.drainKeys.has(key)) return false;
    this.drainKeys.add(key);
    this.record(key, 'drain', '');
    this.changed();
    return true;
  }

  /** Puts `key` back in rotation; returns whether it changed. */
  undrain(key: string): boolean {
    if (!this.drainKeys.delete(key)) return false;
    this.record(key, 'ready', '');
    this.changed();
    return true;
  }

  /** Drains `keys` without events (a reload carrying the drains of the pool it replaces). */
  restoreDrains(keys: readonly string[]): void {
    if (keys.length === 0) return;
    for (const k of keys) this.drainKeys.add(k);
    this.changed();
  }

  /** The drained keys (also those not in the table now), sorted. */
  drainedKeys(): string[] {
    return [...this.drainKeys].sort();
  }

  /** `ready`, or `draining` while a drained backend still has connections, then `drained`. */
  drainState(b: Backend): DrainState {
    if (!this.drainKeys.has(b.key)) return 'ready';
    return b.active > 0 ? 'draining' : 'drained';
  }

  private record(backend: string, event: PoolEvent['event'], reason: string): void {
    if (this.events.length >= MAX_POOL_EVENTS) this.events.shift();
    this.events.push({ time: Date.now(), backend, event, reason });
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

  /** Drops all listeners and timers (server deleted). */
  close(): void {
    this.listeners.clear();
    for (const t of this.passiveDown.values()) if (t !== null) clearTimeout(t);
    this.passiveDown.clear();
  }

  private changed(): void {
    const all = [...this.table.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const eligible: Backend[] = [];
    const backends: SnapshotBackend[] = [];
    const drained = this.drainKeys;
    const down = this.passiveDown;
    for (const b of all) {
      const ok = b.live && b.discovered && (drained.size === 0 || !drained.has(b.key)) && (down.size === 0 || !down.has(b.key));
      if (ok) eligible.push(b);
      backends.push(Object.freeze({
        slot: b.slot,
        key: b.key,
        host: b.host,
        port: b.port,
        dialHost: b.dialHost,
        dialPort: b.dialPort,
        dialFamily: b.dialFamily,
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
