/**
 * Stage "accept-proxy" (tsbetween only, `[servers.X.accept_proxy_protocol]`): the connection
 * comes from an upstream balancer and starts with a PROXY v1 or v2 header (auto-detected,
 * bounded: ../protocol/proxy-header.ts).
 *
 * - A peer outside `from` is closed at once; a connection without a valid header within
 *   `timeout` (or with a malformed one) is closed. Each case is counted and logged at warn level,
 *   rate-limited, with the peer address and the running count.
 * - A PROXY command sets the connection's client and local addresses (conn.proxied): access
 *   rules, the balancers, the PROXY header sent on and the logs use them from here on. LOCAL (an
 *   upstream's health check) and UNKNOWN keep the socket's own addresses.
 * - The bytes after the header are handed back to the socket: the client's stream is intact.
 *
 * Runs right after admission, before access (pipeline.ts).
 */
import type { Logger } from '../../core/log.js';
import type { ServerPlan } from '../../core/plan.js';
import { compileAccess } from '../access.js';
import { decodeProxyHeader, type ProxyDecodeResult } from '../protocol/proxy-header.js';
import { LogLimiter } from '../rate-limit.js';
import type { StreamConn } from './conn.js';
import { readPrefix, type PrefixJudge } from './prefix.js';
import { advance, type Stage } from './stage.js';

type Done = Exclude<ProxyDecodeResult, { kind: 'more' }>;

/** Counts and reports rejected connections of one server (rate-limited log). */
class Rejections {
  count = 0;
  private readonly limiter = new LogLimiter();
  constructor(private readonly server: string) {}
  reject(conn: StreamConn, log: Logger, peer: string, why: string): void {
    this.count++;
    const dropped = this.limiter.take();
    if (dropped >= 0) {
      log.warn(`server ${this.server}: closed ${peer}: ${why} (${this.count} PROXY header rejections so far)`);
    }
    conn.fail();
  }
}

function peerOf(conn: StreamConn): string {
  const c = conn.client;
  return `${c.remoteAddress ?? '?'}:${c.remotePort ?? 0}`;
}

/** Registered in ./pipeline.ts (OPTIONAL_STAGES). */
export const acceptProxyStage = {
  kind: 'accept-proxy',
  slot: 'accept-proxy' as const,
  create(plan: ServerPlan): Stage | null {
    const a = plan.acceptProxyProtocol;
    if (a === undefined) return null;
    const path = `servers.${plan.name}.accept_proxy_protocol.from`;
    const from = a.from.length === 0 ? null : compileAccess({ default: 'deny', rules: a.from.map((f) => `allow ${f}`) }, path);
    const rejections = new Rejections(plan.name);
    const timeoutMs = a.timeoutMs;
    const judge: PrefixJudge<Done> = {
      judge(bytes: Buffer): Done | undefined {
        const r = decodeProxyHeader(bytes);
        return r.kind === 'more' ? undefined : r;
      },
      decided(conn: StreamConn, r: Done, bytes: Buffer): void {
        if (r.kind === 'error') {
          rejections.reject(conn, conn.rt.log, peerOf(conn), r.reason);
          return;
        }
        const h = r.header;
        if (h.command === 'proxy') {
          conn.proxied = { srcIp: h.srcIp, srcPort: h.srcPort, dstIp: h.dstIp, dstPort: h.dstPort };
        }
        if (r.consumed < bytes.length) conn.client.unshift(bytes.subarray(r.consumed));
        advance(conn);
      },
      timedOut(conn: StreamConn, bytes: Buffer, ended: boolean): void {
        const why = bytes.length === 0 ? 'no PROXY protocol header' : 'incomplete PROXY protocol header';
        rejections.reject(conn, conn.rt.log, peerOf(conn), ended ? `${why} before end of stream` : `${why} within ${timeoutMs} ms`);
      },
    };
    return {
      name: 'accept-proxy',
      readsClient: true,
      run(conn: StreamConn): boolean {
        if (from !== null && !from.allows(conn.client.remoteAddress ?? '')) {
          rejections.reject(conn, conn.rt.log, peerOf(conn), 'not in accept_proxy_protocol.from');
          return false;
        }
        readPrefix(conn, timeoutMs, judge);
        return false;
      },
    };
  },
};
