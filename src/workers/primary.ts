/**
 * The multi-core `DataPlanePort` for N workers: the main thread (worker 0, next to the control
 * plane, which runs once) and N-1 worker threads each run the in-process data plane with their own
 * listener on the server's port (SO_REUSEPORT: the kernel spreads new connections over them). Only
 * plain data crosses to the threads (messages.ts). The main thread serves too, so an extra worker
 * costs one thread (~16 MB), not two.
 *
 * - Active counts (server and backend max_connections, leastconn) live in one SharedArrayBuffer per
 *   server (shared-active.ts), so limits hold across threads.
 * - Workers post counter deltas; they are folded into the server's `CounterSink` here. What each
 *   worker has reported as active is remembered, so that when a worker dies its share is taken back
 *   out of the stats and its column of the shared counts is zeroed: no lease stays held.
 * - A worker that exits unexpectedly is restarted (after a short, growing delay) and given every
 *   running server again, on the same port.
 */
import { StartError, errorMessage } from '../core/errors.js';
import type { BalancerKind } from '../balance/types.js';
import type { Random } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { ServerPlan } from '../core/plan.js';
import type { DataPlanePort, StartedServer } from '../core/port.js';
import type { Registry } from '../core/registry.js';
import type { BackendSnapshot, CounterDeltas, CounterSink } from '../core/snapshot.js';
import { InProcessDataPlane } from '../data/in-process.js';
import type { AccessLog } from '../data/access-log.js';
import type { CertificateSource } from '../core/cert-source.js';
import type { ToWorker } from './messages.js';
import { withPort } from './bind.js';
import { CountingSink } from './delta-sink.js';
import { SharedActiveTable, allocateShared, clearColumn, ensureRows, maxSlot } from './shared-active.js';
import { WorkerThread } from './thread.js';

export interface ThreadedOptions {
  /** Workers in all: the main thread and `workers - 1` threads (at least 2). */
  readonly workers: number;
  readonly log: Logger;
  /** For worker 0, the main thread's data plane (the threads build their own). */
  readonly balancers: Registry<BalancerKind>;
  readonly random: Random;
  /** How often workers report counter deltas while they change (default 100 ms). */
  readonly reportIntervalMs?: number;
  /** First restart delay after a crash (default 100 ms; doubles up to 5 s while crashes repeat). */
  readonly restartDelayMs?: number;
  /** The worker entry module (default: ./worker.js beside this file, ./worker.ts under tsx). */
  readonly entry?: URL;
  /** `[access_log]` when enabled: servers then run in the main thread only (the log lives there). */
  readonly accessLog?: AccessLog | null;
  /** ACME certificates: servers using them run in the main thread only (the orders live there). */
  readonly certificates?: CertificateSource;
}

/** After a hot reload, how long a worker thread's connections of the old version may finish. */
const RELOAD_GRACE_MS = 10_000;

interface ServerEntry {
  /** The plan with the real port (port 0 resolved by worker 0). */
  plan: ServerPlan;
  snapshot: BackendSnapshot;
  readonly sink: CounterSink;
  readonly local: CountingSink;
  readonly shared: SharedArrayBuffer;
  rates: { slots: readonly number[]; bandwidth: readonly number[] } | null;
  /** Worker threads (columns ≥ 1) that have this server running. */
  readonly on: Set<number>;
}

export class ThreadedDataPlane implements DataPlanePort {
  /** Columns 1..N-1. */
  private readonly threads: WorkerThread[] = [];
  private readonly servers = new Map<string, ServerEntry>();
  /** Worker 0: the data plane in the main thread. */
  private readonly local: InProcessDataPlane;
  /** Backend connections of servers already stopped, worker 0 (connectionsPerWorker). */
  private localDone = 0;
  private readonly log: Logger;
  private stopping = false;
  private readonly restartTimers = new Set<NodeJS.Timeout>();

  private constructor(private readonly opts: ThreadedOptions) {
    this.log = opts.log.child({ name: 'workers' });
    this.local = new InProcessDataPlane({
      balancers: opts.balancers,
      random: opts.random,
      log: opts.log,
      reusePort: true,
      accessLog: opts.accessLog ?? null,
      ...(opts.certificates !== undefined ? { certificates: opts.certificates } : {}),
      activeTable: (plan) => {
        const e = this.servers.get(plan.name);
        if (e === undefined) throw new Error(`no shared counters for server ${plan.name}`);
        return new SharedActiveTable(e.shared, opts.workers, 0);
      },
    });
  }

