/**
 * The life of the worker threads 1..N-1 of the multi-core port: started together, and a thread
 * that exits unexpectedly is restarted on the same column after a short delay that grows while
 * it keeps dying young (thread.ts). What a dead thread held is released by the `gone` hook
 * before anything else; the `resume` hook gives a restarted thread its servers again.
 */
import type { Logger } from '../core/log.js';
import type { CounterDeltas } from '../core/snapshot.js';
import { WorkerThread } from './thread.js';

export interface SupervisorHooks {
  /** Counter deltas a thread posted for server version `gen`; false when that version is gone. */
  counters(t: WorkerThread, gen: number, d: CounterDeltas): boolean;
  /** A thread has nothing left of server version `gen`. */
  ended(t: WorkerThread, gen: number): void;
  /** A thread died (its pending requests have failed): release what it held. */
  gone(t: WorkerThread): void;
  /** A restarted thread is ready: give it its servers again. */
  resume(t: WorkerThread): Promise<void>;
}

export interface SupervisorOptions {
  /** Workers in all (the main thread is worker 0): threads 1..workers-1 run here. */
  readonly workers: number;
  readonly log: Logger;
  readonly reportIntervalMs: number;
  /** First restart delay after a crash (doubles up to 5 s while crashes repeat). */
  readonly restartDelayMs: number;
  readonly entry: URL;
  readonly hooks: SupervisorHooks;
}

export class Supervisor {
  /** Columns 1..N-1. */
  readonly threads: WorkerThread[] = [];
  private stopping = false;
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private readonly log: Logger;

  constructor(private readonly opts: SupervisorOptions) {
    this.log = opts.log.child({ name: 'workers' });
    const { hooks } = opts;
    for (let i = 1; i < opts.workers; i++) {
      this.threads.push(new WorkerThread({
        init: { column: i, columns: opts.workers, logLevel: opts.log.level, reportIntervalMs: opts.reportIntervalMs },
        entry: opts.entry,
        log: opts.log,
        hooks: {
          counters: (t, gen, d) => hooks.counters(t, gen, d),
          ended: (t, gen) => hooks.ended(t, gen),
          exited: (t, code) => this.onExit(t, code),
        },
      }));
    }
  }

  /** Spawns every thread; resolves when each one is ready. */
  async start(): Promise<void> {
    for (const t of this.threads) t.spawn();
    await Promise.all(this.threads.map((t) => t.ready));
  }

  get stopped(): boolean {
    return this.stopping;
  }

  thread(column: number): WorkerThread {
    const t = this.threads[column - 1];
    if (t === undefined) throw new Error(`no worker ${column}`);
    return t;
  }

  /** Thread ids of the running worker threads, workers 1..N-1. */
  threadIds(): number[] {
    return this.threads.flatMap((t) => (t.worker === null ? [] : [t.worker.threadId]));
  }

  /** Terminates worker thread `column` (≥ 1) as a crash would; it is restarted like a crashed one. */
  async kill(column: number): Promise<void> {
    const w = this.threads[column - 1]?.worker;
    if (w !== null && w !== undefined) await w.terminate();
  }

  /** Stops every worker thread; none is restarted any more. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    for (const t of this.restartTimers) clearTimeout(t);
    this.restartTimers.clear();
    await Promise.all(this.threads.map((t) => t.terminate()));
  }

  private onExit(t: WorkerThread, code: number): void {
    this.opts.hooks.gone(t);
    if (this.stopping) return;
    const delay = t.restartDelay(this.opts.restartDelayMs);
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

  private async resume(t: WorkerThread): Promise<void> {
    try {
      await t.ready;
    } catch {
      return; // its exit handler restarts it again
    }
    await this.opts.hooks.resume(t);
    this.log.info(`worker ${t.column} restarted`);
  }
}
