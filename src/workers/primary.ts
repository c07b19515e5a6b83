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
import { Worker } from 'node:worker_threads';
import { splitHostPort } from '../core/listen.js';
import { StartError } from '../core/errors.js';
import type { BalancerKind } from '../balance/types.js';
import type { Random } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { ServerPlan } from '../core/plan.js';
import type { DataPlanePort, StartedServer } from '../core/port.js';
import type { Registry } from '../core/registry.js';
import type { BackendSnapshot, CounterDeltas, CounterSink } from '../core/snapshot.js';
import { InProcessDataPlane } from '../data/in-process.js';
import type { ErrorData, FromWorker, ToWorker, WorkerInit } from './messages.js';
import { SharedActiveTable, allocateShared, clearColumn, ensureRows } from './shared-active.js';

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
}

interface Pending {
  resolve(value: FromWorker): void;
  reject(err: Error): void;
}

/** What a worker has reported as held (folded into the stats), per server. */
interface Reported {
  active: number;
  readonly slots: Map<number, number>;
}

interface Thread {
  readonly column: number;
  worker: Worker | null;
  ready: Promise<void>;
  readonly pending: Map<number, Pending>;
  readonly reported: Map<string, Reported>;
  crashes: number;
  lastStart: number;
  /** Backend connections this column's threads have made (diagnostics, tests). */
  connections: number;
}

/** Worker 0's sink: the control plane's own, plus a count of backend connections (diagnostics). */
class CountingSink implements CounterSink {
  connections = 0;
  constructor(private readonly to: CounterSink) {}
  serverActive(delta: number): void { this.to.serverActive(delta); }
  backendActive(slot: number, delta: number): void { this.to.backendActive(slot, delta); }
  connected(slot: number): void { this.connections++; this.to.connected(slot); }
  refused(slot: number): void { this.to.refused(slot); }
  rx(slot: number, n: number): void { this.to.rx(slot, n); }
  tx(slot: number, n: number): void { this.to.tx(slot, n); }
  apply(d: CounterDeltas): void { this.to.apply(d); }
}

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

function defaultEntry(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);
}

function toError(e: ErrorData): Error {
  if (e.kind === 'StartError') return new StartError(e.message);
  const err = new Error(e.message);
  err.name = e.kind;
  return err;
}

