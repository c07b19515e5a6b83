/**
 * Stage "forward" (data-plane §2.5): relays both ways until both directions are done, with
 * exact byte counters (D3: counted as bytes are handed to the peer socket), backpressure, FIN
 * propagation (half-close, D2) and the per-direction idle timer (./timer.ts).
 *
 * Reads: `onread` into the connection's own buffers (./buffers.ts) — always for the backend
 * socket, and for the client socket when the listener made it (fast accept path); otherwise the
 * client's 'data' events. Writes hand the read bytes to the other socket without copying.
 * Backpressure: a side is paused only when its last write is still queued AND the stream asked
 * for a drain; 'drain' resumes it. A write that completed at once costs no pause/resume.
 */
import {
  BACKEND_DRAIN_HOOKED, BACKEND_EOF, BACKEND_FIN_DEFERRED, BACKEND_PAUSED, BACKEND_QUIT, CLIENT_DRAIN_HOOKED, CLIENT_EOF,
  CLIENT_CLOSED, CLIENT_FIN_DEFERRED, CLIENT_ONREAD, CLIENT_PAUSED, CLIENT_QUIT, kConn, type StreamConn, type TaggedSocket,
} from './conn.js';
import { isPlain } from './events.js';
import type { Stage } from './stage.js';
import { armIdleTimer, bothEnded } from './timer.js';

export const forwardStage: Stage = {
  name: 'forward',
  run(conn: StreamConn): boolean {
    const up = conn.upstream as TaggedSocket;
    const client = conn.client;
    armIdleTimer(conn);
    if ((conn.flags & CLIENT_ONREAD) === 0) client.on('data', onClientData);
    client.on('end', onClientEnd);
    up.on('end', onBackendEnd);
    // 'drain' handlers are added at the first pause (most connections never need them).
    // Flowing mode, so that 'end' is emitted (onread sockets deliver data to their callback).
    up.resume();
    client.resume();
    return true;
  },
};

/** One backend read (onread callback, `this` = the backend socket). */
export function onBackendRead(this: TaggedSocket, n: number, b: Uint8Array): boolean {
  const conn = this[kConn];
  const rt = conn.rt;
  if (rt.stampReads) conn.lastBackendRead = Date.now();
  conn.rx += n;
  rt.sink.rx(conn.slot, n);
  const client = conn.client;
  const flushed = client.write((b as Buffer).subarray(0, n));
  conn.backendN = n;
  if (client.writableLength !== 0) {
    conn.backendBusy = true;
    if (!flushed) pauseBackend(conn, this);
  }
  return true;
}

/** One client read (onread callback on the fast accept path, `this` = the client socket). */
export function onClientRead(this: TaggedSocket, n: number, b: Uint8Array): boolean {
  const conn = this[kConn];
  const rt = conn.rt;
  if (rt.stampReads) conn.lastClientRead = Date.now();
  conn.tx += n;
  rt.sink.tx(conn.slot, n);
  const up = conn.upstream as TaggedSocket;
  const flushed = up.write((b as Buffer).subarray(0, n));
  conn.clientN = n;
  if (up.writableLength !== 0) {
    conn.clientBusy = true;
    if (!flushed) pauseClient(conn, this);
  }
  return true;
}

/** One client chunk ('data' event: the fallback when the client socket has no onread). */
function onClientData(this: TaggedSocket, chunk: Buffer): void {
  const conn = this[kConn];
  const rt = conn.rt;
  if (rt.stampReads) conn.lastClientRead = Date.now();
  conn.tx += chunk.length;
  rt.sink.tx(conn.slot, chunk.length);
  const up = conn.upstream as TaggedSocket;
  if (!up.write(chunk) && up.writableLength !== 0) pauseClient(conn, this);
}

/** Stops reading the client until the backend drains. */
function pauseClient(conn: StreamConn, client: TaggedSocket): void {
  if ((conn.flags & BACKEND_DRAIN_HOOKED) === 0) {
    conn.flags |= BACKEND_DRAIN_HOOKED;
    (conn.upstream as TaggedSocket).on('drain', onBackendDrain);
  }
  conn.flags |= CLIENT_PAUSED;
  client.pause();
}

/** Stops reading the backend until the client drains. */
function pauseBackend(conn: StreamConn, up: TaggedSocket): void {
  if ((conn.flags & CLIENT_DRAIN_HOOKED) === 0) {
    conn.flags |= CLIENT_DRAIN_HOOKED;
    conn.client.on('drain', onClientDrain);
  }
  conn.flags |= BACKEND_PAUSED;
  up.pause();
}

