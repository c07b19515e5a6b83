/**
 * Stage "dial" (data-plane §2.3 step 6, §2.4): connect to the reserved backend through the
 * server's dialer, bounded by backend_connection_timeout. A failure counts `refused`, is logged
 * (rate-limited) and closes the client; no retry, no other backend (GoBetween) — unless the
 * tsbetween-only `backend_connection_retries` is set (see `redial` below). On success the
 * backend's `total` is counted and the pipeline continues (PROXY header, forward).
 *
 * The dialer is injected (./dialer.ts): plain TCP now; a TLS dialer only changes how the socket
 * is made and which event says it is ready.
 */
import type { SnapshotBackend } from '../../core/snapshot.js';
import {
  BACKEND_CLOSED, CLIENT_CLOSED, CONNECTED, FAILED, kConn, type StepLike, type StreamConn, type TaggedSocket,
} from './conn.js';
import { dialFailed, onBackendClose } from './events.js';
import { releaseBackend, takeBackend } from './lease.js';
import type { Dialer } from './dialer.js';
import { onBackendRead } from './forward.js';
import { advance, type Stage } from './stage.js';
import { onTimer } from './timer.js';

export function dialStage(dialer: Dialer, retries = 0): Stage {
  const ready = dialer.readyEvent;
  const stage: Stage & StepLike = {
    name: 'dial',
    run(conn: StreamConn): boolean {
      const b = conn.backend as SnapshotBackend;
      let up: TaggedSocket;
      try {
        up = dialer.dial(b, { buffer: conn.backendBuffer, callback: onBackendRead }, conn) as TaggedSocket;
      } catch (err) {
        // Synchronous failures (invalid host/port): counted as refused like any dial failure.
        conn.flags |= BACKEND_CLOSED;
        dialFailed(conn, err);
        return false;
      }
      up[kConn] = conn;
      conn.upstream = up;
      up.on(ready, onBackendReady);
      up.on('error', onBackendError);
      up.on('close', onBackendClose);
      const t = conn.rt.connectTimeout;
      if (t > 0) {
        conn.timer = setTimeout(onTimer, t, conn);
        conn.timer.unref();
      }
      return false;
    },
  };
  if (retries > 0) stage.redial = (conn) => redial(conn, stage, retries, ready);
  return stage;
}

function onBackendReady(this: TaggedSocket): void {
  const conn = this[kConn];
  conn.flags |= CONNECTED;
  conn.rt.sink.connected(conn.slot);
  if (conn.timer !== null) {
    clearTimeout(conn.timer);
    conn.timer = null;
  }
  advance(conn);
}

function onBackendError(this: TaggedSocket, err: Error): void {
  const conn = this[kConn];
  if ((conn.flags & CONNECTED) === 0) {
    dialFailed(conn, err);
    return;
  }
  const log = conn.rt.log;
  if (log.isLevelEnabled('debug')) log.debug(`backend ${conn.backend?.key ?? ''}: ${err.message}`);
  conn.client.destroy();
}

function ignore(): void {
  // late errors of an abandoned backend socket
}

/**
 * `backend_connection_retries` (tsbetween-only; HAProxy's retries + redispatch): the connect to
 * the reserved backend failed; elect another eligible backend that has not failed for this
 * connection, move the reservation to it and dial again. False (nothing changed) when the retries
 * are used up, the client is gone, the server is closing or no other backend is eligible.
 * Only failed connections pay for this (one small array and a filtered candidate list).
 */
function redial(conn: StreamConn, stage: Stage, retries: number, ready: string): boolean {
  const rt = conn.rt;
  if (conn.retries >= retries || (conn.flags & (CLIENT_CLOSED | FAILED)) !== 0 || rt.closing) return false;
  const tried = conn.tried ?? (conn.tried = []);
  tried.push(conn.slot);
  const elector = rt.elector;
  const candidates = elector.eligible.filter((b) => !tried.includes(b.slot));
  let picked: SnapshotBackend | string;
  try {
    picked = elector.electAmong(conn, candidates, elector.anyMaxConnections);
  } catch {
    return false;
  }
  if (typeof picked === 'string') return false;
  // Abandon the failed socket (its handlers must not tear the client down).
  const old = conn.upstream;
  if (old !== null) {
    old.removeListener(ready, onBackendReady);
    old.removeListener('error', onBackendError);
    old.removeListener('close', onBackendClose);
    old.on('error', ignore);
    old.destroy();
    conn.upstream = null;
  }
  if (conn.timer !== null) {
    clearTimeout(conn.timer);
    conn.timer = null;
  }
  conn.flags &= ~BACKEND_CLOSED;
  releaseBackend(conn);
  conn.retries++;
  if (!takeBackend(conn, picked)) {
    conn.fail('no_backend');
    return true;
  }
  if (rt.log.isLevelEnabled('debug')) rt.log.debug(`retrying ${conn.clientIp}:${conn.clientPort} on backend ${picked.key} (attempt ${conn.retries + 1})`);
  stage.run(conn);
  return true;
}
