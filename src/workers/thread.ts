/**
 * One data-plane worker thread as the primary sees it: the `Worker`, its start-up, request/reply
 * over the message channel (messages.ts), its logs re-logged through the primary's logger, and
 * what it has reported as active per server version (so that its leases can be taken back out of
 * that version's stats when the thread dies). The multi-core port (primary.ts) decides what to start and when to restart.
 */
import type { Worker } from 'node:worker_threads';
import { nodeWorkerThreads } from '../core/builtin.js';
import { StartError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { CounterDeltas } from '../core/snapshot.js';
import type { ErrorData, FromWorker, ToWorker, WorkerInit } from './messages.js';

export interface ThreadHooks {
  /** Counter deltas this thread posted for version `gen`; false when it is gone (then ignored). */
  counters(t: WorkerThread, gen: number, d: CounterDeltas): boolean;
  /** Version `gen` has nothing left in this thread (its last counters arrived before). */
  ended(t: WorkerThread, gen: number): void;
  /** The thread exited; its pending requests have failed. */
  exited(t: WorkerThread, code: number): void;
}

export interface ThreadOptions {
  readonly init: WorkerInit;
  readonly entry: URL;
  /** The primary's logger: worker log lines are logged through it, with `worker: column`. */
  readonly log: Logger;
  readonly hooks: ThreadHooks;
}

interface Pending {
  resolve(value: FromWorker): void;
  reject(err: Error): void;
}

/** What a thread has reported as held for one server version (folded into the stats). */
interface Reported {
  active: number;
  readonly slots: Map<number, number>;
}

/** Quick repeated crashes back off up to this delay. */
const MAX_RESTART_DELAY_MS = 5000;
/** A thread that ran at least this long before it died restarts after the first delay again. */
const STABLE_MS = 10_000;

function toError(e: ErrorData): Error {
  if (e.kind === 'StartError') return new StartError(e.message);
  const err = new Error(e.message);
  err.name = e.kind;
  return err;
}

let nextId = 1;

export class WorkerThread {
  readonly column: number;
  worker: Worker | null = null;
  ready: Promise<void> = Promise.resolve();
  /** Backend connections this column's threads have made (diagnostics, tests). */
  connections = 0;
  private readonly pending = new Map<number, Pending>();
  /** By server version (gen). */
  private readonly reported = new Map<number, Reported>();
  private crashes = 0;
  private lastStart = 0;

  constructor(private readonly opts: ThreadOptions) {
    this.column = opts.init.column;
  }

  /** Starts a new thread for this column; `ready` resolves once it answered. */
  spawn(): void {
    const w = new (nodeWorkerThreads().Worker)(this.opts.entry, { workerData: this.opts.init, stdout: false, stderr: false });
    this.worker = w;
    this.lastStart = Date.now();
    this.ready = new Promise<void>((resolve, reject) => {
      w.on('message', (m: FromWorker) => {
        if (this.worker !== w) return;
        if (m.type === 'ready') resolve();
        else this.onMessage(m);
      });
      w.on('error', (err) => {
        this.opts.log.error({ name: 'workers' }, `worker ${this.column} failed: ${err.message}`);
        reject(err);
      });
      w.once('exit', (code) => {
        reject(new Error(`worker ${this.column} exited (code ${code}) before it was ready`));
        if (this.worker !== w) return;
        this.worker = null;
        const err = new StartError(`worker ${this.column} exited (code ${code})`);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        this.opts.hooks.exited(this, code);
      });
    });
    // Whoever awaits `ready` sees a rejection too; it is never unhandled.
    this.ready.catch(() => undefined);
  }

  /** The delay before the next restart: grows while the thread keeps dying young. */
  restartDelay(baseMs: number): number {
    this.crashes = Date.now() - this.lastStart < STABLE_MS ? this.crashes + 1 : 0;
    return Math.min(baseMs * 2 ** this.crashes, MAX_RESTART_DELAY_MS);
  }

  post(msg: ToWorker): void {
    this.worker?.postMessage(msg);
  }

  /** Posts a request and resolves with its reply ('started' / 'done'); rejects on 'failed' or exit. */
  request(build: (id: number) => ToWorker): Promise<FromWorker> {
    const w = this.worker;
    if (w === null) return Promise.reject(new StartError(`worker ${this.column} is not running`));
    const id = nextId++;
    return new Promise<FromWorker>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage(build(id));
    });
  }

  async terminate(): Promise<void> {
    const w = this.worker;
    if (w !== null) await w.terminate();
  }

  /**
   * After the thread died: what it had reported as held for version `gen` of `server`, negated (to
   * fold into that version's stats), or null when nothing. Forgets it.
   */
  takeBack(gen: number, server: string): CounterDeltas | null {
    const r = this.reported.get(gen);
    this.reported.delete(gen);
    if (r === undefined || (r.active === 0 && r.slots.size === 0)) return null;
    const slots = [...r.slots.keys()];
    const zeros = slots.map(() => 0);
    return { server, active: -r.active, rx: 0, tx: 0, slots, backendActive: slots.map((s) => -(r.slots.get(s) ?? 0)),
      total: zeros, refused: zeros, backendRx: zeros, backendTx: zeros };
  }

  /** Forgets what a version that ended here had reported. */
  forget(gen: number): void {
    this.reported.delete(gen);
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'counters':
        for (let i = 0; i < m.deltas.length; i++) {
          const gen = m.gens[i] as number;
          const d = m.deltas[i] as CounterDeltas;
          if (this.opts.hooks.counters(this, gen, d)) this.note(gen, d);
        }
        return;
      case 'ended':
        this.opts.hooks.ended(this, m.gen);
        return;
      case 'log':
        this.relog(m.line);
        return;
      case 'started':
      case 'done':
      case 'failed': {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.type === 'failed') p?.reject(toError(m.error));
        else p?.resolve(m);
        return;
      }
      case 'ready':
        return;
    }
  }

  private note(gen: number, d: CounterDeltas): void {
    let r = this.reported.get(gen);
    if (r === undefined) {
      r = { active: 0, slots: new Map() };
      this.reported.set(gen, r);
    }
    r.active += d.active;
    for (let i = 0; i < d.slots.length; i++) {
      this.connections += d.total[i] as number;
      const a = d.backendActive[i] as number;
      if (a === 0) continue;
      const s = d.slots[i] as number;
      const n = (r.slots.get(s) ?? 0) + a;
      if (n === 0) r.slots.delete(s);
      else r.slots.set(s, n);
    }
  }

  private relog(line: string): void {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const { level, msg, time: _time, ...rest } = rec;
    if (typeof level !== 'number') return;
    const text = typeof msg === 'string' ? msg : '';
    const fields = { ...rest, worker: this.column };
    const log = this.opts.log;
    if (level >= 50) log.error(fields, text);
    else if (level >= 40) log.warn(fields, text);
    else if (level >= 30) log.info(fields, text);
    else if (level >= 20) log.debug(fields, text);
    else log.trace(fields, text);
  }
}