/** The backend drained: resume reading the client (forwarding progress for its idle timer). */
function onBackendDrain(this: TaggedSocket): void {
  const conn = this[kConn];
  if (conn.rt.stampReads) conn.lastClientRead = Date.now();
  if ((conn.flags & CLIENT_PAUSED) === 0) return;
  conn.flags &= ~CLIENT_PAUSED;
  conn.client.resume();
}

/** The client drained: resume reading the backend (forwarding progress for its idle timer). */
function onClientDrain(this: TaggedSocket): void {
  const conn = this[kConn];
  if (conn.rt.stampReads) conn.lastBackendRead = Date.now();
  if ((conn.flags & BACKEND_PAUSED) === 0) return;
  conn.flags &= ~BACKEND_PAUSED;
  (conn.upstream as TaggedSocket).resume();
}

/** Client FIN: propagate to the backend (half-close, D2). */
function onClientEnd(this: TaggedSocket): void {
  const conn = this[kConn];
  conn.flags |= CLIENT_EOF;
  if (conn.end === '') conn.end = 'client_close';
  const up = conn.upstream as TaggedSocket;
  const f = conn.flags;
  if ((f & BACKEND_EOF) === 0) {
    if (endPending(up)) conn.flags |= BACKEND_FIN_DEFERRED;
    else up.end();
    return;
  }
  // Both directions have ended: the FINs still owed are sent by closing (./conn.ts, *_QUIT).
  closeWrite(conn, up, BACKEND_QUIT);
  if ((f & CLIENT_FIN_DEFERRED) !== 0) {
    conn.flags &= ~CLIENT_FIN_DEFERRED;
    closeWrite(conn, this, CLIENT_QUIT);
  }
  bothEnded(conn);
}

/** Backend FIN: propagate to the client. */
function onBackendEnd(this: TaggedSocket): void {
  const conn = this[kConn];
  conn.flags |= BACKEND_EOF;
  if (conn.end === '') conn.end = 'backend_close';
  const client = conn.client;
  const f = conn.flags;
  if ((f & CLIENT_EOF) === 0) {
    // The FIN towards the client waits for the end of this poll phase: when the client's own FIN
    // was read in the same poll (a client that closes after its answer), both go out by close().
    conn.flags |= CLIENT_FIN_DEFERRED;
    if (!endPending(client)) setImmediate(clientFin, conn);
    return;
  }
  closeWrite(conn, client, CLIENT_QUIT);
  if ((f & BACKEND_FIN_DEFERRED) !== 0) closeWrite(conn, this, BACKEND_QUIT);
  bothEnded(conn);
}

/** The deferred FIN towards the client, when its own 'end' did not arrive in the same poll. */
function clientFin(conn: StreamConn): void {
  if ((conn.flags & CLIENT_FIN_DEFERRED) === 0 || (conn.flags & CLIENT_CLOSED) !== 0 || conn.client.destroyed) return;
  conn.flags &= ~CLIENT_FIN_DEFERRED;
  conn.client.end();
}

interface ReadState {
  readonly _readableState?: { readonly ended?: boolean; readonly length?: number };
}

/**
 * The socket has read its peer's FIN and its 'end' event is already scheduled (EOF read, nothing
 * buffered): its own end handler runs next and finds both directions ended, so the FIN towards
 * this socket's peer can wait for it and be sent by close() instead of shutdown() + close().
 * Only plain sockets (a TLS socket sends close_notify on end()). A RawSocket has no
 * `_readableState`, so this is false for it and the deferred FIN goes through `setImmediate`
 * (clientFin) instead: teaching RawSocket to say "EOF pending" measured no gain (A/B, Node 24,
 * 3 rounds: 85 vs 82 µs per connection, noise).
 */
function endPending(s: TaggedSocket): boolean {
  if (!isPlain(s)) return false;
  const st = (s as ReadState)._readableState;
  return st !== undefined && st.ended === true && st.length === 0;
}

/**
 * Sends the FIN owed to `s`'s peer once both directions ended. With nothing queued (every byte
 * is in the kernel) and a plain socket, close() sends it after the data, saving Node's shutdown
 * round (a syscall, a request callback and the stream 'finish' chain); otherwise end().
 */
export function closeWrite(conn: StreamConn, s: TaggedSocket, quit: number): void {
  if (s.writableLength === 0 && isPlain(s)) {
    conn.flags |= quit;
    s.destroy();
  } else {
    s.end();
  }
}
