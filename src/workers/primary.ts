/**
 * The multi-core `DataPlanePort` for N workers: the main thread (worker 0, next to the control
 * plane, which runs once) and N-1 worker threads each run the in-process data plane with their own
 * listener on the server's port (SO_REUSEPORT: the kernel spreads new connections over them). Only
 * plain data crosses to the threads (messages.ts). The main thread serves too, so an extra worker
 * costs one thread (~16 MB), not two.
 *
 * - Active counts (server and backend max_connections, leastconn) live in one SharedArrayBuffer per
 *   server (shared-active.ts), so limits hold across threads.
 * - Workers post counter deltas per server version; they are folded into that version's
 *   `CounterSink` (versions.ts). What each worker has reported as active is remembered, so that
 *   when a worker dies its share is taken back out of the stats and its column of the shared
 *   counts is zeroed: no lease stays held.
 * - A worker that exits unexpectedly is restarted (supervisor.ts) and given every running server
 *   again, on the same port.
 */
import { StartError, errorMessage } from '../core/errors.js';
import type { BalancerKind } from '../balance/types.js';
import type { Random } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { ServerPlan } from '../core/plan.js';
import type { DataPlanePort, StartedServer } from '../core/port.js';
import type { Registry } from '../core/registry.js';
import type { BackendSnapshot, CounterSink } from '../core/snapshot.js';
import { InProcessDataPlane } from '../data/in-process.js';
import type { AccessLog } from '../data/access-log.js';
import type { CertificateSource } from '../core/cert-source.js';
import { withPort } from './bind.js';
import { broadcast, moveOn, startOn, stopOn } from './dispatch.js';
import { SharedActiveTable, ensureRows, maxSlot } from './shared-active.js';
import { Supervisor } from './supervisor.js';
import type { WorkerThread } from './thread.js';
import { Versions, type ServerEntry } from './versions.js';

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

export class ThreadedDataPlane implements DataPlanePort {
  private readonly threads: Supervisor;
  private readonly versions: Versions;
  /** Worker 0: the data plane in the main thread. */
  private readonly local: InProcessDataPlane;
  /** Backend connections made by worker 0 (connectionsPerWorker). */
  private readonly localCount = { connections: 0 };
  private readonly log: Logger;

