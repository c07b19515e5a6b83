/**
 * TCP keep-alive on dialed backend sockets, set up to a second after the connect instead of at it.
 *
 * Go's 15 s keep-alive (./dialer.ts) is four `setsockopt` calls per backend socket: 23.4 → 18.9
 * syscalls per short proxied connection without them (the CPU difference is within the bench's
 * run-to-run noise). Most connections of an ingress gateway close well within a second, and for
 * them the calls buy nothing. Deferring them changes nothing a peer can see: setting TCP_KEEPIDLE makes the
 * kernel time the first probe from the last segment received, not from the call, so a socket
 * that gets its options within 1 s probes at exactly the same moment as one that got them at
 * connect (the idle time is 15 s).
 *
 * The sockets waiting form an intrusive list (no allocation per connection); one unref'd timer
 * per thread runs while the list is not empty; a socket leaves the list when it is destroyed.
 */

/** What waits for its keep-alive (a RawSocket). */
export interface KeepAliveWaiter {
  kaPrev: KeepAliveWaiter | null;
  kaNext: KeepAliveWaiter | null;
  kaQueued: boolean;
  /** Sets the socket's keep-alive options (called at most once, never after destroy). */
  applyKeepAlive(): void;
}

/** The longest a new backend socket waits for its keep-alive options. */
export const KEEPALIVE_DEFER_MS = 1000;

let head: KeepAliveWaiter | null = null;
let timer: NodeJS.Timeout | null = null;
let deferMs = KEEPALIVE_DEFER_MS;

/** Queues `s` for the next sweep (at most `KEEPALIVE_DEFER_MS` away). */
export function deferKeepAlive(s: KeepAliveWaiter): void {
  if (s.kaQueued) return;
  s.kaQueued = true;
  s.kaPrev = null;
  s.kaNext = head;
  if (head !== null) head.kaPrev = s;
  head = s;
  if (timer === null) {
    timer = setTimeout(sweep, deferMs);
    timer.unref();
  }
}

/** Takes `s` off the list (it is being destroyed). */
export function cancelKeepAlive(s: KeepAliveWaiter): void {
  if (!s.kaQueued) return;
  s.kaQueued = false;
  const prev = s.kaPrev;
  const next = s.kaNext;
  if (prev === null) head = next;
  else prev.kaNext = next;
  if (next !== null) next.kaPrev = prev;
  s.kaPrev = null;
  s.kaNext = null;
}

function sweep(): void {
  timer = null;
  let s = head;
  head = null;
  while (s !== null) {
    const next = s.kaNext;
    s.kaQueued = false;
    s.kaPrev = null;
    s.kaNext = null;
    s.applyKeepAlive();
    s = next;
  }
}

/** Sockets waiting now (tests). */
export function keepAlivePending(): number {
  let n = 0;
  for (let s = head; s !== null; s = s.kaNext) n++;
  return n;
}

/** Tests: another (or, with `ms` omitted, the default) wait for sockets queued from now on. */
export function setKeepAliveDeferForTest(ms?: number): void {
  deferMs = ms ?? KEEPALIVE_DEFER_MS;
}

/** Tests: the sweep now, as if the timer had fired. */
export function flushKeepAliveForTest(): void {
  if (timer !== null) clearTimeout(timer);
  sweep();
}
