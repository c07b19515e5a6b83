/**
 * Stage "write-proxy" (`[servers.X.proxy_protocol]`, data-plane §6): the PROXY header (v1 text,
 * or v2 binary — new) written to the backend right after connect, before any client byte
 * (replayed ClientHello bytes included). Source = the client (from an accepted PROXY header when
 * there was one), destination = the address the client connected to. Not counted in `tx`.
 * An address that cannot be encoded aborts the connection (fix D11; so does a write error, as
 * for any backend write). With `backends_tls` the TLS dialer writes the header instead, before
 * the handshake (./tls-dialer.ts).
 */
import type { Socket } from 'node:net';
import type { ServerPlan } from '../../core/plan.js';
import { encodeProxyHeader } from '../protocol/proxy-encode.js';
import type { StreamConn, TaggedSocket } from './conn.js';
import type { Stage } from './stage.js';

/** Writes the header on `socket`; false when the addresses cannot be encoded. */
export function writeProxyHeader(version: 1 | 2, conn: StreamConn, socket: Socket): boolean {
  const h = encodeProxyHeader(version, conn.clientIp, conn.clientPort, conn.localIp, conn.localPort);
  if (h === undefined) return false;
  socket.write(h);
  return true;
}

/** Registered in ./pipeline.ts (OPTIONAL_STAGES). */
export const writeProxyStage = {
  kind: 'write-proxy',
  slot: 'write-proxy' as const,
  create(plan: ServerPlan): Stage | null {
    const p = plan.proxyProtocol;
    if (p === undefined || plan.backendsTls !== undefined) return null;
    const version = p.version;
    return {
      name: 'write-proxy',
      run(conn: StreamConn): boolean {
        if (writeProxyHeader(version, conn, conn.upstream as TaggedSocket)) return true;
        conn.rt.log.warn(`cannot write a PROXY header for ${conn.clientIp}:${conn.clientPort} -> ${conn.localIp}:${conn.localPort}`);
        conn.fail();
        return false;
      },
    };
  },
};