  private constructor(private readonly opts: ThreadedOptions) {
    this.log = opts.log.child({ name: 'workers' });
    this.versions = new Versions(opts.workers, this.localCount);
    this.local = new InProcessDataPlane({
      balancers: opts.balancers,
      random: opts.random,
      log: opts.log,
      reusePort: true,
      accessLog: opts.accessLog ?? null,
      ...(opts.certificates !== undefined ? { certificates: opts.certificates } : {}),
      activeTable: (plan) => {
        const e = this.versions.get(plan.name);
        if (e === undefined) throw new Error(`no shared counters for server ${plan.name}`);
        return new SharedActiveTable(e.shared, opts.workers, 0);
      },
    });
    this.threads = new Supervisor({
      workers: opts.workers,
      log: opts.log,
      reportIntervalMs: opts.reportIntervalMs ?? 100,
      restartDelayMs: opts.restartDelayMs ?? 100,
      entry: opts.entry ?? new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url),
      hooks: {
        counters: (_t, gen, d) => this.versions.fold(gen, d),
        ended: (t, gen) => this.versions.ended(t, gen),
        gone: (t) => this.versions.threadGone(t),
        resume: (t) => this.resume(t),
      },
    });
  }

  /** Starts the `opts.workers - 1` threads; resolves when every one is ready. */
  static async create(opts: ThreadedOptions): Promise<ThreadedDataPlane> {
    if (opts.workers < 2) throw new Error('ThreadedDataPlane needs at least 2 workers');
    const dp = new ThreadedDataPlane(opts);
    try {
      await dp.threads.start();
    } catch (err) {
      await dp.shutdown();
      throw err;
    }
    return dp;
  }

  /** Thread ids of the running worker threads, workers 1..N-1 (tests and diagnostics). */
  threadIds(): number[] {
    return this.threads.threadIds();
  }

  /** Backend connections made by each worker so far, worker 0 first (as reported; diagnostics, tests). */
  connectionsPerWorker(): number[] {
    return [this.localCount.connections, ...this.threads.threads.map((t) => t.connections)];
  }

  /** Leases held now in the shared active counts of every known version of `name` (diagnostics, tests). */
  heldLeases(name: string): number {
    return this.versions.heldLeases(name);
  }

  /** Terminates worker thread `column` (≥ 1) as a crash would (tests); it is restarted like a crashed one. */
  kill(column: number): Promise<void> {
    return this.threads.kill(column);
  }

  async start(plan: ServerPlan, snapshot: BackendSnapshot, sink: CounterSink): Promise<StartedServer> {
    if (this.threads.stopped) throw new StartError('tsbetween is shutting down');
    if (this.versions.get(plan.name) !== undefined) throw new StartError(`server ${plan.name} is already running`);
    const entry = this.versions.create(plan, snapshot, sink);
    this.versions.install(entry);
    let first: StartedServer;
    try {
      // Worker 0 resolves port 0; the threads bind the port it got.
      first = await this.local.start(plan, snapshot, entry.local);
    } catch (err) {
      this.versions.restore(entry, undefined);
      throw err;
    }
    if (this.mainOnly(plan)) return first;
    try {
      entry.plan = { ...plan, bind: withPort(plan.bind, first.port) };
      await Promise.all(this.threads.threads.map((t) => startOn(t, entry)));
      return first;
    } catch (err) {
      await this.stopServer(plan.name, 'close', 0).catch(() => undefined);
      throw err;
    }
  }

  update(name: string, snapshot: BackendSnapshot): void {
    const e = this.versions.get(name);
    if (e === undefined || snapshot.version <= e.snapshot.version) return;
    e.snapshot = snapshot;
    ensureRows(e.shared, this.opts.workers, maxSlot(snapshot));
    this.local.update(name, snapshot);
    broadcast(this.threads.threads, e, { type: 'update', name, snapshot });
  }

  rates(name: string, slots: readonly number[], bandwidth: readonly number[]): void {
    const e = this.versions.get(name);
    if (e === undefined) return;
    e.rates = { slots, bandwidth };
    this.local.rates(name, slots, bandwidth);
    broadcast(this.threads.threads, e, { type: 'rates', name, slots, bandwidth });
  }

  flush(name: string): void {
    const e = this.versions.get(name);
    if (e !== undefined) broadcast(this.threads.threads, e, { type: 'flush', name });
  }

  drain(name: string, graceMs: number): Promise<void> {
    return this.stopServer(name, 'drain', graceMs);
  }

  close(name: string): Promise<void> {
    return this.stopServer(name, 'close', 0);
  }

  /** Stops every worker thread (after the servers are drained or closed). */
  shutdown(): Promise<void> {
    return this.threads.shutdown();
  }

  /**
   * Hot reload of a running server: worker 0 and then each thread swap it in place (listeners kept
   * when the bind is unchanged; open connections finish on the old version, and are counted to
   * it). A server that becomes main-thread only drains its thread copies (dispatch.ts).
   */
  async replace(plan: ServerPlan, snapshot: BackendSnapshot, sink: CounterSink): Promise<StartedServer> {
    if (this.versions.get(plan.name) === undefined) return this.start(plan, snapshot, sink);
    const next = this.versions.create(plan, snapshot, sink);
    const old = this.versions.install(next) as ServerEntry;
    let first: StartedServer;
    try {
      first = await this.local.replace(plan, snapshot, next.local);
    } catch (err) {
      this.versions.restore(next, old);
      throw err;
    }
    next.plan = { ...plan, bind: withPort(plan.bind, first.port) };
    const main = this.mainOnly(plan);
    for (const column of [...old.on]) void moveOn(this.threads.thread(column), next, main, this.log);
    return first;
  }

  private async stopServer(name: string, how: 'drain' | 'close', graceMs: number): Promise<void> {
    if (this.versions.get(name) === undefined) return;
    const all = this.versions.remove(name);
    // Every thread that runs a version of the name, or still finishes connections of one.
    const columns = new Set(all.flatMap((e) => [...e.on]));
    const local = how === 'drain' ? this.local.drain(name, graceMs) : this.local.close(name);
    await Promise.all([local, ...[...columns].map((column) => stopOn(this.threads.thread(column), name, how, graceMs))]);
    this.versions.drop(all, this.threads.threads);
  }

  /**
   * Servers that run in the main thread only: UDP (its session table is per process), ACME
   * certificates and the access log (both live in the main thread).
   */
  private mainOnly(plan: ServerPlan): boolean {
    return plan.protocol === 'udp' || plan.tls?.acme === true || (this.opts.accessLog ?? null) !== null;
  }

  /** Gives a restarted worker every running server again. */
  private async resume(t: WorkerThread): Promise<void> {
    for (const e of [...this.versions.running()]) {
      if (this.mainOnly(e.plan)) continue;
      try {
        await startOn(t, e);
      } catch (err) {
        this.log.error(`worker ${t.column}: server ${e.plan.name} did not restart: ${errorMessage(err)}`);
      }
    }
  }
}
