/**
 * One pre-warmed backend socket (./prewarm.ts) and its event handlers, module-level (no
 * per-socket closures but the onread buffer source): reads are held while the socket is idle and
 * forwarded (forward.ts) once a client took it.
 */
import type { SnapshotBackend } from '../../core/snapshot.js';
import { errorMessage } from '../../core/errors.js';
import { takeSmall } from './buffers.js';
import { kConn, type StreamConn, type TaggedSocket } from './conn.js';
import { onBackendRead } from './forward.js';
import type { Logger } from '../../core/log.js';

/** Bytes a backend may send on an idle pooled socket before it is dropped. */
export const MAX_HELD_BYTES = 16 * 1024;

export const kWarm = Symbol('tsbetween.prewarm');
export interface WarmSocket extends TaggedSocket {
  [kWarm]: Warm;
}

/** One backend's sockets. */
export class Entry {
  readonly idle: Warm[] = [];
  readonly dialing: Warm[] = [];
  /** Backoff steps taken since the last healthy socket. */
  failures = 0;
  timer: NodeJS.Timeout | null = null;
  gone = false;
  constructor(readonly b: SnapshotBackend) {}
}

/** What a pooled socket reports to (the pool, ./prewarm.ts). */
export interface WarmOwner {
  readonly log: Logger;
  /** Connected (and the TLS handshake done). */
  ready(w: Warm): void;
  /** Closed before it was handed out. */
  closed(w: Warm): void;
}

/** One pooled socket. */
export class Warm {
  socket!: WarmSocket;
  /** The current onread buffer (plain sockets); the connection takes it over at hand-off. */
  buf: Buffer | null = null;
  /** Bytes the backend sent while idle (copied: the read buffer is reused). */
  held: Buffer[] | null = null;
  heldBytes = 0;
  born = 0;
  timer: NodeJS.Timeout | null = null;
  conn: StreamConn | null = null;
  readonly buffer = (): Buffer => {
    const c = this.conn;
    return c !== null ? c.backendBuffer() : (this.buf ??= takeSmall());
  };
  constructor(readonly entry: Entry, readonly pool: WarmOwner) {}
}

/** A read on a pooled socket: forwarded once handed out, held while idle. */
export function warmRead(this: WarmSocket, n: number, b: Uint8Array): boolean {
  if (this[kConn] !== undefined) return onBackendRead.call(this, n, b);
  const w = this[kWarm];
  w.heldBytes += n;
  if (w.heldBytes > MAX_HELD_BYTES) {
    w.born = 0; // counts as a failure: this backend streams at connect, pooling it is useless
    this.destroy();
    return true;
  }
  (w.held ??= []).push(Buffer.from((b as Buffer).subarray(0, n)));
  return true;
}

export function onWarmReady(this: WarmSocket): void {
  const w = this[kWarm];
  w.pool.ready(w);
}

export function onWarmEnd(this: WarmSocket): void {
  this.destroy();
}

export function onWarmError(this: WarmSocket, err: Error): void {
  const log = this[kWarm].pool.log;
  if (log.isLevelEnabled('debug')) log.debug(`pre-warmed connection to ${this[kWarm].entry.b.key}: ${errorMessage(err)}`);
}

export function onWarmClose(this: WarmSocket): void {
  const w = this[kWarm];
  w.pool.closed(w);
}

export function onWarmTimeout(w: Warm): void {
  w.timer = null;
  w.socket.destroy();
}

export function ignore(): void {
  // late errors of a discarded pooled socket
}
