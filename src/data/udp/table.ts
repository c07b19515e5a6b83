/**
 * The session table of one UDP server: an `lru-cache` keyed by the client's `ip port`, capped.
 * A client datagram (`get`) makes its session the most recently active; adding a session beyond
 * the cap evicts the least recently active one through `onEvict` (the server counts it and
 * closes the session). Sessions that took their `max_requests` are "retired" under a unique key:
 * they no longer receive client datagrams but still count against the cap while they wait for
 * their responses.
 */
import { LRUCache } from 'lru-cache';
import type { Session } from './session.js';

export class SessionTable {
  private readonly lru: LRUCache<string, Session>;
  private seq = 0;

  constructor(max: number, onEvict: (s: Session) => void) {
    this.lru = new LRUCache<string, Session>({
      max,
      dispose: (s, _key, reason) => {
        if (reason === 'evict') onEvict(s);
      },
    });
  }

  get size(): number {
    return this.lru.size;
  }

  /** The current session of a client, made the most recently active. */
  get(key: string): Session | undefined {
    return this.lru.get(key);
  }

  /** Adds a new session under `s.key` (may evict the least recently active one). */
  add(s: Session): void {
    this.lru.set(s.key, s);
  }

  /** Removes `s` if it is still in the table (no eviction callback). */
  remove(s: Session): void {
    if (this.lru.peek(s.key) === s) this.lru.delete(s.key);
  }

  /** Moves `s` out of its client's key: the client's next datagram starts a new session. */
  retire(s: Session): void {
    this.remove(s);
    s.key = `${s.key}#${++this.seq}`;
    this.lru.set(s.key, s);
  }

  /** Evicts the least recently active session (to free a file descriptor). */
  evictOldest(): void {
    this.lru.pop();
  }

  /** The sessions matching `pred`, collected first so that the caller may end them. */
  collect(pred: (s: Session) => boolean): Session[] {
    const out: Session[] = [];
    for (const s of this.lru.values()) if (pred(s)) out.push(s);
    return out;
  }
}
