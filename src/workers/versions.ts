/**
 * The server versions of the multi-core port (primary side) and the routing of what the worker
 * threads report. Each `start`/`replace` of a server makes a new version (`gen`, unique here)
 * with its own control-plane sink (its stats), its own shared active counts (shared-active.ts)
 * and its own worker-0 sink. Threads post counters under the version they belong to, so a
 * replaced version's connections, which finish on it, are booked to it and never to the version
 * that replaced it — nor is what a dead thread had reported for one version taken out of another.
 *
 * A replaced version is kept while a thread may still report for it (`on`): until that thread
 * says `ended` (its last connection of the version ended), or the thread dies, or the name stops.
 */
import type { ServerPlan } from '../core/plan.js';
import type { BackendSnapshot, CounterDeltas, CounterSink } from '../core/snapshot.js';
import { CountingSink } from './delta-sink.js';
import { allocateShared, clearColumn, ensureRows, maxSlot } from './shared-active.js';

export interface ServerEntry {
  readonly gen: number;
  /** The plan with the real port (port 0 resolved by worker 0). */
  plan: ServerPlan;
  snapshot: BackendSnapshot;
  /** The control plane's sink of this version (its stats). */
  readonly sink: CounterSink;
  /** Worker 0's sink of this version. */
  readonly local: CountingSink;
  /** Active counts of this version, one column per worker. */
  readonly shared: SharedArrayBuffer;
  rates: { slots: readonly number[]; bandwidth: readonly number[] } | null;
  /** Worker threads (columns ≥ 1) that run this version or still finish connections of it. */
  readonly on: Set<number>;
}

/** What versions.ts needs of a worker thread (thread.ts): its column and what it reported. */
export interface ThreadLedger {
  readonly column: number;
  /** What it had reported as held for version `gen`, negated; null when nothing. Forgets it. */
  takeBack(gen: number, server: string): CounterDeltas | null;
  /** Forgets what it had reported for version `gen`. */
  forget(gen: number): void;
}

let nextGen = 1;

export class Versions {
  /** The version each running server runs now, by name. */
  private readonly current = new Map<string, ServerEntry>();
  /** Every version a thread may report for (the current ones and replaced ones), by gen. */
  private readonly byGen = new Map<number, ServerEntry>();

  constructor(
    private readonly columns: number,
    /** Backend connections made by worker 0 (diagnostics), over every version. */
    private readonly localCount: { connections: number },
  ) {}

  /** A new version (not current yet). */
  create(plan: ServerPlan, snapshot: BackendSnapshot, sink: CounterSink): ServerEntry {
    const shared = allocateShared(this.columns);
    ensureRows(shared, this.columns, maxSlot(snapshot));
    return { gen: nextGen++, plan, snapshot, sink, local: new CountingSink(sink, this.localCount), shared, rates: null, on: new Set() };
  }

  get(name: string): ServerEntry | undefined {
    return this.current.get(name);
  }

  /** The current versions of the running servers. */
  running(): IterableIterator<ServerEntry> {
    return this.current.values();
  }

  /** Makes `e` the current version of its server; returns the version it replaces. */
  install(e: ServerEntry): ServerEntry | undefined {
    const prev = this.current.get(e.plan.name);
    this.current.set(e.plan.name, e);
    this.byGen.set(e.gen, e);
    return prev;
  }

  /** Undoes `install` (the start or replace failed): `prev` is current again. */
  restore(e: ServerEntry, prev: ServerEntry | undefined): void {
    this.byGen.delete(e.gen);
    if (prev === undefined) this.current.delete(e.plan.name);
    else this.current.set(e.plan.name, prev);
  }

  /** The server stops: it has no current version any more. Returns every version it has. */
  remove(name: string): ServerEntry[] {
    this.current.delete(name);
    return [...this.byGen.values()].filter((e) => e.plan.name === name);
  }

  /** Forgets versions whose every connection has ended (the name was stopped). */
  drop(entries: readonly ServerEntry[], threads: readonly ThreadLedger[]): void {
    for (const e of entries) {
      this.byGen.delete(e.gen);
      e.on.clear();
      for (const t of threads) t.forget(e.gen);
    }
  }

  /** Every version of `name` still known, the current one included. */
  named(name: string): ServerEntry[] {
    return [...this.byGen.values()].filter((e) => e.plan.name === name);
  }

  /** Folds a thread's counter deltas into their version's stats; false when that version is gone. */
  fold(gen: number, d: CounterDeltas): boolean {
    const e = this.byGen.get(gen);
    if (e === undefined) return false;
    e.sink.apply(d);
    return true;
  }

  /** Thread `t` has nothing left of version `gen`. */
  ended(t: ThreadLedger, gen: number): void {
    const e = this.byGen.get(gen);
    if (e === undefined) return;
    e.on.delete(t.column);
    t.forget(gen);
    this.settle(e);
  }

  /**
   * Thread `t` is gone: its column of every version's active counts is zeroed (every lease it
   * held is released, whatever point its code had reached) and what it had reported as held is
   * taken back out of that version's stats.
   */
  threadGone(t: ThreadLedger): void {
    for (const e of [...this.byGen.values()]) {
      e.on.delete(t.column);
      clearColumn(e.shared, this.columns, t.column);
      const back = t.takeBack(e.gen, e.plan.name);
      if (back !== null) e.sink.apply(back);
      this.settle(e);
    }
  }

  /**
   * Leases held now in the shared active counts of the known versions of `name` (server row and
   * backend rows, every worker; diagnostics and tests).
   */
  heldLeases(name: string): number {
    let n = 0;
    for (const e of this.named(name)) {
      const view = new Int32Array(e.shared);
      for (let i = 0; i < view.length; i++) n += Math.abs(Atomics.load(view, i));
    }
    return n;
  }

  /** A replaced version no thread reports for any more is forgotten. */
  private settle(e: ServerEntry): void {
    if (e.on.size === 0 && this.current.get(e.plan.name) !== e) this.byGen.delete(e.gen);
  }
}
