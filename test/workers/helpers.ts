/** Helpers for the worker-thread tests: an app with N workers, echo backends, clients, polling. */
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startApp, type App } from '../../src/app.js';
import { decodeConfig } from '../../src/config/decode.js';
import { reusePortSupported } from '../../src/workers/reuse-port.js';
import { ThreadedDataPlane } from '../../src/workers/primary.js';

/** Why the multi-thread tests cannot run here, or null when they can. */
export async function threadsUnavailable(): Promise<string | null> {
  if (!(await reusePortSupported())) {
    return `Node ${process.version} has no reusePort: --workers falls back to one worker in the main thread`;
  }
  return null;
}

export class Handles {
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly apps: App[] = [];

  track(s: Socket): Socket {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
    return s;
  }

  server(s: Server): void {
    this.servers.push(s);
  }

  app(a: App): App {
    this.apps.push(a);
    return a;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.apps.splice(0).map((a) => a.close(0)));
    await Promise.all(this.servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** An echo backend on 127.0.0.1:0 that counts the connections it has open. */
export async function echoBackend(h: Handles): Promise<{ port: number; open: () => number }> {
  let open = 0;
  const srv = net.createServer({ allowHalfOpen: true }, (s) => {
    open++;
    h.track(s);
    s.on('error', () => undefined);
    s.once('close', () => { open--; });
    s.pipe(s);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  h.server(srv);
  return { port: (srv.address() as AddressInfo).port, open: () => open };
}

export interface WorkersApp {
  readonly app: App;
  readonly port: number;
  readonly apiPort: number;
  readonly metricsPort: number;
  readonly threaded: ThreadedDataPlane | null;
  readonly logs: () => string;
}

/** A free TCP port on 127.0.0.1 (listen on 0, close). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/**
 * Starts the app with `workers` data-plane workers and one server `web` (the given sections
 * merged in), the API and metrics on port 0, logging at info into memory. `reloaded`: what
 * `app.reload()` reads for `web` then (the same bind).
 */
export async function startWorkersApp(
  h: Handles, workers: number, server: Record<string, unknown>, reloaded?: () => Record<string, unknown>,
): Promise<WorkersApp> {
  const port = await freePort();
  const textOf = (section: Record<string, unknown>): string => JSON.stringify({
    api: { enabled: true, bind: '127.0.0.1:0' },
    metrics: { enabled: true, bind: '127.0.0.1:0' },
    servers: { web: { bind: `127.0.0.1:${port}`, protocol: 'tcp', ...section } },
  });
  const text = textOf(server);
  let logText = '';
  const sink = new Writable({ write(chunk: Buffer, _e, cb): void { logText += chunk.toString('utf8'); cb(); } });
  const app = h.app(await startApp({
    config: decodeConfig(text, 'json').config,
    source: { kind: 'file', path: 'workers-test.json' },
    log: pino({ level: 'info', base: null }, sink),
    version: '0.8.2',
    startTime: new Date(),
    workers,
    reportIntervalMs: 20,
    ...(reloaded === undefined ? {} : { loadConfig: () => Promise.resolve({ config: decodeConfig(textOf(reloaded()), 'json').config, warnings: [] }) }),
  }));
  const threaded = app.dataPlane instanceof ThreadedDataPlane ? app.dataPlane : null;
  return {
    app,
    port,
    apiPort: app.apiAddress?.port ?? 0,
    metricsPort: app.metricsAddress?.port ?? 0,
    threaded,
    logs: () => logText,
  };
}

/**
 * One proxied round trip: connect, send `payload`, read it back, close. Resolves 'ok' when the
 * echo came back whole, 'refused' when the balancer closed the connection first.
 */
export function roundTrip(h: Handles, port: number, payload: Buffer): Promise<'ok' | 'refused'> {
  return new Promise((resolve, reject) => {
    const s = h.track(net.connect({ port, host: '127.0.0.1' }));
    let got = 0;
    s.on('data', (b: Buffer) => {
      got += b.length;
      if (got >= payload.length) s.end();
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') return;
      reject(e);
    });
    s.once('close', () => resolve(got >= payload.length ? 'ok' : 'refused'));
    s.write(payload);
  });
}

/** A held client connection: resolves once the echo proved it reached a backend, or 'refused'. */
export function hold(h: Handles, port: number): Promise<Socket | 'refused'> {
  return new Promise((resolve) => {
    const s = h.track(net.connect({ port, host: '127.0.0.1' }));
    s.on('error', () => undefined);
    const onClose = (): void => resolve('refused');
    s.once('close', onClose);
    s.once('data', () => {
      s.off('close', onClose);
      resolve(s);
    });
    s.write('x');
  });
}

export async function runPool<T>(n: number, concurrency: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      out[i] = await job(i);
    }
  }));
  return out;
}

export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** `GET /servers/web/stats` as the worker tests read it. */
export interface StatsJson {
  active_connections: number;
  rx_total: number;
  tx_total: number;
  backends: { port: string; stats: { active_connections: number; total_connections: number; rx: number; tx: number; refused_connections: number } }[];
}

/** Server `web`'s stats from the REST API. */
export async function webStats(apiPort: number): Promise<StatsJson> {
  return JSON.parse(await getText(apiPort, '/servers/web/stats')) as StatsJson;
}

export function getText(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve(body));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** The value of one Prometheus sample line (`name{labels} value`), or undefined. */
export function metric(text: string, name: string, labels: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(labels)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}
