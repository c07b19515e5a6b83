/**
 * The health-check scheduler of one server (data-plane §12.1, with the D25 fixes).
 *
 * - One worker per backend in the pool's table (lingering backends included). The worker set
 *   follows `pool.onChange`: new backends get a worker, removed ones have theirs stopped. A
 *   backend removed and re-added (a new `Backend` object under the same key) gets a fresh worker
 *   with a fresh state.
 * - At most one check in flight per worker. Checks start on a fixed grid of `interval` from the
 *   worker's first check; a grid slot that passes while a check is still running is skipped (like
 *   a Go ticker dropping ticks), so checks never overlap or pile up.
 * - Each check is aborted at `timeout` and then counts as a failure, whatever the kind does with
 *   the signal; the next check still waits until the previous one has really settled.
 * - Results that arrive after the worker was stopped (backend removed, server deleted) are
 *   dropped: a stopped worker's flag is checked before the result is applied.
 * - The first check of each worker is delayed by a random fraction of min(interval, 1 s), so that
 *   N backends discovered together are not all checked in the same millisecond.
 * - Timers are unref'd: health checks never keep the process alive.
 * - A confirmed change calls `pool.setLive`; a change of `live` is logged once at info, e.g.
 *   `backend 127.0.0.1:8000 of server web: live -> dead (3 consecutive failures: connect ECONNREFUSED)`.
 */
import type { Backend } from '../core/backend.js';
import { mathRandom, systemClock, type Clock, type Random } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { logText } from '../core/text.js';
import { INITIAL_STATE, nextState, type HysteresisState } from './hysteresis.js';
import type { ActiveHealthcheck, CheckResult, CheckTarget, CompiledHealthcheck, HealthTargetPool } from './types.js';

/** Upper bound of the random delay of a worker's first check. */
export const MAX_FIRST_CHECK_SPREAD_MS = 1000;

/** Timer functions, injectable for tests (a fake clock); handles must support unref(). */
export interface SchedulerTimers {
  setTimeout(fn: () => void, ms: number): { unref(): unknown };
  clearTimeout(handle: { unref(): unknown }): void;
}

const realTimers: SchedulerTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface SchedulerOptions {
  readonly serverName: string;
  readonly pool: HealthTargetPool;
  readonly log: Logger;
  readonly clock?: Clock;
  readonly random?: Random;
  /** Timers (tests pass a fake clock's, together with a matching `clock`). */
  readonly timers?: SchedulerTimers;
}

export interface HealthcheckHandle {
  stop(): void;
}

/** How early a timer may fire compared with `clock.now()` (libuv rounds to whole milliseconds). */
const EARLY_TIMER_MS = 2;

