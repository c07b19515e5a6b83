/**
 * Limits for the control plane's own HTTP listeners (REST API, metrics): slow or idle clients are
 * cut off by their own timeouts rather than Node's defaults (a silent connection stayed open for
 * minutes), and a connection cap keeps them from eating the file descriptors the proxy needs.
 * Bodies a handler did not read (a 401, a 404, a 413) are never drained: the connection is
 * closed after the response.
 */
import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';

export interface HttpLimits {
  /** Whole request head must arrive within this. */
  readonly headersTimeoutMs: number;
  /** Whole request (head and body) must arrive within this. */
  readonly requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** A connection with no traffic at all (not even a request head) is closed after this. */
  readonly idleTimeoutMs: number;
  /** Connections beyond this many are closed at accept. */
  readonly maxConnections: number;
  /** How often Node checks the header/request timeouts. */
  readonly checkIntervalMs: number;
}

export const API_LIMITS: HttpLimits = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  maxConnections: 256,
  checkIntervalMs: 1_000,
});

export const METRICS_LIMITS: HttpLimits = Object.freeze({ ...API_LIMITS, maxConnections: 64 });

/** Options for `http.createServer` / `https.createServer` carrying the limits. */
export function httpServerOptions(limits: HttpLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: limits.checkIntervalMs,
  };
}

/** Applies the limits to a created server (also those createServer options cannot carry). */
export function applyHttpLimits(server: Server, limits: HttpLimits): void {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  server.setTimeout(limits.idleTimeoutMs, (socket) => socket.destroy());
}

/** How long a connection whose body was not read may linger after the response (the peer reads it). */
const LINGER_MS = 1_000;

/**
 * Call at the start of every request: when the response ends before the request body was read
 * in full, the response says `Connection: close`, the socket stops reading (the peer's writes
 * block on TCP backpressure instead of being received and thrown away) and is closed shortly
 * after, once the peer had the time to read the response.
 */
export function finishUnreadBody(req: IncomingMessage, res: ServerResponse): void {
  // A request without a body (most GETs) is not `complete` yet when the handler runs: only a
  // declared body counts.
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (!hasBody) return;
  const writeHead = res.writeHead.bind(res) as (...args: Parameters<ServerResponse['writeHead']>) => ServerResponse;
  res.writeHead = ((...args: Parameters<ServerResponse['writeHead']>) => {
    if (!req.complete) res.shouldKeepAlive = false;
    return writeHead(...args);
  }) as ServerResponse['writeHead'];
  res.once('finish', () => {
    if (req.complete) return;
    const socket = req.socket;
    socket.pause();
    // Node's server resumes the request to drain it; stop that too.
    req.pause();
    req.removeAllListeners('data');
    socket.end();
    const t = setTimeout(() => socket.destroy(), LINGER_MS);
    t.unref();
    socket.once('close', () => clearTimeout(t));
  });
}