  /** Starts the `opts.workers - 1` threads; resolves when every one is ready. */
  static async create(opts: ThreadedOptions): Promise<ThreadedDataPlane> {
    if (opts.workers < 2) throw new Error('ThreadedDataPlane needs at least 2 workers');
    const dp = new ThreadedDataPlane(opts);
    const entry = opts.entry ?? new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);
    for (let i = 1; i < opts.workers; i++) {
      const t = new WorkerThread({
        init: { column: i, columns: opts.workers, logLevel: opts.log.level, reportIntervalMs: opts.reportIntervalMs ?? 100 },
        entry,
        log: opts.log,
        hooks: { counters: (t, d) => dp.fold(t, d), exited: (th, code) => dp.onExit(th, code) },
      });
      dp.threads.push(t);
      t.spawn();
    }
    try {
      await Promise.all(dp.threads.map((t) => t.ready));
    } catch (err) {
      await dp.shutdown();
      throw err;
    }
    return dp;
  }

  /** Thread ids of the running worker threads, workers 1..N-1 (tests and diagnostics). */
  threadIds(): number[] {
    return this.threads.flatMap((t) => (t.worker === null ? [] : [t.worker.threadId]));
  }

  /** Backend connections made by each worker so far, worker 0 first (as reported; diagnostics, tests). */
  connectionsPerWorker(): number[] {
    let local = this.localDone;
    for (const e of this.servers.values()) local += e.local.connections;
    return [local, ...this.threads.map((t) => t.connections)];
  }

  /** Terminates worker thread `column` (≥ 1) as a crash would (tests); it is restarted like a crashed one. */
  async kill(column: number): Promise<void> {
    const w = this.threads[column - 1]?.worker;
    if (w !== null && w !== undefined) await w.terminate();
  }

  async start(plan: ServerPlan, snapshot: BackendSnapshot, sink: CounterSink): Promise<StartedServer> {
    if (this.stopping) throw new StartError('tsbetween is shutting down');
    if (this.servers.has(plan.name)) throw new StartError(`server ${plan.name} is already running`);
    const shared = allocateShared(this.opts.workers);
    ensureRows(shared, this.opts.workers, maxSlot(snapshot));
    const local = new CountingSink(sink);
    const entry: ServerEntry = { plan, snapshot, sink, local, shared, rates: null, on: new Set() };
    this.servers.set(plan.name, entry);
    let first: StartedServer;
    try {
      // Worker 0 resolves port 0; the threads bind the port it got.
      first = await this.local.start(plan, snapshot, local);
    } catch (err) {
      this.servers.delete(plan.name);
      throw err;
    }
    if (this.mainOnly(plan)) return first;
    try {
      entry.plan = { ...plan, bind: withPort(plan.bind, first.port) };
      await Promise.all(this.threads.map((t) => this.startOn(t, entry)));
      return first;
    } catch (err) {
      await this.stopServer(plan.name, 'close', 0).catch(() => undefined);
      throw err;
    }
  }

  update(name: string, snapshot: BackendSnapshot): void {
    const e = this.servers.get(name);
    if (e === undefined || snapshot.version <= e.snapshot.version) return;
    e.snapshot = snapshot;
    ensureRows(e.shared, this.opts.workers, maxSlot(snapshot));
    this.local.update(name, snapshot);
    this.broadcast(e, { type: 'update', name, snapshot });
  }

  rates(name: string, slots: readonly number[], bandwidth: readonly number[]): void {
    const e = this.servers.get(name);
    if (e === undefined) return;
    e.rates = { slots, bandwidth };
    this.local.rates(name, slots, bandwidth);
    this.broadcast(e, { type: 'rates', name, slots, bandwidth });
  }

  flush(name: string): void {
    const e = this.servers.get(name);
    if (e !== undefined) this.broadcast(e, { type: 'flush', name });
  }

  drain(name: string, graceMs: number): Promise<void> {
    return this.stopServer(name, 'drain', graceMs);
  }

  close(name: string): Promise<void> {
    return this.stopServer(name, 'close', 0);
  }

  /** Stops every worker thread (after the servers are drained or closed). */
  async shutdown(): Promise<void> {
    this.stopping = true;
    for (const t of this.restartTimers) clearTimeout(t);
    this.restartTimers.clear();
    await Promise.all(this.threads.map((t) => t.terminate()));
  }

  private thread(column: number): WorkerThread {
    const t = this.threads[column - 1];
    if (t === undefined) throw new Error(`no worker ${column}`);
    return t;
  }

  private async startOn(t: WorkerThread, e: ServerEntry): Promise<StartedServer> {
    await t.ready;
    // Counted as running from the moment the start is posted: updates posted after it arrive
    // after it (one ordered channel), so the worker never misses a snapshot.
    e.on.add(t.column);
    try {
      const reply = await t.request((id) => ({ type: 'start', id, plan: e.plan, snapshot: e.snapshot,
        shared: e.shared, rates: e.rates, reusePort: true }));
      if (reply.type !== 'started') throw new Error(`worker ${t.column}: unexpected reply ${reply.type}`);
      return { address: reply.address, port: reply.port };
    } catch (err) {
      e.on.delete(t.column);
      throw err;
    }
  }

  private async stopServer(name: string, how: 'drain' | 'close', graceMs: number): Promise<void> {
    const e = this.servers.get(name);
    if (e === undefined) return;
    this.servers.delete(name);
    const local = how === 'drain' ? this.local.drain(name, graceMs) : this.local.close(name);
    await Promise.all([local, ...[...e.on].map(async (column) => {
      const t = this.thread(column);
      if (t.worker === null) return;
      try {
        await t.request((id) => (how === 'drain' ? { type: 'drain', id, name, graceMs } : { type: 'close', id, name }));
      } catch {
        // the worker died meanwhile: its connections are gone and its leases were taken back
      }
    })]);
    this.localDone += e.local.connections;
    e.on.clear();
    for (const t of this.threads) t.forget(name);
  }

  private broadcast(e: ServerEntry, msg: ToWorker): void {
    for (const column of e.on) this.threads[column - 1]?.post(msg);
  }

  /**
   * Hot reload of a running server: worker 0 and then each thread swap it in place (listeners kept
   * when the bind is unchanged; open connections finish on the old version). Until a thread has
   * swapped, its counters go to the old version's sink. A server that becomes main-thread only
   * drains its thread copies (RELOAD_GRACE_MS).
   */
  async replace(plan: ServerPlan, snapshot: BackendSnapshot, sink: CounterSink): Promise<StartedServer> {
    const old = this.servers.get(plan.name);
    if (old === undefined) return this.start(plan, snapshot, sink);
    const shared = allocateShared(this.opts.workers);
    ensureRows(shared, this.opts.workers, maxSlot(snapshot));
    const next: ServerEntry = { plan, snapshot, sink, local: new CountingSink(sink), shared, rates: null, on: new Set() };
    this.servers.set(plan.name, next);
    let first: StartedServer;
    try {
      first = await this.local.replace(plan, snapshot, next.local);
    } catch (err) {
      this.servers.set(plan.name, old);
      throw err;
    }
    next.plan = { ...plan, bind: withPort(plan.bind, first.port) };
    this.retired.set(plan.name, old);
    const moved = [...old.on].map(async (column) => {
      const t = this.thread(column);
      if (this.mainOnly(plan)) {
        // Now main-thread only: the thread's copy stops accepting and its connections finish.
        await t.request((id) => ({ type: 'drain', id, name: plan.name, graceMs: RELOAD_GRACE_MS })).catch(() => undefined);
        old.on.delete(column);
        return;
      }
      // Swapped in place in the thread too: closing a SO_REUSEPORT listener would reset the
      // connections waiting in its accept queue. Updates posted from now on reach the thread.
      next.on.add(column);
      try {
        const reply = await t.request((id) => ({ type: 'replace', id, plan: next.plan, snapshot: next.snapshot,
          shared: next.shared, rates: next.rates, reusePort: true }));
        if (reply.type !== 'started') throw new Error(`unexpected reply ${reply.type}`);
      } catch (err) {
        next.on.delete(column);
        this.log.error(`worker ${column}: server ${plan.name} did not take the reloaded config: ${errorMessage(err)}`);
      } finally {
        old.on.delete(column);
      }
    });
    void Promise.all(moved).finally(() => {
      if (this.retired.get(plan.name) === old) this.retired.delete(plan.name);
    });
    return first;
  }

  /** Servers replaced by a reload whose thread copies still drain, by name. */
  private readonly retired = new Map<string, ServerEntry>();

  /**
   * Servers that run in the main thread only: UDP (its session table is per process), ACME
   * certificates and the access log (both live in the main thread).
   */
  private mainOnly(plan: ServerPlan): boolean {
    return plan.protocol === 'udp' || plan.tls?.acme === true || (this.opts.accessLog ?? null) !== null;
  }

  /** Folds a thread's counter deltas into its server's stats; false when the server is gone. */
  private fold(t: WorkerThread, d: CounterDeltas): boolean {
    const r = this.retired.get(d.server);
    const e = r !== undefined && r.on.has(t.column) ? r : this.servers.get(d.server);
    if (e === undefined) return false;
    e.sink.apply(d);
    return true;
  }

  /** A worker thread is gone: release what it held, then start a new one. */
  private onExit(t: WorkerThread, code: number): void {
    for (const [name, e] of this.servers) {
      e.on.delete(t.column);
      clearColumn(e.shared, this.opts.workers, t.column);
      const back = t.takeBack(name);
      if (back !== null) e.sink.apply(back);
    }
    if (this.stopping) return;
    const delay = t.restartDelay(this.opts.restartDelayMs ?? 100);
    this.log.error(`worker ${t.column} exited (code ${code}); its connections were dropped; restarting in ${delay} ms`);
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.stopping) return;
      t.spawn();
      void this.resume(t);
    }, delay);
    timer.unref();
    this.restartTimers.add(timer);
  }

  /** Gives a restarted worker every running server again. */
  private async resume(t: WorkerThread): Promise<void> {
    try {
      await t.ready;
    } catch {
      return; // its exit handler restarts it again
    }
    for (const e of this.servers.values()) {
      if (this.mainOnly(e.plan)) continue;
      try {
        await this.startOn(t, e);
      } catch (err) {
        this.log.error(`worker ${t.column}: server ${e.plan.name} did not restart: ${(err as Error).message}`);
      }
    }
    this.log.info(`worker ${t.column} restarted`);
  }
}
