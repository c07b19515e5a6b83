/**
 * A minimal TLS listener for the AcmeManager tests (the real one is the terminate stage,
 * src/data/stream/terminate.ts, which does the same): what a TLS listener does with a new client
 * when ACME is on: peek at the ClientHello; a
 * tls-alpn-01 validation (ALPN exactly `acme-tls/1`) for a host whose challenge is running is
 * answered here with the challenge certificate and closed; every other client is handed to the
 * listener's `tls.Server` (whose `SNICallback` is `AcmeManager.sniCallback()`), with the peeked
 * bytes put back.
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext, type Server as TlsServer } from 'node:tls';
import { isAcmeAlpnHello, parseClientHello, type ClientHelloInfo } from '../../src/data/protocol/client-hello-alpn.js';
import type { AcmeManager } from '../../src/acme/manager.js';

export interface Peeked {
  /** undefined when the bytes are not a ClientHello (or it did not arrive in time). */
  readonly hello: ClientHelloInfo | undefined;
}

/**
 * Reads from `socket` until the ClientHello is complete, is not one, or `timeoutMs` passes; the
 * bytes read are unshifted back, so the socket can be handed on unchanged (paused).
 */
export function peekClientHello(socket: Socket, timeoutMs: number): Promise<Peeked> {
  return new Promise((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    const finish = (hello: ClientHelloInfo | undefined): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
      socket.pause();
      if (buf.length > 0) socket.unshift(buf);
      resolve({ hello });
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const r = parseClientHello(buf);
      if (r.kind === 'done') finish(r.hello);
      else if (r.kind === 'error') finish(undefined);
    };
    const onEnd = (): void => finish(undefined);
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    timer.unref();
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onEnd);
  });
}

/** Completes a tls-alpn-01 validation handshake with the challenge context, then closes. */
export function answerAlpnChallenge(socket: Socket, context: SecureContext): void {
  const tls = new TLSSocket(socket, { isServer: true, secureContext: context, ALPNProtocols: ['acme-tls/1'] });
  const done = (): void => {
    tls.destroy();
    socket.destroy();
  };
  const timer = setTimeout(done, 10_000);
  timer.unref();
  tls.once('secure', () => {
    clearTimeout(timer);
    tls.end();
  });
  tls.once('error', () => {
    clearTimeout(timer);
    done();
  });
  tls.once('close', () => clearTimeout(timer));
}

/**
 * Hands a freshly accepted client to `server`, answering tls-alpn-01 validations first. The
 * listener's data path (access checks, SNI routing) takes over from `server`'s events.
 */
export async function acceptWithAcme(socket: Socket, acme: AcmeManager, server: TlsServer, peekTimeoutMs = 5000): Promise<void> {
  const { hello } = await peekClientHello(socket, peekTimeoutMs);
  if (socket.destroyed) return;
  if (hello !== undefined && isAcmeAlpnHello(hello)) {
    const ctx = acme.alpnChallengeContext(hello.servername);
    if (ctx !== undefined) {
      answerAlpnChallenge(socket, ctx);
      return;
    }
  }
  server.emit('connection', socket);
}
