/**
 * Stage "terminate" (`[servers.X.tls]`, on a `tls` server or a `tcp` server with a `tls`
 * section, data-plane §3): the TLS handshake with the server's context (../tls/server-context.ts),
 * completed — within a deadline — before the election and the backend connect (fix D7: a client
 * that fails the handshake never costs a backend connection). With `[sni]` the name the client
 * asked for routes the connection.
 *
 * From here on the connection's client socket is the TLS session (conn.client is replaced), so
 * forwarding, counters (plaintext bytes, as GoBetween counts them) and teardown work unchanged.
 * Handshake failures and timeouts are counted and logged at warn level, rate-limited, with the
 * peer address.
 *
 * With `tls.acme` (a section without certificate files while `[acme]` runs) the certificate comes
 * per handshake from the runtime's CertificateSource (`SNICallback`, with this server's options);
 * with the tls-alpn challenge the ClientHello is read first (./prefix.ts) so that a validation
 * offering only `acme-tls/1` is answered with the challenge certificate and closed.
 */
import type * as tls from 'node:tls';
import { nodeTls } from '../../core/builtin.js';
import type { Logger } from '../../core/log.js';
import type { ServerPlan } from '../../core/plan.js';
import { errorMessage } from '../../core/errors.js';
import { LogLimiter } from '../rate-limit.js';
import { ServerTls } from '../tls/server-context.js';
import { kConn, type StreamConn } from './conn.js';
import { onClientClose, onClientError } from './events.js';
import { advance, type Stage } from './stage.js';
import { readPrefix, type PrefixJudge } from './prefix.js';
import { isAcmeAlpnHello, parseClientHello, type ClientHelloInfo } from '../protocol/client-hello-alpn.js';
import type { SniCallback } from '../../core/cert-source.js';

/** Handshake deadline when no client idle timeout is set (a shorter client_idle_timeout wins). */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

interface Terminator {
  readonly st: ServerTls;
  /** ACME: the certificate source's callback for this server, made on the first connection. */
  sni: SniCallback | undefined;
  readonly useSni: boolean;
  readonly timeoutMs: number;
  readonly limiter: LogLimiter;
  failures: number;
}

const kTerm = Symbol('tsbetween.terminate');
interface TermSocket extends tls.TLSSocket {
  [kConn]: StreamConn;
  [kTerm]: Terminator;
}

function handshakeFailed(conn: StreamConn, t: Terminator, why: string): void {
  t.failures++;
  if (t.limiter.take() >= 0) {
    const raw = conn.client;
    conn.rt.log.warn(`TLS handshake with ${raw.remoteAddress ?? '?'}:${raw.remotePort ?? 0} failed: ${why} (${t.failures} handshake failures so far)`);
  }
  conn.fail();
}

function onHandshakeError(this: TermSocket, err: Error): void {
  const conn = this[kConn];
  if (conn.failed) return;
  if (conn.timer !== null) {
    clearTimeout(conn.timer);
    conn.timer = null;
  }
  handshakeFailed(conn, this[kTerm], errorMessage(err));
}

function onHandshakeTimeout(conn: StreamConn, t: Terminator): void {
  conn.timer = null;
  if (conn.failed) return;
  handshakeFailed(conn, t, `no handshake within ${t.timeoutMs} ms`);
}

function onSecure(this: TermSocket): void {
  const conn = this[kConn];
  if (conn.failed) return;
  const t = this[kTerm];
  if (conn.timer !== null) {
    clearTimeout(conn.timer);
    conn.timer = null;
  }
  this.removeListener('error', onHandshakeError);
  this.on('error', onClientError);
  if (t.useSni) {
    const name = this.servername;
    conn.sni = typeof name === 'string' ? name : '';
  }
  advance(conn);
}

