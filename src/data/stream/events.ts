/**
 * The socket event handlers every phase of a stream connection shares (`this` is the emitting
 * socket, its connection found through `kConn`): client error and close, backend close, and the
 * dial failure path. The teardown rules they apply are described in ./conn.ts.
 */
import type { Socket } from 'node:net';
import type { SnapshotBackend } from '../../core/snapshot.js';
import { errorMessage } from '../../core/errors.js';
import {
  BACKEND_CLOSED, BACKEND_QUIT, CLIENT_CLOSED, CLIENT_QUIT, CONNECTED, DIAL_FAILED, DONE, kConn,
  type StreamConn, type TaggedSocket,
} from './conn.js';

/** Not a TLS socket (whose end() sends close_notify, and whose queue hides in the raw socket). */
export function isPlain(s: Socket): boolean {
  return (s as { encrypted?: boolean }).encrypted !== true;
}

export function onClientError(this: TaggedSocket, err: Error): void {
  const conn = this[kConn];
  if (conn.end === '') conn.end = 'error';
  const log = conn.rt.log;
  if (log.isLevelEnabled('debug')) log.debug(`client ${conn.clientIp}:${conn.clientPort}: ${err.message}`);
  conn.upstream?.destroy();
}

/** A socket that closes after both of its directions completed normally (or that we closed so). */
function closedCleanly(s: Socket, quit: boolean): boolean {
  return quit || (s.readableEnded && s.writableFinished);
}

export function onClientClose(this: TaggedSocket): void {
  const conn = this[kConn];
  if ((conn.flags & DONE) !== 0) return;
  conn.flags |= CLIENT_CLOSED;
  if (conn.end === '') conn.end = conn.rt.closing ? 'shutdown' : 'client_close';
  const up = conn.upstream;
  if (up === null) {
    // Closed before any dial (e.g. while an async stage waited): nothing else to wait for.
    conn.flags |= BACKEND_CLOSED;
  } else if ((conn.flags & BACKEND_CLOSED) === 0 && !closedCleanly(this, (conn.flags & CLIENT_QUIT) !== 0)) {
    // A clean close means the backend already sent FIN and got ours: let it finish flushing.
    up.destroy();
  }
  conn.maybeFinish();
}

export function onBackendClose(this: TaggedSocket): void {
  const conn = this[kConn];
  conn.flags |= BACKEND_CLOSED;
  if (conn.end === '') conn.end = conn.rt.closing ? 'shutdown' : (conn.flags & CONNECTED) === 0 ? 'refused' : 'backend_close';
  if ((conn.flags & CONNECTED) === 0) {
    // Destroyed while dialing (timeout, server close) or failed without an error event.
    if ((conn.flags & DIAL_FAILED) === 0 && (conn.flags & CLIENT_CLOSED) === 0) conn.client.destroy();
  } else if ((conn.flags & CLIENT_CLOSED) === 0 && !closedCleanly(this, (conn.flags & BACKEND_QUIT) !== 0)) {
    conn.client.destroy();
  }
  conn.maybeFinish();
}

/** Dial error or connect timeout: refused++, both sockets destroyed, lease released on close. */
export function dialFailed(conn: StreamConn, err: unknown): void {
  if ((conn.flags & (DIAL_FAILED | CONNECTED)) !== 0) return;
  const rt = conn.rt;
  const b = conn.backend as SnapshotBackend;
  rt.sink.refused(conn.slot);
  rt.limitedLog(rt.dialLimiter, 'error', `Could not connect to backend ${b.host}:${b.port}: ${errorMessage(err)}`);
  // backend_connection_retries (tsbetween-only): the dial stage may move the connection on.
  const dial = conn.stages[conn.step - 1];
  if (dial?.redial !== undefined && dial.redial(conn)) return;
  conn.flags |= DIAL_FAILED;
  if (conn.end === '') conn.end = 'refused';
  conn.upstream?.destroy();
  conn.client.destroy();
  conn.maybeFinish();
}
