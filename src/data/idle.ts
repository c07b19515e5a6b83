/**
 * The idle-timeout decision of one TCP pair (data-plane §2.6), as a pure function.
 *
 * - client_idle_timeout: nothing read from the client for that long; backend_idle_timeout:
 *   nothing read from the backend. Traffic in the other direction does not help (GoBetween).
 * - A direction whose forwarded bytes wait for the peer to drain is blocked, not idle — GoBetween
 *   re-arms its deadline only after the forwarded write — as long as the other direction can
 *   still end the pair (it has not seen FIN and has a timeout). Otherwise blocked time counts as
 *   idle, so a peer that stops reading cannot hold the pair forever.
 * - A direction that has seen FIN has nothing more to read: no timer of its own.
 * - Once both directions have seen FIN only flushing is left: the pair is destroyed after
 *   `flushLinger` without flush progress.
 */

export interface IdleState {
  /** ms; 0 = none. */
  readonly clientIdle: number;
  readonly backendIdle: number;
  readonly flushLinger: number;
  readonly clientEof: boolean;
  readonly backendEof: boolean;
  /** Last progress client -> backend (a client read, or the backend draining). */
  readonly lastClient: number;
  /** Last progress backend -> client (a backend read, or the client draining). */
  readonly lastBackend: number;
  /** Bytes queued towards the backend / the client, not yet accepted by the kernel. */
  readonly toBackend: number;
  readonly toClient: number;
  /** Last flush progress after both FINs. */
  readonly lastFlush: number;
}

/** Which side expired, or the ms until the next check (Infinity: no timer needed). */
export type IdleVerdict = 'client' | 'backend' | 'flush' | number;

export function idleVerdict(s: IdleState, now: number): IdleVerdict {
  if (s.clientEof && s.backendEof) {
    const left = s.lastFlush + s.flushLinger - now;
    return left <= 0 ? 'flush' : left;
  }
  const clientCanEnd = !s.clientEof && s.clientIdle > 0;
  const backendCanEnd = !s.backendEof && s.backendIdle > 0;
  let next = Infinity;
  if (clientCanEnd) {
    const blocked = s.toBackend > 0 && backendCanEnd;
    const left = blocked ? s.clientIdle : s.lastClient + s.clientIdle - now;
    if (left <= 0) return 'client';
    next = left;
  }
  if (backendCanEnd) {
    const blocked = s.toClient > 0 && clientCanEnd;
    const left = blocked ? s.backendIdle : s.lastBackend + s.backendIdle - now;
    if (left <= 0) return 'backend';
    if (left < next) next = left;
  }
  return next;
}
