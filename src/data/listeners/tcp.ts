/**
 * The `tcp` listener (data-plane §2.1–§2.2): binds like Go (wildcard = dual-stack), keeps
 * accepting on accept errors (EMFILE, ENFILE, …: logged, rate-limited — D1), and runs every
 * accepted socket through the server's stream pipeline (../stream/pipeline.ts).
 * Socket options are set at creation (the listener's options), not per connection.
 */
import net, { type Socket } from 'node:net';
import { listenOn, resolveBind } from '../../core/listen.js';
import type { ServerRuntime } from '../runtime.js';
import { StreamConn, type TaggedSocket } from '../stream/conn.js';
import { KEEPALIVE_MS } from '../stream/dialer.js';
import { buildPipeline } from '../stream/pipeline.js';
import { advance, type Stage } from '../stream/stage.js';
import type { ListenerKind, OpenListener } from './types.js';

/** The kernel caps this at net.core.somaxconn, which is what Go asks for. */
const BACKLOG = 65_535;

/** Runs one accepted client socket through the pipeline. */
export function acceptStream(rt: ServerRuntime, stages: readonly Stage[], client: Socket): void {
  if (rt.closing) {
    client.destroy();
    return;
  }
  advance(new StreamConn(rt, stages, client as TaggedSocket));
}

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
    // No connection can arrive before the socket is bound; listen errors reject listenOn().
    srv.on('connection', (client: Socket) => acceptStream(rt, stages, client));
    const addr = await listenOn(srv, target, { backlog: BACKLOG, reusePort: rt.reusePort });
    // Accept errors (EMFILE, ENFILE, ...) arrive here; the listener keeps accepting (D1).
    srv.on('error', (err: Error) => rt.limitedLog(rt.acceptLimiter, 'error', `accept error on ${rt.plan.bind}: ${err.message}`));
    let stopped: Promise<void> | null = null;
    return {
      address: addr.address,
      port: addr.port,
      stop(): Promise<void> {
        stopped ??= new Promise<void>((resolve) => srv.close(() => resolve()));
        return stopped;
      },
    };
  },
};
