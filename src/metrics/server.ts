/**
 * The `[metrics]` listener: plain HTTP, no auth, `GET /metrics` only (Q-24 fixed: no debug
 * endpoints here). A listen failure is logged and the process goes on, as in GoBetween.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { closeServer, listenErrorText, listenOn, parseBind } from '../api/listen.js';
import type { Logger } from '../core/log.js';

export interface MetricsServerOptions {
  /** `[metrics] bind`; '' listens on port 80 (Go semantics). */
  readonly bind: string;
  readonly registry: Registry;
  readonly log: Logger;
}

export interface MetricsServer {
  close(): Promise<void>;
  /** undefined when the listener could not be opened. */
  address(): AddressInfo | undefined;
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end('404 page not found\n');
}

async function handle(registry: Registry, req: IncomingMessage, res: ServerResponse, log: Logger): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
    notFound(res);
    return;
  }
  try {
    const body = await registry.metrics();
    res.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    log.error({ err }, 'Failed to collect metrics');
    if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('An error has occurred while serving metrics\n');
  }
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const { log, registry } = opts;
  const server = createServer((req, res) => {
    handle(registry, req, res, log).catch((err: unknown) => {
      log.error({ err }, 'metrics handler failed');
      res.destroy();
    });
  });
  let bound: AddressInfo | undefined;
  try {
    bound = await listenOn(server, parseBind(opts.bind, 80));
    log.info(`Starting up Metrics server ${opts.bind}`);
    server.on('error', (err) => log.error({ err }, 'metrics listener error'));
  } catch (err) {
    log.error(`Failed to listen and serve prometeus metrics endpoint: ${listenErrorText(opts.bind, err)}`);
  }
  return {
    close: () => closeServer(server),
    address: () => bound,
  };
}
