/** Small TLS peers for the tests: a handshake through a ServerTls context, a TLS backend. */
import net from 'node:net';
import tls from 'node:tls';

/** A plain TCP server wrapping each connection with `context()` (as the tls listener does). */
export async function tlsTerminator(context: () => tls.SecureContext): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    const t = new tls.TLSSocket(raw, { isServer: true, secureContext: context() });
    t.on('error', () => raw.destroy());
    t.on('secure', () => t.end('hello'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export interface Handshake {
  ok: boolean;
  error?: string;
  protocol?: string | null;
  cipher?: string;
  reused?: boolean;
  session?: Buffer;
  subjectCn?: string;
}

/** One client handshake; resolves with what was negotiated (never rejects). */
export function handshake(port: number, opts: tls.ConnectionOptions = {}, timeoutMs = 10000): Promise<Handshake> {
  return new Promise((resolve) => {
    let session: Buffer | undefined;
    const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts });
    const done = (h: Handshake): void => {
      clearTimeout(timer);
      c.destroy();
      resolve(h);
    };
    const timer = setTimeout(() => done({ ok: false, error: 'timeout' }), timeoutMs);
    c.on('session', (s: Buffer) => {
      session = s;
    });
    c.on('secureConnect', () => {
      const cert = c.getPeerCertificate();
      const info: Handshake = { ok: true, protocol: c.getProtocol(), cipher: c.getCipher().name, reused: c.isSessionReused() };
      if (typeof cert.subject?.CN === 'string') info.subjectCn = cert.subject.CN;
      // TLS 1.3 tickets arrive after the handshake: wait for the data (and the ticket) first.
      c.on('data', () => {});
      c.on('end', () => done(session === undefined ? info : { ...info, session }));
    });
    c.on('error', (err) => done({ ok: false, error: err.message }));
  });
}

/** Polls `fn` until it returns true or `ms` passes. */
export async function waitFor(fn: () => boolean | Promise<boolean>, ms = 10000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
