/**
 * Backend pre-warming (tsbetween-only `backend_prewarm = N`): per eligible backend of the current
 * snapshot (live and discovered) the pool keeps N connected, idle sockets, opened with the
 * server's dialer (plain TCP, or TLS to backends: the handshake is done ahead too). The dial
 * stage (./prewarm-dial.ts) takes one for the elected backend when there is one — the client
 * then skips the backend round trip(s) — and the pool dials a replacement at once.
 *
 * Rules:
 * - Counters: a pooled socket is nobody's connection. Only when a client takes it does it count
 *   (`total`, `active`, rx/tx), exactly as a fresh dial would. A failed pool dial is not a refused
 *   client connection: it is not counted in `refused` (logged at debug).
 * - Backoff: a failed dial, or an idle socket that the backend closed within MIN_HEALTHY_MS of
 *   connecting, is a failure; the backend's next dials wait 100 ms, doubling up to 5 s (one timer
 *   per backend). An idle socket that lived longer (a backend's idle timeout) or a socket handed
 *   to a client resets it. So a dead or connection-refusing backend costs at most N dials per
 *   backoff step, never a loop.
 * - Bytes the backend sends while the socket is idle (a server-speaks-first banner: SMTP, MySQL)
 *   are kept (up to MAX_HELD_BYTES, else the socket is dropped as a failure) and written to the
 *   client first: the client sees what it would have seen on a fresh connection. A FIN or an
 *   error while idle drops the socket.
 * - Age: a pooled socket is idle at most `maxIdleMs` (60 s, or `backend_idle_timeout` when that is
 *   shorter): a sweep every half of that closes older ones and dials replacements, and take()
 *   never hands one out. So a connection that a NAT or firewall dropped silently, or that a
 *   backend's own idle limit is about to close, does not reach a client, and a PROXY header is
 *   never written after a long wait. One timer per pool, not per socket.
 * - A backend that leaves the snapshot or stops being eligible has its sockets closed; close()
 *   (server drain/close/reload) closes them all. Each worker thread keeps its own pool of N.
 * The OFF case has no pool at all (no `prewarmOf(rt)`, the plain dial stage).
 */
import type { OnReadOpts } from 'node:net';
import type { Logger } from '../../core/log.js';
import type { BackendSnapshot } from '../../core/snapshot.js';
import { errorMessage } from '../../core/errors.js';
import type { Dialer } from './dialer.js';
import {
  Entry, Warm, ignore, kWarm, onWarmClose, onWarmEnd, onWarmError, onWarmReady, onWarmTimeout, warmRead, type WarmOwner, type WarmSocket,
} from './prewarm-socket.js';

export { MAX_HELD_BYTES, Warm } from './prewarm-socket.js';

export const BACKOFF_BASE_MS = 100;
export const BACKOFF_MAX_MS = 5_000;
/** An idle socket closed by the backend sooner than this after connecting counts as a failure. */
export const MIN_HEALTHY_MS = 1_000;
/** The longest a pooled socket stays idle (unless `backend_idle_timeout` is shorter). */
export const MAX_IDLE_MS = 60_000;
/** The age sweep never runs more often than this. */
const MIN_SWEEP_MS = 250;

function remove(list: Warm[], w: Warm): boolean {
  const i = list.indexOf(w);
  if (i < 0) return false;
  list.splice(i, 1);
  return true;
}

export class PrewarmPool implements WarmOwner {
  private readonly entries = new Map<number, Entry>();
  private stopped = false;
  private sweeper: NodeJS.Timeout | null = null;
  /** Pool dials started (tests, diagnostics). */
  dials = 0;
  /** Idle sockets closed for their age (tests, diagnostics). */
  expired = 0;

  constructor(
    readonly size: number,
    private readonly dialer: Dialer,
    private readonly connectTimeout: number,
    readonly log: Logger,
    readonly maxIdleMs: number = MAX_IDLE_MS,
  ) {}

  /** The snapshot changed: fill for eligible backends, close the sockets of the others. */
  update(s: BackendSnapshot): void {
    if (this.stopped) return;
    const keep = new Set<number>();
    for (const b of s.backends) {
      if (!b.eligible) continue;
      keep.add(b.slot);
      let e = this.entries.get(b.slot);
      if (e === undefined) {
        e = new Entry(b);
        this.entries.set(b.slot, e);
      }
      this.fill(e);
    }
    for (const [slot, e] of this.entries) {
      if (keep.has(slot)) continue;
      this.entries.delete(slot);
      this.drop(e);
    }
    if (this.sweeper === null && this.entries.size > 0) {
      this.sweeper = setInterval(() => this.sweep(), Math.max(MIN_SWEEP_MS, this.maxIdleMs / 2));
      this.sweeper.unref();
    }
  }

