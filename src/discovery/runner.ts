/**
 * The one discovery loop shared by every kind (data-plane §11.1, with its fixes):
 *
 *   fetch -> success: publish, wait `interval` (0 = stop: fetched once, GoBetween's meaning)
 *         -> failure: failpolicy (keeplast: publish nothing; setempty: publish []),
 *                     wait the retry delay, fetch again
 *
 * Fixes over GoBetween: every fetch has a real timeout (an AbortSignal; a source that ignores it
 * is still abandoned and counted as failed), stop() cancels the fetch in flight and drops its late
 * result, timers are unref'd, and nothing a source does (throw, reject, hang) escapes the runner.
 * Single-flight: the next fetch is only scheduled once the previous one has settled.
 */
import type { BackendSpec } from '../core/backend.js';
import { formatDuration } from '../core/duration.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { DEFAULT_RETRY_WAIT_MS, type DiscoveryKind, type FailPolicy, type FetchContext } from './types.js';

/** Timer functions, injectable for tests. Handles must support unref(). */
export interface RunnerTimers {
  setTimeout(fn: () => void, ms: number): { unref(): unknown };
  clearTimeout(handle: { unref(): unknown }): void;
}

const realTimers: RunnerTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface DiscoveryRunnerOptions<S> {
  readonly serverName: string;
  readonly kind: DiscoveryKind<S>;
  readonly settings: S;
  /** 0 = fetch until the first success, then never again. */
  readonly intervalMs: number;
  /** Per-fetch limit; 0 = none. */
  readonly timeoutMs: number;
  readonly failpolicy: FailPolicy;
  /** Receives every successful result, and [] on failure with `setempty`. */
  readonly onResult: (specs: BackendSpec[]) => void;
  /** Parent logger; the runner logs under `discovery/<kind>` with the server name. */
  readonly log: Logger;
  /** Wait after a failure; default: the kind's, else 2 s. */
  readonly retryWaitMs?: number;
  readonly timers?: RunnerTimers;
  /** Called once, after the first fetch attempt was applied (success, or failure + failpolicy). */
  readonly onFirstAttempt?: () => void;
}

export type RunnerState = 'new' | 'fetching' | 'waiting' | 'done' | 'stopped';

export class DiscoveryRunner<S = unknown> {
  private readonly opts: DiscoveryRunnerOptions<S>;
  private readonly log: Logger;
  private readonly timers: RunnerTimers;
  private readonly retryWaitMs: number;
  private timer: { unref(): unknown } | undefined;
  private inflight: AbortController | undefined;
  private _state: RunnerState = 'new';
  /** Number of fetches started (tests and debugging). */
  fetches = 0;
  private attempted = false;
  /** The last published backend set (see {@link backendSetKey}); undefined before the first. */
  private lastSetKey: string | undefined;

  constructor(opts: DiscoveryRunnerOptions<S>) {
    this.opts = opts;
    this.log = opts.log.child({ name: `discovery/${opts.kind.kind}`, server: opts.serverName });
    this.timers = opts.timers ?? realTimers;
    // A kind without a retry delay (static never fails) still never spins: 2 s then.
    this.retryWaitMs = opts.retryWaitMs ?? (opts.kind.retryWaitMs > 0 ? opts.kind.retryWaitMs : DEFAULT_RETRY_WAIT_MS);
  }

  get state(): RunnerState {
    return this._state;
  }

  /** Schedules the first fetch right away (deferred: never runs inside start()). */
  start(): void {
    if (this._state !== 'new') return;
    if (this.opts.intervalMs <= 0 && this.opts.kind.oneShot !== true) {
      this.log.warn(`${this.opts.kind.kind} discovery interval is 0: backends are fetched once and never refreshed`);
    }
    this.schedule(0);
  }

