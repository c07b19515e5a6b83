/**
 * One running server inside the data plane: its plan, election (over the latest snapshot), active
 * table, counter sink, open connections and the stop/drain/close logic. Listeners (./listeners/)
 * and stream stages (./stream/) get everything per server from here; nothing per connection is
 * configured anywhere else.
 */
import type { Elector } from '../balance/elector.js';
import type { CertificateSource } from '../core/cert-source.js';
import type { Logger } from '../core/log.js';
import type { ServerPlan } from '../core/plan.js';
import type { ActiveTable, CounterSink, LoadView } from '../core/snapshot.js';
import type { AccessLog } from './access-log.js';
import { LogLimiter } from './rate-limit.js';

/** Something the server must destroy on close (a stream pair, a UDP session). */
export interface Closable {
  destroy(): void;
}

/** The load figures the balancers read: active counts from the table, bandwidth from the control plane. */
export class ServerLoad implements LoadView {
  private bw = new Float64Array(16);

  constructor(private readonly table: ActiveTable) {}

  active(slot: number): number {
    return this.table.active(slot);
  }

  bandwidth(slot: number): number {
    const bw = this.bw;
    return slot < bw.length ? (bw[slot] as number) : 0;
  }

  setBandwidth(slots: readonly number[], values: readonly number[]): void {
    let max = -1;
    for (const s of slots) if (s > max) max = s;
    let bw = this.bw;
    if (max >= bw.length) {
      let n = bw.length;
      while (n <= max) n *= 2;
      bw = new Float64Array(n);
      this.bw = bw;
    } else {
      bw.fill(0);
    }
    for (let i = 0; i < slots.length; i++) bw[slots[i] as number] = values[i] as number;
  }
}

export class ServerRuntime {
  readonly name: string;
  /** Limits and timeouts, clamped (negative timeouts = none). */
  readonly maxConnections: number;
  readonly clientIdle: number;
  readonly backendIdle: number;
  readonly connectTimeout: number;
  /** After both FINs, how long a pair may make no flush progress before it is destroyed. */
  readonly flushLinger: number;
  /** Whether reads must be time-stamped (only for idle timeouts). */
  readonly stampReads: boolean;
  readonly conns = new Set<Closable>();
  readonly maxLimiter = new LogLimiter();
  readonly electLimiter = new LogLimiter();
  readonly dialLimiter = new LogLimiter();
  readonly acceptLimiter = new LogLimiter();
  /** True once the server stopped accepting (drain/close). */
  closing = false;
  /** The access log when `[access_log]` is enabled (tsbetween-only); null costs one branch per connection. */
  readonly accessLog: AccessLog | null;
  /** Listen with SO_REUSEPORT (set by the data plane of a worker thread). */
  reusePort = false;
  private emptyWaiters: (() => void)[] = [];

  constructor(
    readonly plan: ServerPlan,
    readonly elector: Elector,
    readonly active: ActiveTable,
    readonly load: ServerLoad,
    readonly sink: CounterSink,
    readonly log: Logger,
    accessLog: AccessLog | null = null,
    /** Certificates issued on demand (ACME), for a plan whose `tls.acme` is set. */
    readonly certificates?: CertificateSource,
  ) {
    this.accessLog = accessLog;
    this.name = plan.name;
    this.maxConnections = plan.maxConnections;
    this.clientIdle = Math.max(0, plan.clientIdleTimeoutMs);
    this.backendIdle = Math.max(0, plan.backendIdleTimeoutMs);
    this.connectTimeout = Math.max(0, plan.backendConnectionTimeoutMs);
    const longest = Math.max(this.clientIdle, this.backendIdle);
    this.flushLinger = longest > 0 ? longest : FLUSH_LINGER_MS;
    this.stampReads = longest > 0;
  }

  /** A tracked connection ended (after its lease was released). */
  untrack(c: Closable): void {
    const conns = this.conns;
    conns.delete(c);
    if (conns.size === 0 && this.emptyWaiters.length > 0) {
      const waiters = this.emptyWaiters;
      this.emptyWaiters = [];
      for (const w of waiters) w();
    }
  }

  destroyAll(): void {
    for (const c of this.conns) c.destroy();
  }

  /** Resolves when no connection is left, or after `ms`. */
  whenEmpty(ms: number): Promise<void> {
    if (this.conns.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      };
      if (ms !== Infinity) {
        timer = setTimeout(() => {
          const i = this.emptyWaiters.indexOf(done);
          if (i >= 0) this.emptyWaiters.splice(i, 1);
          resolve();
        }, ms);
      }
      this.emptyWaiters.push(done);
    });
  }

  /** Logs a hot-path failure through a rate limiter. */
  limitedLog(limiter: LogLimiter, level: 'warn' | 'error', msg: string): void {
    const dropped = limiter.take();
    if (dropped < 0) return;
    if (dropped > 0) this.log[level]({ suppressed: dropped }, msg);
    else this.log[level](msg);
  }
}

/**
 * Once both sides have sent FIN only flushing is left. A peer that never reads would hold the
 * pair forever, so a pair that makes no flush progress for this long (or for the longer idle
 * timeout, when one is configured) is destroyed.
 */
const FLUSH_LINGER_MS = 60_000;
