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
import { RawSocket, rawSocketsUnavailable } from '../stream/raw-socket.js';
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
  const onread = { buffer: conn.clientBuffer, callback: onClientRead };
  // Without a net.Socket when the internal bindings are there (../stream/raw-socket.ts).
  const client = rawSocketsUnavailable() === null ? RawSocket.accepted(handle, onread) as unknown as Socket : socketForHandle(handle, onread);
  conn.attach(client, true);
  advance(conn);
}

let fallbackLogged = false;

export const tcpListener: ListenerKind = {
  protocol: 'tcp',
  // `tls` servers use the same listener: their pipeline has the terminate stage (../stream/terminate.ts).
  async open(rt: ServerRuntime): Promise<OpenListener> {
    const target = await resolveBind(rt.plan.bind);
    // The runtime and pipeline new connections go to (replaced by `retarget` on a hot reload).
    // `ownReads`: a stage reads the client before forwarding (a PROXY header, a ClientHello, the
    // TLS handshake): such connections need Node's sockets and their 'data' events.
    const pipelineOf = (r: ServerRuntime): { rt: ServerRuntime; stages: readonly Stage[]; ownReads: boolean } => {
      const stages = buildPipeline(r.plan, r.log);
      return { rt: r, stages, ownReads: stages.some((s) => s.readsClient === true) };
    };
    let cur = pipelineOf(rt);
    const srv = net.createServer({
      allowHalfOpen: true,
      pauseOnConnect: true,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: KEEPALIVE_MS,
    });
    const onAcceptError = (err: Error): void =>
      cur.rt.limitedLog(cur.rt.acceptLimiter, 'error', `accept error on ${cur.rt.plan.bind}: ${err.message}`);
    // No connection can arrive before the socket is bound; listen errors reject listenOn().
    srv.on('connection', (client: Socket) => acceptStream(cur.rt, cur.stages, client));
    let addr: Awaited<ReturnType<typeof listenOn>>;
    try {
      addr = await listenOn(srv, target, { backlog: BACKLOG, reusePort: rt.reusePort });
    } catch (err) {
      for (const s of cur.stages) s.close?.();
      throw err;
    }
    // Accept errors (EMFILE, ENFILE, ...) arrive here; the listener keeps accepting (D1).
    srv.on('error', onAcceptError);
    // Stages that read the client before forwarding (a PROXY header, a ClientHello, the TLS
    // handshake) need Node's sockets and their 'data' events: no fast path for such servers.
    const ownReads = cur.ownReads;
    const why = ownReads ? 'a stage reads the client before forwarding' : fastAcceptUnavailable(srv);
    if (why === null) {
      installFastAccept(srv, KEEPALIVE_MS / 1000, (h) => {
        if (cur.ownReads) acceptStream(cur.rt, cur.stages, socketForHandle(h));
        else acceptHandle(cur.rt, cur.stages, h);
      }, onAcceptError);
    } else if (!ownReads && !fallbackLogged) {
      fallbackLogged = true;
      rt.log.info(`fast accept path not used (${why}): client reads use 'data' events`);
    }
    let stopped: Promise<void> | null = null;
    return {
      address: addr.address,
      port: addr.port,
      fastAccept: why === null,
      stop(): Promise<void> {
        stopped ??= new Promise<void>((resolve) => {
          for (const s of cur.stages) s.close?.();
          srv.close(() => resolve());
        });
        return stopped;
      },
      retarget(next: ServerRuntime): void {
        const old = cur.stages;
        cur = pipelineOf(next);
        for (const s of old) s.close?.();
      },
    };
  },
};
