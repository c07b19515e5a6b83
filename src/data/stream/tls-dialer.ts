/**
 * The backend dialer for `[servers.X.backends_tls]` (data-plane §4): TCP connect, then a TLS
 * client session (../tls/backend-tls.ts) — ready on 'secureConnect', so the connect and the
 * handshake share `backend_connection_timeout`, and a failed handshake (wrong CA, name mismatch,
 * a client certificate refused) counts as a refused connection, as GoBetween does.
 *
 * With `[proxy_protocol]` the header is written on the TCP connection before the handshake
 * (fix D10: backends such as HAProxy's `accept-proxy ssl` expect PROXY, then TLS; GoBetween sent
 * it inside the TLS session).
 */
import type { OnReadOpts, Socket } from 'node:net';
import type { Logger } from '../../core/log.js';
import type { ServerPlan } from '../../core/plan.js';
import type { SnapshotBackend } from '../../core/snapshot.js';
import { BackendTls } from '../tls/backend-tls.js';
import type { StreamConn } from './conn.js';
import { connectBackend, type Dialer } from './dialer.js';
import { writeProxyHeader } from './write-proxy.js';

/** Registered in ./pipeline.ts (DIALERS). */
export const tlsDialer = {
  kind: 'tls',
  create(plan: ServerPlan, log: Logger): Dialer | null {
    const cfg = plan.backendsTls;
    if (cfg === undefined) return null;
    const bt = new BackendTls(cfg, `servers.${plan.name}.backends_tls`);
    const proxyVersion = plan.proxyProtocol?.version;
    return {
      readyEvent: 'secureConnect',
      dial(b: SnapshotBackend, onread: OnReadOpts, conn: StreamConn | null): Socket {
        const raw = connectBackend(b);
        if (proxyVersion !== undefined && conn !== null) {
          // Registered before the TLS session's own 'connect' listener: the header goes first.
          raw.once('connect', () => {
            if (!writeProxyHeader(proxyVersion, conn, raw)) {
              log.warn(`cannot write a PROXY header for ${conn.clientIp}:${conn.clientPort}`);
              raw.destroy(new Error('cannot encode the PROXY header'));
            }
          });
        }
        const t = bt.connect(raw, b);
        // TLS sockets take no `onread`: the same callback is fed from 'data' events.
        // eslint-disable-next-line @typescript-eslint/unbound-method -- called with the TLS socket as `this` below
        const callback = onread.callback;
        t.on('data', (chunk: Buffer) => {
          callback.call(t, chunk.length, chunk);
        });
        raw.on('error', (err: Error) => t.destroy(err));
        t.once('close', () => raw.destroy());
        return t;
      },
    };
  },
};