/** Largest delay Node's timers accept (longer ones fire after 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

class Worker {
  private state: HysteresisState = INITIAL_STATE;
  private stopped = false;
  private timer: { unref(): unknown } | undefined;
  private deadline: { unref(): unknown } | undefined;
  private abort: AbortController | undefined;
  /** Start time of the first check: checks run on the grid firstStart + k * interval. */
  private firstStart = -1;
  private readonly target: CheckTarget;

  constructor(
    readonly backend: Backend,
    private readonly cfg: ActiveHealthcheck,
    private readonly scheduler: Scheduler,
    firstDelayMs: number,
  ) {
    this.target = {
      host: backend.dialHost,
      port: backend.dialPort,
      hostLabel: backend.host,
      portLabel: backend.port,
    };
    this.schedule(firstDelayMs);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    const { timers } = this.scheduler;
    if (this.timer !== undefined) timers.clearTimeout(this.timer);
    if (this.deadline !== undefined) timers.clearTimeout(this.deadline);
    this.timer = undefined;
    this.deadline = undefined;
    this.abort?.abort(new Error('health check stopped'));
    this.abort = undefined;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.scheduler.timers.setTimeout(() => this.runCheck(), Math.min(MAX_TIMER_MS, Math.max(0, delayMs)));
    this.timer.unref();
  }

  private runCheck(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const { clock } = this.scheduler;
    const startedAt = clock.now();
    if (this.firstStart < 0) this.firstStart = startedAt;

    const ac = new AbortController();
    this.abort = ac;
    let settled = false; // the result (real or timeout) has been applied
    const finish = (result: CheckResult): void => {
      if (settled) return;
      settled = true;
      if (this.deadline !== undefined) this.scheduler.timers.clearTimeout(this.deadline);
      this.deadline = undefined;
      if (!this.stopped) this.apply(result);
    };

    const timeoutMs = this.cfg.timeoutMs;
    this.deadline = this.scheduler.timers.setTimeout(() => {
      this.deadline = undefined;
      finish({ status: 'unhealthy', reason: `timeout after ${timeoutMs}ms` });
      ac.abort(new Error('health check timeout'));
    }, Math.min(MAX_TIMER_MS, timeoutMs));
    this.deadline.unref();

    let pending: Promise<CheckResult>;
    try {
      pending = this.cfg.run(this.target, ac.signal, timeoutMs);
    } catch (err) {
      pending = Promise.reject(err instanceof Error ? err : new Error(errorMessage(err)));
    }
    pending.then(
      (result) => finish(result),
      (err: unknown) => finish({ status: 'unhealthy', reason: errorMessage(err) }),
    ).finally(() => {
      // The check has really settled: only now may the next one start (no overlap).
      if (this.abort === ac) this.abort = undefined;
      if (this.stopped) return;
      // Next slot of the grid after the one this check started in (a timer may fire up to a
      // millisecond or two early, hence the tolerance); slots that passed while it ran are skipped.
      const now = clock.now();
      const interval = this.cfg.intervalMs;
      const slot = Math.floor((startedAt - this.firstStart) / interval + Math.min(0.5, EARLY_TIMER_MS / interval));
      let next = this.firstStart + (slot + 1) * interval;
      if (next < now) next += Math.ceil((now - next) / interval) * interval;
      this.schedule(next - now);
    }).catch(() => undefined);
  }

  private apply(result: CheckResult): void {
    const before = this.state;
    const after = nextState(before, result.status, this.cfg);
    this.state = after;
    const { log, serverName, pool } = this.scheduler;
    if (result.status === 'healthy') pool.checkPassed?.(this.backend.key);
    if (result.status === 'unchanged') {
      log.warn(`backend ${this.backend.key} of server ${serverName}: ${logText(result.reason)}; live state unchanged`);
      return;
    }
    if (after.confirmed === before.confirmed || after.confirmed === 'initial') {
      if (log.isLevelEnabled('debug')) {
        log.debug(`backend ${this.backend.key} of server ${serverName}: ${result.status} (${result.reason})`);
      }
      return;
    }
    const live = after.confirmed === 'healthy';
    const wasLive = this.backend.live;
    const n = live ? this.cfg.passes : this.cfg.fails;
    const what = live ? (n === 1 ? 'success' : 'successes') : n === 1 ? 'failure' : 'failures';
    const why = `${n} consecutive ${what}: ${logText(result.reason)}`;
    if (pool.setLive(this.backend.key, live, why)) {
      log.info(`backend ${this.backend.key} of server ${serverName}: ${wasLive ? 'live' : 'dead'} -> ${live ? 'live' : 'dead'} (${why})`);
    }
  }
}

class Scheduler {
  readonly clock: Clock;
  readonly timers: SchedulerTimers;
  readonly random: Random;
  readonly log: Logger;
  readonly serverName: string;
  readonly pool: HealthTargetPool;
  private readonly workers = new Map<string, Worker>();
  private readonly unsubscribe: () => void;
  private stopped = false;

  constructor(private readonly cfg: ActiveHealthcheck, opts: SchedulerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.timers = opts.timers ?? realTimers;
    this.random = opts.random ?? mathRandom;
    this.serverName = opts.serverName;
    this.pool = opts.pool;
    this.log = opts.log.child({ name: 'healthcheck', server: opts.serverName });
    this.unsubscribe = opts.pool.onChange(() => this.sync());
    this.sync();
  }

  /** Starts workers for new targets and stops those of removed (or replaced) ones. */
  private sync(): void {
    if (this.stopped) return;
    const seen = new Set<string>();
    for (const b of this.pool.all()) {
      seen.add(b.key);
      const w = this.workers.get(b.key);
      if (w !== undefined && w.backend === b) continue;
      w?.stop();
      const spread = Math.min(this.cfg.intervalMs, MAX_FIRST_CHECK_SPREAD_MS);
      this.workers.set(b.key, new Worker(b, this.cfg, this, this.random() * spread));
    }
    for (const [key, w] of this.workers) {
      if (!seen.has(key)) {
        w.stop();
        this.workers.delete(key);
      }
    }
  }

  /** Number of running workers (tests). */
  get size(): number {
    return this.workers.size;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe();
    for (const w of this.workers.values()) w.stop();
    this.workers.clear();
  }
}

/**
 * Starts the health checks of one server. Kind `none`: nothing runs (backends keep their initial
 * live state, which is `true`). Returns the handle that stops every worker and drops late results.
 */
export function startHealthchecks(compiled: CompiledHealthcheck, opts: SchedulerOptions): HealthcheckHandle & { readonly size: number } {
  if (!compiled.enabled) return { stop: () => undefined, size: 0 };
  const s = new Scheduler(compiled, opts);
  return {
    stop: () => s.stop(),
    get size() {
      return s.size;
    },
  };
}