  /** An idle connected socket to the backend in `slot`, detached from the pool; null when none. */
  take(slot: number): Warm | null {
    const e = this.entries.get(slot);
    if (e === undefined) return null;
    let w: Warm | undefined;
    const oldest = Date.now() - this.maxIdleMs;
    while ((w = e.idle.pop()) !== undefined) {
      const s = w.socket;
      s.removeListener('end', onWarmEnd);
      s.removeListener('error', onWarmError);
      s.removeListener('close', onWarmClose);
      if (!s.destroyed && !s.readableEnded && w.born >= oldest) break;
      if (w.born < oldest && !s.destroyed) this.expired++;
      s.on('error', ignore);
      s.destroy();
    }
    if (w === undefined) {
      this.fill(e);
      return null;
    }
    e.failures = 0;
    this.fill(e);
    return w;
  }

  /** Idle sockets per slot (tests, diagnostics). */
  idleCount(slot: number): number {
    return this.entries.get(slot)?.idle.length ?? 0;
  }

  /** Closes the idle sockets older than `maxIdleMs` and dials their replacements. */
  private sweep(): void {
    const oldest = Date.now() - this.maxIdleMs;
    for (const e of this.entries.values()) {
      let n = 0;
      for (let i = e.idle.length - 1; i >= 0; i--) {
        const w = e.idle[i];
        if (w === undefined || w.born >= oldest) continue;
        e.idle.splice(i, 1);
        const s = w.socket;
        s.removeListener('close', onWarmClose); // not a failure: no backoff
        s.on('error', ignore);
        s.destroy();
        n++;
      }
      if (n > 0) {
        this.expired += n;
        this.fill(e);
      }
    }
  }

  /** Closes every pooled socket; nothing is dialed any more. */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
    for (const e of this.entries.values()) this.drop(e);
    this.entries.clear();
  }

  private fill(e: Entry): void {
    if (this.stopped || e.gone || e.timer !== null) return;
    while (e.idle.length + e.dialing.length < this.size && e.timer === null) this.dial(e);
  }

  private dial(e: Entry): void {
    const w = new Warm(e, this);
    const onread: OnReadOpts = { buffer: w.buffer, callback: warmRead };
    this.dials++;
    let s: WarmSocket;
    try {
      s = this.dialer.dial(e.b, onread, null) as WarmSocket;
    } catch (err) {
      if (this.log.isLevelEnabled('debug')) this.log.debug(`pre-warmed connection to ${e.b.key}: ${errorMessage(err)}`);
      this.failed(e);
      return;
    }
    s[kWarm] = w;
    w.socket = s;
    e.dialing.push(w);
    s.once(this.dialer.readyEvent, onWarmReady);
    s.on('end', onWarmEnd);
    s.on('error', onWarmError);
    s.on('close', onWarmClose);
    const t = this.connectTimeout;
    if (t > 0) {
      w.timer = setTimeout(onWarmTimeout, t, w);
      w.timer.unref();
    }
  }

  /** @internal a pooled socket connected (and finished its TLS handshake). */
  ready(w: Warm): void {
    if (w.timer !== null) {
      clearTimeout(w.timer);
      w.timer = null;
    }
    const e = w.entry;
    remove(e.dialing, w);
    w.born = Date.now();
    w.socket.resume(); // flowing, so that a FIN while idle is seen ('end')
    e.idle.push(w);
  }

  /** @internal a pooled socket closed before it was handed out. */
  closed(w: Warm): void {
    if (w.timer !== null) {
      clearTimeout(w.timer);
      w.timer = null;
    }
    const e = w.entry;
    if (!remove(e.idle, w)) remove(e.dialing, w);
    if (e.gone || this.stopped) return;
    if (w.born > 0 && Date.now() - w.born >= MIN_HEALTHY_MS) {
      e.failures = 0;
      this.fill(e);
    } else {
      this.failed(e);
    }
  }

  /** A failure: the backend's next dials wait (one timer per backend, one step per round). */
  private failed(e: Entry): void {
    if (e.timer !== null || e.gone || this.stopped) return;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(e.failures, 16));
    e.failures++;
    e.timer = setTimeout(() => {
      e.timer = null;
      this.fill(e);
    }, delay);
    e.timer.unref();
  }

  private drop(e: Entry): void {
    e.gone = true;
    if (e.timer !== null) {
      clearTimeout(e.timer);
      e.timer = null;
    }
    for (const w of [...e.idle, ...e.dialing]) w.socket.destroy();
    e.idle.length = 0;
    e.dialing.length = 0;
  }
}
