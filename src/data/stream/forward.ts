/**
 * Stage "forward" (data-plane §2.5): relays both ways until both directions are done, with
 * exact byte counters (D3: counted as bytes are handed to the peer socket), backpressure, FIN
 * propagation (half-close, D2) and the per-direction idle timer (./timer.ts).
 *
 * Backend -> client: `onread` into the connection's reused buffer (set up by the dial stage).
 * Client -> backend: 'data' events.
 */
import {
  BACKEND_EOF, CLIENT_EOF, kConn, type StreamConn, type TaggedSocket,
} from './conn.js';
import type { Stage } from './stage.js';
import { armIdleTimer, bothEnded } from './timer.js';

export const forwardStage: Stage = {
  name: 'forward',
  run(conn: StreamConn): boolean {
    const up = conn.upstream as TaggedSocket;
    const client = conn.client;
    armIdleTimer(conn);
    client.on('data', onClientData);
    client.on('end', onClientEnd);
    client.on('drain', onClientDrain);
    up.on('end', onBackendEnd);
    up.on('drain', onBackendDrain);
    // Flowing mode, so that 'end' is emitted (the data itself goes through onread).
    up.resume();
    client.resume();
    return true;
  },
};

/** One backend read (onread callback, `this` = the backend socket): count, forward, backpressure. */
export function onBackendRead(this: TaggedSocket, n: number, b: Uint8Array): boolean {
  const conn = this[kConn];
  conn.lastBackendRead = Date.now();
  conn.rt.sink.rx(conn.slot, n);
  const client = conn.client;
  const flushed = client.write(b instanceof Buffer ? b.subarray(0, n) : Buffer.from(b.buffer, b.byteOffset, n));
  if (client.writableLength !== 0) conn.bufBusy = true;
  // Stop reading the backend until the client drains (onClientDrain resumes it).
  if (!flushed) this.pause();
  return true;
}

function onClientData(this: TaggedSocket, chunk: Buffer): void {
  const conn = this[kConn];
  conn.lastClientRead = Date.now();
  conn.rt.sink.tx(conn.slot, chunk.length);
  if (!(conn.upstream as TaggedSocket).write(chunk)) this.pause();
}

/** The backend drained: resume reading the client (forwarding progress for its idle timer). */
function onBackendDrain(this: TaggedSocket): void {
  const conn = this[kConn];
  conn.lastClientRead = Date.now();
  conn.client.resume();
}

/** The client drained: resume reading the backend (forwarding progress for its idle timer). */
function onClientDrain(this: TaggedSocket): void {
  const conn = this[kConn];
  conn.lastBackendRead = Date.now();
  (conn.upstream as TaggedSocket).resume();
}

/** Client FIN: propagate to the backend (half-close, D2). */
function onClientEnd(this: TaggedSocket): void {
  const conn = this[kConn];
  conn.flags |= CLIENT_EOF;
  (conn.upstream as TaggedSocket).end();
  if ((conn.flags & BACKEND_EOF) !== 0) bothEnded(conn);
}

/** Backend FIN: propagate to the client. */
function onBackendEnd(this: TaggedSocket): void {
  const conn = this[kConn];
  conn.flags |= BACKEND_EOF;
  conn.client.end();
  if ((conn.flags & CLIENT_EOF) !== 0) bothEnded(conn);
}
