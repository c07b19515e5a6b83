/**
 * The `[metrics]` listener: plain HTTP, no auth, `GET /metrics` only (Q-24 fixed: no debug
 * endpoints here). A listen failure is logged and the process goes on, as in GoBetween.
 * Like Go's promhttp handler, it also exposes `promhttp_metric_handler_requests_total{code}` and
 * `promhttp_metric_handler_requests_in_flight` for its own scrapes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { nodeHttp } from '../core/builtin.js';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, type Registry } from 'prom-client';
import { errorMessage } from '../core/errors.js';
import { METRICS_LIMITS, applyHttpLimits, finishUnreadBody, httpServerOptions, type HttpLimits } from '../core/http-limits.js';
import { closeServer, listenOn, resolveBind } from '../core/listen.js';
import type { Logger } from '../core/log.js';

export interface MetricsServerOptions {
  /** `[metrics] bind`; '' listens on port 80 (Go semantics). */
  readonly bind: string;
  readonly registry: Registry;
  readonly log: Logger;
  /** Header/keep-alive timeouts and the connection cap; {@link METRICS_LIMITS} by default. */
  readonly limits?: HttpLimits;
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

interface HandlerMetrics {
  readonly requests: Counter<'code'>;
  readonly inFlight: Gauge;
}

/** The handler's own metrics, registered once per registry. */
function handlerMetrics(registry: Registry): HandlerMetrics {
  const requestsName = 'promhttp_metric_handler_requests_total';
  const inFlightName = 'promhttp_metric_handler_requests_in_flight';
  const requests =
    (registry.getSingleMetric(requestsName) as Counter<'code'> | undefined) ??
    new Counter({ name: requestsName, help: 'Total number of scrapes by HTTP status code.', labelNames: ['code'], registers: [registry] });
  const inFlight =
    (registry.getSingleMetric(inFlightName) as Gauge | undefined) ??
    new Gauge({ name: inFlightName, help: 'Current number of scrapes being served.', registers: [registry] });
  return { requests, inFlight };
}

async function handle(
  registry: Registry,
  own: HandlerMetrics,
  req: IncomingMessage,
  res: ServerResponse,
  log: Logger,
): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
    notFound(res);
    return;
  }
  own.inFlight.inc();
  try {
    const body = await registry.metrics();
    own.requests.inc({ code: '200' });
    res.writeHead(200, { 'Content-Type': registry.contentType, 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    own.requests.inc({ code: '500' });
    log.error({ err }, 'Failed to collect metrics');
    if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('An error has occurred while serving metrics\n');
  } finally {
    own.inFlight.dec();
  }
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const { log, registry } = opts;
  const own = handlerMetrics(registry);
  const limits = opts.limits ?? METRICS_LIMITS;
  const server = nodeHttp().createServer(httpServerOptions(limits), (req, res) => {
    finishUnreadBody(req, res);
    handle(registry, own, req, res, log).catch((err: unknown) => {
      log.error({ err }, 'metrics handler failed');
      res.destroy();
    });
  });
  applyHttpLimits(server, limits);
  let bound: AddressInfo | undefined;
  try {
    bound = await listenOn(server, await resolveBind(opts.bind, { defaultPort: 80 }));
    log.info(`Starting up Metrics server ${opts.bind}`);
    server.on('error', (err) => log.error({ err }, 'metrics listener error'));
  } catch (err) {
    log.error(`metrics.bind: Failed to listen and serve prometeus metrics endpoint: ${errorMessage(err)}`);
  }
  return {
    close: () => closeServer(server),
    address: () => bound,
  };
}