/** Registered in ./pipeline.ts (OPTIONAL_STAGES). */
export const terminateStage = {
  kind: 'terminate',
  slot: 'terminate' as const,
  create(plan: ServerPlan, log: Logger): Stage | null {
    const cfg = plan.tls;
    if (cfg === undefined) return null;
    const path = `servers.${plan.name}.tls`;
    const st = new ServerTls(cfg, path, {
      onReloaded: () => log.info(`server ${plan.name}: reloaded the TLS certificate ${cfg.cert_path}`),
      onReloadFailed: (m) => log.warn(`server ${plan.name}: TLS certificate not reloaded, keeping the previous one: ${m}`),
    });
    st.watch();
    const idle = plan.clientIdleTimeoutMs;
    const t: Terminator = {
      st,
      useSni: plan.sni !== undefined,
      timeoutMs: idle > 0 && idle < HANDSHAKE_TIMEOUT_MS ? idle : HANDSHAKE_TIMEOUT_MS,
      limiter: new LogLimiter(),
      failures: 0,
      sni: undefined,
    };
    const acme = cfg.acme === true;
    const judge = acme ? alpnJudge(t) : undefined;
    return {
      name: 'terminate',
      readsClient: true,
      run(conn: StreamConn): boolean {
        if (acme) {
          const src = conn.rt.certificates;
          if (src === undefined) {
            conn.fail();
            return false;
          }
          t.sni ??= src.sniCallback(st.base, st.prepare);
          // tls-alpn-01 validations arrive here: look at the offered protocols first.
          if (src.answersOnTls && judge !== undefined) {
            readPrefix(conn, t.timeoutMs, judge);
            return false;
          }
        }
        handshake(conn, t);
        return false;
      },
      close(): void {
        st.close();
      },
    };
  },
};

/** Starts the TLS handshake on the connection's client socket. */
function handshake(conn: StreamConn, t: Terminator): void {
  const raw = conn.client;
  const st = t.st;
  const options: tls.TLSSocketOptions = { isServer: true, secureContext: st.context };
  if (t.sni !== undefined) options.SNICallback = t.sni;
  const s = new (nodeTls().TLSSocket)(raw, options) as TermSocket;
  s[kConn] = conn;
  s[kTerm] = t;
  conn.client = s;
  s.on('error', onHandshakeError);
  s.on('close', onClientClose);
  s.once('secure', onSecure);
  conn.timer = setTimeout(onHandshakeTimeout, t.timeoutMs, conn, t);
  conn.timer.unref();
}

/**
 * ACME tls-alpn-01 (RFC 8737): a ClientHello offering only `acme-tls/1` for a host whose
 * validation runs gets the challenge certificate and is closed (never proxied); every other
 * client continues with the normal handshake, its bytes handed back.
 */
function alpnJudge(t: Terminator): PrefixJudge<ClientHelloInfo | null> {
  return {
    judge(bytes: Buffer): ClientHelloInfo | null | undefined {
      const r = parseClientHello(bytes);
      return r.kind === 'more' ? undefined : r.kind === 'done' ? r.hello : null;
    },
    decided(conn: StreamConn, hello: ClientHelloInfo | null, bytes: Buffer): void {
      conn.client.unshift(bytes);
      const ctx = hello !== null && isAcmeAlpnHello(hello) ? conn.rt.certificates?.alpnChallengeContext(hello.servername) : undefined;
      if (ctx === undefined) {
        handshake(conn, t);
        return;
      }
      const s = new (nodeTls().TLSSocket)(conn.client, { isServer: true, secureContext: ctx, ALPNProtocols: ['acme-tls/1'] });
      conn.timer = setTimeout(() => {
        conn.timer = null;
        s.destroy();
        conn.fail();
      }, t.timeoutMs);
      conn.timer.unref();
      s.once('secure', () => s.end());
      s.on('error', () => s.destroy());
      s.once('close', () => conn.fail());
    },
    timedOut(conn: StreamConn, bytes: Buffer): void {
      if (bytes.length === 0) {
        conn.fail();
        return;
      }
      conn.client.unshift(bytes);
      handshake(conn, t);
    },
  };
}
