/**
 * The one timer of a connection: the connect timeout while dialing, then the idle checks of
 * data-plane §2.6 (per-direction read inactivity, and the flush linger after both FINs). The
 * decision is the pure `idleVerdict` (../idle.ts); this file only keeps the timer armed. No timer
 * runs for a connection without idle timeouts until both sides have sent FIN.
 */
import { idleVerdict } from '../idle.js';
import {
  BACKEND_EOF, CLIENT_EOF, CONNECTED, DONE, type StreamConn, type TaggedSocket,
} from './conn.js';
import { dialFailed, isPlain } from './events.js';

/** Arms the idle timer when the pair starts forwarding (only if an idle timeout is set). */
export function armIdleTimer(conn: StreamConn): void {
  const rt = conn.rt;
  const ci = rt.clientIdle;
  const bi = rt.backendIdle;
  if (ci > 0 || bi > 0) {
    const now = Date.now();
    conn.lastClientRead = now;
    conn.lastBackendRead = now;
    conn.timer = setTimeout(onTimer, ci > 0 && bi > 0 ? Math.min(ci, bi) : ci > 0 ? ci : bi, conn);
    conn.timer.unref();
  }
}

/**
 * Both sides sent FIN: the flush starts now, and a timer must watch it — unless nothing is left
 * queued on two plain sockets: their FINs are then local work (shutdown/close), done without the
 * peers, so the pair closes by itself and no timer is armed (the common short connection).
 */
export function bothEnded(conn: StreamConn): void {
  if ((conn.flags & DONE) !== 0) return;
  const client = conn.client;
  const up = conn.upstream as TaggedSocket;
  const pending = client.writableLength + up.writableLength;
  if (pending === 0 && isPlain(client) && isPlain(up)) return;
  conn.lastFlush = Date.now();
  conn.flushPending = pending;
  if (conn.timer === null) {
    conn.timer = setTimeout(onTimer, conn.rt.flushLinger, conn);
    conn.timer.unref();
  }
}

export function onTimer(conn: StreamConn): void {
  conn.timer = null;
  const f = conn.flags;
  if ((f & DONE) !== 0) return;
  if ((f & CONNECTED) === 0) {
    dialFailed(conn, new Error('i/o timeout'));
    return;
  }
  const rt = conn.rt;
  const now = Date.now();
  const toClient = conn.client.writableLength;
  const toBackend = (conn.upstream as TaggedSocket).writableLength;
  if ((f & CLIENT_EOF) !== 0 && (f & BACKEND_EOF) !== 0) {
    // Only flushing is left: progress = fewer bytes queued than at the previous check.
    const pending = toClient + toBackend;
    if (conn.flushPending < 0 || pending < conn.flushPending) conn.lastFlush = now;
    conn.flushPending = pending;
  }
  const verdict = idleVerdict(
    {
      clientIdle: rt.clientIdle,
      backendIdle: rt.backendIdle,
      flushLinger: rt.flushLinger,
      clientEof: (f & CLIENT_EOF) !== 0,
      backendEof: (f & BACKEND_EOF) !== 0,
      lastClient: conn.lastClientRead,
      lastBackend: conn.lastBackendRead,
      toBackend,
      toClient,
      lastFlush: conn.lastFlush,
    },
    now,
  );
  if (typeof verdict === 'string') {
    const log = rt.log;
    if (log.isLevelEnabled('debug')) log.debug(`${verdict} idle timeout, closing ${conn.clientIp}:${conn.clientPort}`);
    if (conn.end === '' && verdict !== 'flush') conn.end = verdict === 'client' ? 'client_idle_timeout' : 'backend_idle_timeout';
    conn.destroy();
  } else if (verdict !== Infinity) {
    conn.timer = setTimeout(onTimer, verdict, conn);
    conn.timer.unref();
  }
}
