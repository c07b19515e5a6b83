/** Harness for the TLS / SNI / PROXY integration tests: tsbetween in-process with a log capture. */
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import pino from 'pino';
import { startApp, type App } from '../../../src/app.js';
import { decodeConfig } from '../../../src/config/decode.js';
import { freePort } from '../../helpers/cli.js';

export interface Tsb {
  app: App;
  ports: Record<string, number>;
  logs: string[];
  close(): Promise<void>;
}

/** Starts tsbetween with `servers` (JSON config objects without `bind`), each on a free port. */
export async function startTsb(servers: Record<string, Record<string, unknown>>, bindHost = '127.0.0.1'): Promise<Tsb> {
  const ports: Record<string, number> = {};
  const conf: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(servers)) {
    const port = await freePort();
    ports[name] = port;
    conf[name] = { bind: `${bindHost}:${port}`, ...s };
  }
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  const app = await startApp({
    config: decodeConfig(JSON.stringify({ servers: conf }), 'json').config,
    source: { kind: 'file', path: 'test.json' },
    log,
    version: '0.8.2',
    startTime: new Date(),
  });
  return { app, ports, logs, close: () => app.close(0) };
}

/** Runs `fn` against tsbetween started with `servers` (see `startTsb`), closing it afterwards. */
export async function withTsb(servers: Record<string, Record<string, unknown>>, fn: (tsb: Tsb) => Promise<void>): Promise<void> {
  const tsb = await startTsb(servers);
  try {
    await fn(tsb);
  } finally {
    await tsb.close();
  }
}

/** Listens on a free 127.0.0.1 port, tracked for `peer.close` (its port and close filled in). */
async function listenPeer<P extends Peer>(server: net.Server, peer: P): Promise<P> {
  const t = track(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  peer.port = (server.address() as net.AddressInfo).port;
  peer.close = t.close.bind(t);
  return peer;
}

export function staticList(list: string[]): Record<string, unknown> {
  return { kind: 'static', static_list: list };
}

interface Peer {
  port: number;
  /** Connections seen. */
  count: number;
  close(): Promise<void>;
}

function track(server: net.Server): { sockets: Set<net.Socket>; close(): Promise<void> } {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  return {
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * Whether a backend has the whole first message: some payload after any PROXY header (a v1
 * line ends with CRLF; a v2 header carries its length).
 */
export function payloadArrived(b: Buffer): boolean {
  if (b.length >= 16 && b.subarray(0, 12).equals(Buffer.from('0d0a0d0a000d0a515549540a', 'hex'))) return b.length > 16 + b.readUInt16BE(14);
  if (b.subarray(0, 6).toString('latin1') === 'PROXY ') {
    const lf = b.indexOf('\r\n');
    return lf >= 0 && b.length > lf + 2;
  }
  return b.length > 0;
}

/** A plain TCP backend answering the first message with `reply(bytes, socket)` and closing. */
export async function plainBackend(reply: (chunk: Buffer, s: net.Socket) => string, complete = payloadArrived): Promise<Peer & { received: Buffer[] }> {
  const received: Buffer[] = [];
  const peer = { port: 0, count: 0, received, close: async () => {} };
  const server = net.createServer((s) => {
    peer.count++;
    let acc = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      acc = Buffer.concat([acc, d]);
      if (!complete(acc)) return;
      s.removeListener('data', onData);
      received.push(acc);
      s.end(reply(acc, s));
    };
    s.on('data', onData);
  });
  return listenPeer(server, peer);
}

/** A TLS backend answering `<id>` to the first chunk, recording the SNI it was asked for. */
export async function tlsBackend(id: string, opts: tls.TlsOptions): Promise<Peer & { names: Array<string | false | null> }> {
  const names: Array<string | false | null> = [];
  const peer = { port: 0, count: 0, names, close: async () => {} };
  const server = tls.createServer(opts, (s) => {
    peer.count++;
    names.push(s.servername);
    s.on('error', () => {});
    s.once('data', () => s.end(id));
  });
  server.on('tlsClientError', () => {});
  return listenPeer(server, peer);
}

/** A TLS client: handshake (SNI `servername`), write `msg`, resolve with the reply ('' if closed). */
export function tlsRequest(port: number, opts: tls.ConnectionOptions & { localAddress?: string }, msg = 'hi', ms = 10000): Promise<{ reply: string; error?: string }> {
  return new Promise((resolve) => {
    let reply = '';
    const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts });
    const timer = setTimeout(() => done('timeout'), ms);
    function done(error?: string): void {
      clearTimeout(timer);
      c.destroy();
      resolve(error === undefined ? { reply } : { reply, error });
    }
    c.on('secureConnect', () => c.write(msg));
    c.on('data', (d: Buffer) => {
      reply += d.toString();
    });
    c.on('end', () => done());
    c.on('close', () => done());
    c.on('error', (e: Error) => done(e.message));
  });
}

/** Plain TCP client from `localAddress`: writes `msg`, resolves with everything read until close. */
export function tcpRequest(port: number, msg: string | Buffer, localAddress?: string, ms = 10000): Promise<string> {
  return new Promise((resolve) => {
    let reply = '';
    const o: net.NetConnectOpts = { host: '127.0.0.1', port };
    if (localAddress !== undefined) o.localAddress = localAddress;
    const c = net.connect(o);
    const timer = setTimeout(() => c.destroy(), ms);
    c.on('connect', () => c.write(msg));
    c.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
    });
    c.on('error', () => {});
    c.on('close', () => {
      clearTimeout(timer);
      resolve(reply);
    });
  });
}