  /** Cancels the pending wait and the fetch in flight; a late result is dropped. Idempotent. */
  stop(): void {
    if (this._state === 'stopped') return;
    this._state = 'stopped';
    if (this.timer !== undefined) {
      this.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
    const ac = this.inflight;
    this.inflight = undefined;
    ac?.abort(new Error('discovery stopped'));
  }

  /** A method, not a narrowed field read: stop() may run while a fetch is awaited. */
  private isStopped(): boolean {
    return this._state === 'stopped';
  }

  private schedule(ms: number): void {
    this._state = 'waiting';
    const t = this.timers.setTimeout(() => {
      this.timer = undefined;
      void this.runOnce();
    }, ms);
    t.unref();
    this.timer = t;
  }

  private async runOnce(): Promise<void> {
    if (this.isStopped()) return;
    this._state = 'fetching';
    this.fetches++;
    const { kind, settings, timeoutMs } = this.opts;
    const ac = new AbortController();
    this.inflight = ac;
    let timeout: { unref(): unknown } | undefined;
    if (timeoutMs > 0) {
      timeout = this.timers.setTimeout(() => {
        ac.abort(new Error(`timeout after ${formatDuration(timeoutMs)}`));
      }, timeoutMs);
      timeout.unref();
    }
    const ctx: FetchContext = { signal: ac.signal, log: this.log, serverName: this.opts.serverName };
    let specs: BackendSpec[] | undefined;
    let failure: unknown;
    try {
      // Promise.resolve().then: a kind that throws synchronously becomes a rejection.
      const work = Promise.resolve().then(() => kind.fetch(settings, ctx));
      specs = await Promise.race([work, aborted(ac.signal)]);
      // A source that ignored the signal may still settle later: keep its rejection handled.
      work.catch(() => undefined);
    } catch (err) {
      failure = err;
    } finally {
      if (timeout !== undefined) this.timers.clearTimeout(timeout);
    }
    if (this.inflight !== ac || this.isStopped()) return; // stopped meanwhile: drop it
    this.inflight = undefined;

    if (specs !== undefined && failure === undefined) {
      // Info only when the backend set changes (a steady source logs nothing at info per interval).
      const key = backendSetKey(specs);
      const text = `${kind.kind} fetched ${specs.length} backend(s)`;
      if (key !== this.lastSetKey) this.log.info(text);
      else this.log.debug(text);
      this.lastSetKey = key;
      this.publish(specs);
      this.firstAttemptDone();
      if (this.isStopped()) return; // onResult may have stopped us
      if (this.opts.intervalMs <= 0 || kind.oneShot === true) {
        this._state = 'done';
        return;
      }
      this.schedule(this.opts.intervalMs);
      return;
    }
    this.log.error(`${kind.kind} error ${errorMessage(failure)} retrying in ${formatDuration(this.retryWaitMs)}`);
    if (this.opts.failpolicy === 'setempty') this.publish([]);
    this.firstAttemptDone();
    if (this.isStopped()) return; // onResult may have stopped us
    this.schedule(this.retryWaitMs);
  }

  private firstAttemptDone(): void {
    if (this.attempted) return;
    this.attempted = true;
    try {
      this.opts.onFirstAttempt?.();
    } catch (err) {
      this.log.error(`first-attempt callback failed: ${errorMessage(err)}`);
    }
  }

  private publish(specs: BackendSpec[]): void {
    try {
      this.opts.onResult(specs);
    } catch (err) {
      this.log.error(`applying discovered backends failed: ${errorMessage(err)}`);
    }
  }
}

/** A promise that rejects when the signal aborts (never resolves). */
function aborted(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_resolve, reject) => {
    const fail = (): void => {
      const r: unknown = signal.reason;
      reject(r instanceof Error ? r : new Error('aborted'));
    };
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

/** An order-independent key of a backend set (every field of every spec). */
function backendSetKey(specs: readonly BackendSpec[]): string {
  return specs
    .map((s) => JSON.stringify([s.host, s.port, s.weight, s.priority, s.maxConnections, s.sni]))
    .sort()
    .join('\n');
}
