/**
 * Stage "dial" with `backend_prewarm` (tsbetween-only): the elected backend's pool
 * (./prewarm.ts) hands over an idle connected socket when it has one — the connection is then
 * connected at once and goes on to the next stage (PROXY header, forward) in the same tick —
 * else the plain dial stage dials as always (and its `backend_connection_retries` redial, which
 * always dials fresh, stays in place).
 *
 * At hand-off the socket counts as a backend connection (`total`, as a completed dial does), the
 * connection takes over its read buffer, and bytes the backend sent while the socket was idle
 * (a banner) are written to the client first, counted in rx like any backend read.
 */
import type { SnapshotBackend } from '../../core/snapshot.js';
import { CONNECTED, kConn, type StepLike, type StreamConn, type TaggedSocket } from './conn.js';
import { onBackendClose } from './events.js';
import type { ServerRuntime } from '../runtime.js';
import type { Dialer } from './dialer.js';
import { MAX_IDLE_MS, PrewarmPool } from './prewarm.js';
import type { Warm } from './prewarm-socket.js';
import type { Stage } from './stage.js';

export function prewarmDialStage(dial: Stage & StepLike): Stage & StepLike {
  const stage: Stage & StepLike = {
    name: 'dial',
    run(conn: StreamConn): boolean {
      const w = prewarmOf(conn.rt)?.take(conn.slot) ?? null;
      if (w === null) return dial.run(conn);
      adopt(conn, w);
      return true;
    },
  };
  if (dial.redial !== undefined) stage.redial = (conn: StreamConn): boolean => dial.redial?.(conn) ?? false;
  return stage;
}

function adopt(conn: StreamConn, w: Warm): void {
  const up = w.socket as TaggedSocket;
  w.conn = conn;
  up[kConn] = conn;
  conn.upstream = up;
  conn.backendBuf = w.buf;
  w.buf = null;
  up.on('error', onAdoptedError);
  up.on('close', onBackendClose);
  conn.flags |= CONNECTED;
  const rt = conn.rt;
  rt.sink.connected(conn.slot);
  const held = w.held;
  if (held === null) return;
  w.held = null;
  const client = conn.client;
  for (const chunk of held) {
    conn.rx += chunk.length;
    rt.sink.rx(conn.slot, chunk.length);
    client.write(chunk);
  }
}

/** An error on a handed-out socket: tear the pair down (the backend side closes by itself). */
function onAdoptedError(this: TaggedSocket, err: Error): void {
  const conn = this[kConn];
  const log = conn.rt.log;
  if (log.isLevelEnabled('debug')) log.debug(`backend ${(conn.backend as SnapshotBackend).key}: ${err.message}`);
  conn.client.destroy();
}

const pools = new WeakMap<ServerRuntime, PrewarmPool>();

/** The pool of a server runtime; undefined when its plan has none (the OFF case). */
export function prewarmOf(rt: ServerRuntime): PrewarmPool | undefined {
  return pools.get(rt);
}

/**
 * Gives `rt` its pool (once, when the data plane makes the runtime; filled on the first snapshot
 * update). `dialer`: the server's backend dialer (../stream/pipeline.ts `chooseDialer`).
 */
export function attachPrewarm(rt: ServerRuntime, dialer: Dialer): PrewarmPool | null {
  const plan = rt.plan;
  const n = plan.backendPrewarm ?? 0;
  if (n <= 0) return null;
  if (plan.proxyProtocol !== undefined && plan.backendsTls !== undefined) {
    // Refused by the config validation: the PROXY header must precede the TLS handshake.
    rt.log.warn('backend_prewarm is off: it cannot be used with both proxy_protocol and backends_tls');
    return null;
  }
  const idle = plan.backendIdleTimeoutMs;
  const pool = new PrewarmPool(n, dialer, rt.connectTimeout, rt.log, idle > 0 ? Math.min(idle, MAX_IDLE_MS) : MAX_IDLE_MS);
  pools.set(rt, pool);
  return pool;
}
