/**
 * Stage "peek" (`[servers.X.sni]` on a server that does not terminate TLS, data-plane §5.2 with
 * fix D4): read the client's ClientHello — over as many segments and records as it takes, up to
 * 16 KiB, within `read_timeout` — to route on its server name, then hand every byte back so the
 * backend sees the stream untouched (TLS passthrough).
 *
 * As GoBetween: a plain-text or malformed first flight routes with an empty name; nothing at all
 * within `read_timeout` closes the connection. (A partial ClientHello at the deadline routes with
 * an empty name, as GoBetween's single read would have.) Runs after access (fix D5).
 */
import type { ServerPlan } from '../../core/plan.js';
import { peekClientHello, type ClientHelloResult } from '../protocol/client-hello.js';
import type { StreamConn } from './conn.js';
import { readPrefix, type PrefixJudge } from './prefix.js';
import { advance, type Stage } from './stage.js';

type Verdict = Exclude<ClientHelloResult, { kind: 'more' }>;

const judge: PrefixJudge<Verdict> = {
  judge(bytes: Buffer): Verdict | undefined {
    const r = peekClientHello(bytes);
    return r.kind === 'more' ? undefined : r;
  },
  decided(conn: StreamConn, r: Verdict, bytes: Buffer): void {
    conn.sni = r.kind === 'done' ? r.hostname : '';
    const log = conn.rt.log;
    if (r.kind === 'error' && log.isLevelEnabled('debug')) log.debug(`ClientHello from ${conn.clientIp}: ${r.reason}`);
    conn.client.unshift(bytes);
    advance(conn);
  },
  timedOut(conn: StreamConn, bytes: Buffer): void {
    if (bytes.length === 0) {
      const log = conn.rt.log;
      if (log.isLevelEnabled('debug')) log.debug(`Failed to get / parse ClientHello for sni from ${conn.clientIp}: timeout`);
      conn.fail();
      return;
    }
    conn.sni = '';
    conn.client.unshift(bytes);
    advance(conn);
  },
};

/** Registered in ./pipeline.ts (OPTIONAL_STAGES). */
export const peekStage = {
  kind: 'peek',
  slot: 'peek' as const,
  create(plan: ServerPlan): Stage | null {
    // On a terminating server the name comes from the handshake (terminate.ts).
    if (plan.sni === undefined || plan.tls !== undefined) return null;
    const timeoutMs = plan.sni.readTimeoutMs > 0 ? plan.sni.readTimeoutMs : 2000;
    return {
      name: 'peek',
      readsClient: true,
      run(conn: StreamConn): boolean {
        readPrefix(conn, timeoutMs, judge);
        return false;
      },
    };
  },
};