/** `bind` with its port replaced (Go's host:port form; IPv6 literals in brackets). */
export function withPort(bind: string, port: number): string {
  const hp = splitHostPort(bind);
  if (typeof hp === 'string') return bind;
  const host = hp[0];
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const MAX_RESTART_DELAY_MS = 5000;

export class ThreadedDataPlane implements DataPlanePort {
  /** Columns 1..N-1. */
  private readonly threads: Thread[] = [];
  private readonly servers = new Map<string, ServerEntry>();
  /** Worker 0: the data plane in the main thread. */
  private readonly local: InProcessDataPlane;
  /** Backend connections of servers already stopped, worker 0 (connectionsPerWorker). */
  private localDone = 0;
  private readonly log: Logger;
  private readonly entry: URL;
  private readonly reportIntervalMs: number;
  private readonly restartDelayMs: number;
  private nextId = 1;
  private stopping = false;
  private readonly restartTimers = new Set<NodeJS.Timeout>();

  private constructor(private readonly opts: ThreadedOptions) {
    this.log = opts.log.child({ name: 'workers' });
    this.entry = opts.entry ?? defaultEntry();
    this.reportIntervalMs = opts.reportIntervalMs ?? 100;
    this.restartDelayMs = opts.restartDelayMs ?? 100;
    this.local = new InProcessDataPlane({
      balancers: opts.balancers,
      random: opts.random,
      log: opts.log,
      reusePort: true,
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
    for (let i = 1; i < opts.workers; i++) {
      const t: Thread = { column: i, worker: null, ready: Promise.resolve(), pending: new Map(), reported: new Map(),
        crashes: 0, lastStart: 0, connections: 0 };
      dp.threads.push(t);
      dp.spawn(t);
    }
    try {
      await Promise.all(dp.threads.map((t) => t.ready));
    } catch (err) {
      await dp.shutdown();
      throw err;
    }
    return dp;
  }

  get workerCount(): number {
    return this.opts.workers;
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
    await Promise.all(this.threads.map(async (t) => {
      const w = t.worker;
      if (w !== null) await w.terminate();
    }));
  }

  private thread(column: number): Thread {
    const t = this.threads[column - 1];
    if (t === undefined) throw new Error(`no worker ${column}`);
    return t;
  }

  private async startOn(t: Thread, e: ServerEntry): Promise<StartedServer> {
    await t.ready;
    // Counted as running from the moment the start is posted: updates posted after it arrive
    // after it (one ordered channel), so the worker never misses a snapshot.
    e.on.add(t.column);
    try {
      const reply = await this.request(t, (id) => ({ type: 'start', id, plan: e.plan, snapshot: e.snapshot,
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
        await this.request(t, (id) => (how === 'drain' ? { type: 'drain', id, name, graceMs } : { type: 'close', id, name }));
      } catch {
        // the worker died meanwhile: its connections are gone and its leases were taken back
      }
    })]);
    this.localDone += e.local.connections;
    e.on.clear();
    for (const t of this.threads) t.reported.delete(name);
  }

  private broadcast(e: ServerEntry, msg: ToWorker): void {
    for (const column of e.on) this.threads[column - 1]?.worker?.postMessage(msg);
  }

  private request(t: Thread, build: (id: number) => ToWorker): Promise<FromWorker> {
    const w = t.worker;
    if (w === null) return Promise.reject(new StartError(`worker ${t.column} is not running`));
    const id = this.nextId++;
    return new Promise<FromWorker>((resolve, reject) => {
      t.pending.set(id, { resolve, reject });
      w.postMessage(build(id));
    });
  }

  private spawn(t: Thread): void {
    const init: WorkerInit = { column: t.column, columns: this.opts.workers,
      logLevel: this.opts.log.level, reportIntervalMs: this.reportIntervalMs };
    const w = new Worker(this.entry, { workerData: init, stdout: false, stderr: false });
    t.worker = w;
    t.lastStart = Date.now();
    t.ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        if (t.worker !== w) return;
        if (m.type === 'ready') resolve();
        else this.onMessage(t, m);
      };
      w.on('message', onMessage);
      w.on('error', (err) => {
        this.log.error(`worker ${t.column} failed: ${err.message}`);
        reject(err);
      });
      w.once('exit', (code) => {
        reject(new Error(`worker ${t.column} exited (code ${code}) before it was ready`));
        if (t.worker === w) this.onExit(t, code);
      });
    });
    // A rejection here is also seen by whoever awaits `ready`; never unhandled.
    t.ready.catch(() => undefined);
  }

  private onMessage(t: Thread, m: FromWorker): void {
    switch (m.type) {
      case 'counters':
        for (const d of m.deltas) this.fold(t, d);
        return;
      case 'log':
        this.relog(t, m.line);
        return;
      case 'started':
      case 'done': {
        const p = t.pending.get(m.id);
        t.pending.delete(m.id);
        p?.resolve(m);
        return;
      }
      case 'failed': {
        const p = t.pending.get(m.id);
        t.pending.delete(m.id);
        p?.reject(toError(m.error));
        return;
      }
      case 'ready':
        return;
    }
  }

  private fold(t: Thread, d: CounterDeltas): void {
    const e = this.servers.get(d.server);
    if (e === undefined) return;
    e.sink.apply(d);
    let r = t.reported.get(d.server);
    if (r === undefined) {
      r = { active: 0, slots: new Map() };
      t.reported.set(d.server, r);
    }
    r.active += d.active;
    for (let i = 0; i < d.slots.length; i++) {
      t.connections += d.total[i] as number;
      const a = d.backendActive[i] as number;
      if (a === 0) continue;
      const s = d.slots[i] as number;
      const n = (r.slots.get(s) ?? 0) + a;
      if (n === 0) r.slots.delete(s);
      else r.slots.set(s, n);
    }
  }

  /** A worker thread is gone: release what it held, fail its requests, start a new one. */
  private onExit(t: Thread, code: number): void {
    t.worker = null;
    const err = new StartError(`worker ${t.column} exited (code ${code})`);
    for (const p of t.pending.values()) p.reject(err);
    t.pending.clear();
    for (const [name, e] of this.servers) {
      e.on.delete(t.column);
      clearColumn(e.shared, this.opts.workers, t.column);
      const r = t.reported.get(name);
      if (r !== undefined && (r.active !== 0 || r.slots.size > 0)) {
        const slots = [...r.slots.keys()];
        e.sink.apply({ server: name, active: -r.active, rx: 0, tx: 0, slots,
          backendActive: slots.map((s) => -(r.slots.get(s) ?? 0)), total: slots.map(() => 0),
          refused: slots.map(() => 0), backendRx: slots.map(() => 0), backendTx: slots.map(() => 0) });
      }
    }
    t.reported.clear();
    if (this.stopping) return;
    // Quick repeated crashes back off; a worker that ran a while restarts at once (after the first delay).
    t.crashes = Date.now() - t.lastStart < 10_000 ? t.crashes + 1 : 0;
    const delay = Math.min(this.restartDelayMs * 2 ** t.crashes, MAX_RESTART_DELAY_MS);
    this.log.error(`worker ${t.column} exited (code ${code}); its connections were dropped; restarting in ${delay} ms`);
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      if (this.stopping) return;
      this.spawn(t);
      void this.resume(t);
    }, delay);
    timer.unref();
    this.restartTimers.add(timer);
  }

  /** Gives a restarted worker every running server again. */
  private async resume(t: Thread): Promise<void> {
    try {
      await t.ready;
    } catch {
      return; // its exit handler restarts it again
    }
    for (const e of this.servers.values()) {
      try {
        await this.startOn(t, e);
      } catch (err) {
        this.log.error(`worker ${t.column}: server ${e.plan.name} did not restart: ${(err as Error).message}`);
      }
    }
    this.log.info(`worker ${t.column} restarted`);
  }

  private relog(t: Thread, line: string): void {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const { level, msg, time: _time, ...rest } = rec;
    const text = typeof msg === 'string' ? msg : '';
    const fields = { ...rest, worker: t.column };
    if (typeof level !== 'number') return;
    if (level >= 50) this.opts.log.error(fields, text);
    else if (level >= 40) this.opts.log.warn(fields, text);
    else if (level >= 30) this.opts.log.info(fields, text);
    else if (level >= 20) this.opts.log.debug(fields, text);
    else this.opts.log.trace(fields, text);
  }
}

function maxSlot(s: BackendSnapshot): number {
  let m = -1;
  for (const b of s.backends) if (b.slot > m) m = b.slot;
  return m;
}
