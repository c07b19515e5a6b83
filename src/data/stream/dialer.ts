/**
 * Dialers: how the dial stage opens a backend connection. Plain TCP here; a TLS dialer
 * (backends_tls) implements the same interface (readyEvent 'secureConnect'). The pipeline picks
 * one per server when it starts (./pipeline.ts).
 */
import net, { type OnReadOpts, type Socket } from 'node:net';
import type { SnapshotBackend } from '../../core/snapshot.js';
import type { StreamConn } from './conn.js';
import { RawSocket, rawSocketsUnavailable } from './raw-socket.js';

export interface Dialer {
  /** The event the socket emits once bytes may flow ('connect'; 'secureConnect' for TLS). */
  readonly readyEvent: string;
  /**
   * Starts connecting to `b`; backend reads must go through `onread`. May throw synchronously
   * (invalid address): the dial stage counts that as refused. `conn` is null for a pre-warmed
   * connection (./prewarm.ts), opened before any client arrives.
   */
  dial(b: SnapshotBackend, onread: OnReadOpts, conn: StreamConn | null): Socket;
}

/** TCP keep-alive as Go sets it on dialed and accepted sockets (15 s). */
export const KEEPALIVE_MS = 15_000;

/**
 * Opens the TCP connection to `b` with the socket options every dialer uses (half-open, no
 * delay, Go's keep-alive); reads go through `onread` when given (a plain backend socket).
 */
export function connectBackend(b: SnapshotBackend, onread?: OnReadOpts): Socket {
  return net.connect({
    host: b.dialHost,
    port: b.dialPort,
    allowHalfOpen: true,
    noDelay: true,
    keepAlive: true,
    keepAliveInitialDelay: KEEPALIVE_MS,
    onread,
  });
}

let fallbackLogged = false;

/**
 * Plain TCP: IP-literal backends get a RawSocket (./raw-socket.ts: no net.Socket per connection)
 * when the internal bindings are there; host names (DNS) and other Nodes get net.connect.
 */
export const plainDialer: Dialer = {
  readyEvent: 'connect',
  dial(b: SnapshotBackend, onread: OnReadOpts, conn: StreamConn | null): Socket {
    const why = rawSocketsUnavailable();
    if (why === null) {
      const port = b.dialPort;
      const family = b.dialFamily;
      if (port > 0 && port < 65536 && family !== 0) {
        return RawSocket.connect(b.dialHost, port, onread, KEEPALIVE_MS / 1000, family) as unknown as Socket;
      }
    } else if (!fallbackLogged && conn !== null) {
      // Said once, by the first client dial (a pre-warmed dial has no connection to log through).
      fallbackLogged = true;
      conn.rt.log.info(`raw sockets not used (${why}): net.Socket for clients and backends`);
    }
    return connectBackend(b, onread);
  },
};
