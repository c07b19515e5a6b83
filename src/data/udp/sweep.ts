/**
 * The idle sweep and drop report of one UDP server (data-plane §7.3): one timer per server, no
 * timer per session or per datagram. Every tick ends the sessions whose client
 * (client_idle_timeout: no datagram from the client for that long) or backend
 * (backend_idle_timeout: no datagram from the backend since creation or the last response) has
 * been idle too long, and at most every DROP_REPORT_MS sums the evictions and drops since the
 * last report into one warning. The tick is a quarter of the shorter timeout, between 50 ms and 1 s.
 */
import type { ServerRuntime } from '../runtime.js';
import type { Session } from './session.js';
import type { SessionTable } from './table.js';

/** Counters of what the UDP path dropped (tsbetween only; not in GoBetween's stats). */
export interface UdpDropCounters {
  /** Sessions evicted by the cap or to free a file descriptor. */
  evicted: number;
  /** Client datagrams not forwarded: queue full, no backend, dial failure, closed session. */
  dropped: number;
}

const SWEEP_MIN_MS = 50;
const SWEEP_MAX_MS = 1000;
/** Evictions and drops are summed into one warning at most this often. */
const DROP_REPORT_MS = 10_000;

/** The sweep period for these idle timeouts (0 = none), in ms. */
export function sweepEvery(clientIdle: number, backendIdle: number): number {
  const ci = clientIdle;
  const bi = backendIdle;
  const shortest = ci > 0 && bi > 0 ? Math.min(ci, bi) : ci > 0 ? ci : bi > 0 ? bi : SWEEP_MAX_MS * 4;
  return Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(shortest / 4)));
}

export class UdpSweeper {
  private timer: NodeJS.Timeout | null = null;
  private reported: UdpDropCounters = { evicted: 0, dropped: 0 };
  private reportedAt = Date.now();

  constructor(
    private readonly rt: ServerRuntime,
    private readonly table: SessionTable,
    private readonly drops: UdpDropCounters,
    private readonly maxSessions: number,
    /** Also swept every tick (the fire-and-forget pool's idle sockets). */
    private readonly also: ((now: number) => void) | null,
    /** Ends one expired session. */
    private readonly end: (s: Session) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.sweep(Date.now()), sweepEvery(this.rt.clientIdle, this.rt.backendIdle));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Ends the sessions whose client or backend has been idle too long; reports drops. */
  sweep(now: number): void {
    this.also?.(now);
    if (now - this.reportedAt >= DROP_REPORT_MS) this.reportDrops(now);
    const ci = this.rt.clientIdle;
    const bi = this.rt.backendIdle;
    if (ci === 0 && bi === 0) return;
    const expired = this.table.collect((s) => (ci > 0 && now - s.lastClient >= ci) || (bi > 0 && now - s.lastBackend >= bi));
    for (const s of expired) this.end(s);
  }

  /** At most every DROP_REPORT_MS: one warning with the evictions and drops since the last one. */
  private reportDrops(now: number): void {
    const d = this.drops;
    const evicted = d.evicted - this.reported.evicted;
    const dropped = d.dropped - this.reported.dropped;
    this.reportedAt = now;
    if (evicted === 0 && dropped === 0) return;
    this.reported = { evicted: d.evicted, dropped: d.dropped };
    this.rt.log.warn(
      { evicted, dropped, sessions: this.table.size, max_sessions: this.maxSessions },
      `udp ${this.rt.plan.bind}: ${evicted} session(s) evicted, ${dropped} datagram(s) dropped`,
    );
  }
}
