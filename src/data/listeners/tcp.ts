/**
 * The `tcp` listener (data-plane §2.1–§2.2): binds like Go (wildcard = dual-stack), keeps
 * accepting on accept errors (EMFILE, ENFILE, …: logged, rate-limited — D1), and runs every
 * accepted socket through the server's stream pipeline (../stream/pipeline.ts). Accepted
 * sockets read through `onread` when the fast accept path is available (./fast-accept.ts).
 * Socket options are set at creation, not per connection by the pipeline.
 */
import net, { type Socket } from 'node:net';
import { listenOn, resolveBind } from '../../core/listen.js';
import type { ServerRuntime } from '../runtime.js';
import { StreamConn } from '../stream/conn.js';
import { KEEPALIVE_MS } from '../stream/dialer.js';
import { onClientRead } from '../stream/forward.js';
import { buildPipeline } from '../stream/pipeline.js';
import { advance, type Stage } from '../stream/stage.js';
import { fastAcceptUnavailable, installFastAccept, socketForHandle, type AcceptedHandle } from './fast-accept.js';
import type { ListenerKind, OpenListener } from './types.js';

/** The kernel caps this at net.core.somaxconn, which is what Go asks for. */
const BACKLOG = 65_535;

/** Runs one client socket made by Node ('data' events) through the pipeline. */
export function acceptStream(rt: ServerRuntime, stages: readonly Stage[], client: Socket): void {
  if (rt.closing) {
    client.destroy();
    return;
  }
  const conn = new StreamConn(rt, stages);
  conn.attach(client, false);
  advance(conn);
}

/** Runs one accepted handle (fast path): its socket reads into the connection's buffers. */
export function acceptHandle(rt: ServerRuntime, stages: readonly Stage[], handle: AcceptedHandle): void {
  if (rt.closing) {
    handle.close();
    return;
  }
  const conn = new StreamConn(rt, stages);
  conn.attach(socketForHandle(handle, { buffer: conn.clientBuffer, callback: onClientRead }), true);
  advance(conn);
}

let fallbackLogged = false;

export const tcpListener: ListenerKind = {
  protocol: 'tcp',
  async open(rt: ServerRuntime): Promise<OpenListener> {
    const target = await resolveBind(rt.plan.bind);
    const stages = buildPipeline(rt.plan);
    const srv = net.createServer({
      allowHalfOpen: true,
      pauseOnConnect: true,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: KEEPALIVE_MS,
    });
    const onAcceptError = (err: Error): void =>
      rt.limitedLog(rt.acceptLimiter, 'error', `accept error on ${rt.plan.bind}: ${err.message}`);
    // No connection can arrive before the socket is bound; listen errors reject listenOn().
    srv.on('connection', (client: Socket) => acceptStream(rt, stages, client));
    const addr = await listenOn(srv, target, { backlog: BACKLOG, reusePort: rt.reusePort });
    // Accept errors (EMFILE, ENFILE, ...) arrive here; the listener keeps accepting (D1).
    srv.on('error', onAcceptError);
    const why = fastAcceptUnavailable(srv);
    if (why === null) {
      installFastAccept(srv, KEEPALIVE_MS / 1000, (h) => acceptHandle(rt, stages, h), onAcceptError);
    } else if (!fallbackLogged) {
      fallbackLogged = true;
      rt.log.info(`fast accept path not used (${why}): client reads use 'data' events`);
    }
    let stopped: Promise<void> | null = null;
    return {
      address: addr.address,
      port: addr.port,
      fastAccept: why === null,
      stop(): Promise<void> {
        stopped ??= new Promise<void>((resolve) => srv.close(() => resolve()));
        return stopped;
      },
    };
  },
};
