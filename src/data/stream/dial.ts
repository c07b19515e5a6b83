/**
 * Stage "dial" (data-plane §2.3 step 6, §2.4): connect to the reserved backend through the
 * server's dialer, bounded by backend_connection_timeout. A failure counts `refused`, is logged
 * (rate-limited) and closes the client; no retry, no other backend (GoBetween). On success the
 * backend's `total` is counted and the pipeline continues (PROXY header, forward).
 *
 * The dialer is injected (./dialer.ts): plain TCP now; a TLS dialer only changes how the socket
 * is made and which event says it is ready.
 */
import type { SnapshotBackend } from '../../core/snapshot.js';
import {
  BACKEND_CLOSED, CONNECTED, dialFailed, kConn, onBackendClose, type StreamConn, type TaggedSocket,
} from './conn.js';
import type { Dialer } from './dialer.js';
import { onBackendRead } from './forward.js';
import { advance, type Stage } from './stage.js';
import { onTimer } from './timer.js';

export function dialStage(dialer: Dialer): Stage {
  const ready = dialer.readyEvent;
  return {
    name: 'dial',
    run(conn: StreamConn): boolean {
      const b = conn.backend as SnapshotBackend;
      let up: TaggedSocket;
      try {
        up = dialer.dial(b, { buffer: conn.backendBuffer, callback: onBackendRead }) as TaggedSocket;
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
