/** Shared helpers for the TCP data-path integration tests (loopback only, every handle tracked). */
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { backendSpec, type BackendSpec, type ServerCounters } from '../../src/core/backend.js';
import type { BackendPool } from '../../src/control/backend-pool.js';
import { TestProxy, type TestProxyOptions } from '../helpers/proxy.js';
export { waitFor } from '../helpers/wait.js';

/** Tracks servers and sockets created by a test so they can all be closed at the end. */
export class Handles {
  private readonly servers: Server[] = [];
  private readonly sockets: Socket[] = [];
  private readonly tcp: TestProxy[] = [];

  server(s: Server): Server {
    this.servers.push(s);
    s.on('connection', (c: Socket) => this.sockets.push(c));
    return s;
  }

  socket(s: Socket): Socket {
    this.sockets.push(s);
    return s;
  }

  tcpServer(s: TestProxy): TestProxy {
    this.tcp.push(s);
    return s;
  }

  async closeAll(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.tcp.map((t) => t.close()));
    await Promise.all(
      this.servers.map((s) => (s.listening ? new Promise<void>((r) => s.close(() => r())) : Promise.resolve())),
    );
  }
}

/** A backend server on 127.0.0.1:0 with allowHalfOpen; `handler` gets every connection. */
export async function startBackend(h: Handles, handler: (s: Socket) => void): Promise<Server & { port: number }> {
  const srv = h.server(net.createServer({ allowHalfOpen: true }, handler));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return Object.assign(srv, { port: (srv.address() as AddressInfo).port });
}

/** Echo backend: writes back what it reads, ends when the client ends. */
export function echoHandler(s: Socket): void {
  s.on('error', () => undefined);
  s.pipe(s);
}

/** A port on 127.0.0.1 where nothing listens. */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Setup {
  server: TestProxy;
  pool: BackendPool;
  counters: ServerCounters;
  port: number;
}

export async function startProxy(
  h: Handles,
  specs: BackendSpec[],
  opts: Partial<TestProxyOptions> = {},
): Promise<Setup> {
  const server = h.tcpServer(new TestProxy(opts));
  server.pool.setDiscovered(specs);
  await server.listen();
  return { server, pool: server.pool, counters: server.counters, port: server.address().port };
}

export function spec(port: number, extra?: Partial<BackendSpec>): BackendSpec {
  return backendSpec('127.0.0.1', String(port), extra);
}

/** Connects a client to 127.0.0.1:port (allowHalfOpen), resolved once connected. */
export async function connectClient(h: Handles, port: number, host = '127.0.0.1'): Promise<Socket> {
  const c = h.socket(net.connect({ host, port, allowHalfOpen: true }));
  c.on('error', () => undefined);
  await once(c, 'connect');
  return c;
}

/** Resolves when the peer closed the socket (FIN or RST seen); rejects after `ms`. */
export function closedWithin(s: Socket, ms: number): Promise<void> {
  if (s.readableEnded || s.closed) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`socket not closed within ${ms} ms`)), ms);
    const done = (): void => {
      clearTimeout(t);
      resolve();
    };
    s.once('end', done);
    s.once('close', done);
    s.resume();
  });
}


/** Reads everything until the peer's FIN (or close) into one Buffer. */
export function readAll(s: Socket): Promise<Buffer> {
  return new Promise<Buffer>((resolve) => {
    const parts: Buffer[] = [];
    const done = (): void => resolve(Buffer.concat(parts));
    s.on('data', (d: Buffer) => parts.push(d));
    s.once('end', done);
    s.once('close', done);
  });
}

/** Reads everything until FIN, slowly: pauses 5 ms after every chunk (backpressure on the proxy). */
export function slowReadAll(s: Socket): Promise<Buffer> {
  return new Promise<Buffer>((resolve) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => {
      parts.push(d);
      s.pause();
      setTimeout(() => s.resume(), 5).unref();
    });
    s.once('end', () => resolve(Buffer.concat(parts)));
  });
}

/** The `ss` binary (iproute2), or undefined after marking `t` skipped when it is not installed. */
export function ssOrSkip(t: TestContext): string | undefined {
  const ss = ['/usr/bin/ss', '/bin/ss', '/usr/sbin/ss', '/sbin/ss'].find((p) => existsSync(p));
  if (ss === undefined) t.skip('ss (iproute2) not installed');
  return ss;
}
