/**
 * GoBetween's REST API (control-plane §3) on node:http / node:https.
 *
 * Routes (anything else, or another method: 404 `404 page not found`):
 *   GET    /ping                  text/plain `OK`, never behind basic auth
 *   GET    /                      system info (configuration, pid, startTime, time, uptime, version)
 *   GET    /dump?format=toml|json the running config, text/plain
 *   GET    /servers               { name: server config } sorted by name, `{}` when none
 *   GET    /servers/:name         server config, or `null` (quirk Q-1)
 *   POST   /servers/:name         create; 200 `null` once the listener accepts
 *   DELETE /servers/:name         delete; 200 `null`, also for unknown names (quirk Q-2)
 *   GET    /servers/:name/stats   stats (§4), or `null` (quirk Q-1)
 * tsbetween-only:
 *   GET    /servers/:name/backends                 every backend with drain state, health, counters
 *   POST   /servers/:name/backends/:host:port/drain no new connections (open ones continue)
 *   POST   /servers/:name/backends/:host:port/ready back in rotation
 *   (unknown server/backend on these: 404 with a JSON string message; a cross-origin browser
 *   request to drain/ready is refused with 403 unless `cors` is on)
 *   GET    /dashboard             the live dashboard page (api/dashboard.ts)
 *   GET    /dashboard/state       what the page polls (JSON)
 *   POST   /reload                re-reads the config source: 200 with what changed, or 409 with
 *                                 the reason (nothing changed)
 *
 * A path with a trailing slash that matches a route without it is redirected (301 for GET, 307
 * otherwise). JSON is Go's MarshalIndent with 4 spaces, no trailing newline. Errors go through
 * the one table in errors.ts. Additions to GoBetween: a 1 MiB body cap (413), `Content-Type`
 * among the CORS allowed headers (Q-25), constant-time credential comparison.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { nodeHttp, nodeHttps } from '../core/builtin.js';
import type { AddressInfo } from 'node:net';
import { decodeServer } from '../config/decode.js';
import { redactSecrets, serverToJson } from '../config/dump.js';
import { compareGoStrings, goJson, goJsonString } from '../config/go-json.js';
import type { ApiWire, ConfigSource } from '../config/types.js';
import type { ServerManagerApi } from '../control/types.js';
import { formatDuration } from '../core/duration.js';
import { DecodeError, NotFoundError, StartError, errorMessage } from '../core/errors.js';
import { API_LIMITS, applyHttpLimits, finishUnreadBody, httpServerOptions, type HttpLimits } from '../core/http-limits.js';
import { logText } from '../core/text.js';
import type { Logger } from '../core/log.js';
import { BodyTooLargeError, ForbiddenError, UNKNOWN_SERVER, UnknownFormatError, errorReply } from './errors.js';
import { DASHBOARD_CSP, DASHBOARD_HTML, dashboardState } from './dashboard.js';
import { closeServer, listenOn, resolveBind } from '../core/listen.js';

/** Largest request body accepted (POST /servers/:name); larger bodies get 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface ApiInfo {
  readonly configuration: ConfigSource;
  /** Version without the leading `v`. */
  readonly version: string;
  /** Process start; fixed for the life of the process (the OpenSVC janitor watches it). */
  readonly startTime: Date;
}

export interface ApiOptions {
  readonly api: ApiWire;
  readonly manager: ServerManagerApi;
  readonly info: ApiInfo;
  /** The running config in `format` ('toml' | 'json'); only called with those two. */
  readonly dump: (format: string) => string;
  readonly log: Logger;
  /** Header/keep-alive timeouts and the connection cap; {@link API_LIMITS} by default. */
  readonly limits?: HttpLimits;
  /** Whether the dashboard offers its drain/ready buttons (default true: the API accepts writes). */
  readonly writable?: boolean;
  /** `POST /reload` (tsbetween-only): re-reads the config source; absent → 404 for the route. */
  readonly reload?: () => Promise<unknown>;
}

/** Reads a PEM file; a failure is a StartError naming the key, with Go's `open <path>: …` text. */
async function readPem(path: string, key: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : errorMessage(err);
    throw new StartError(`open ${path}: ${why}`, { cause: err, path: key });
  }
}

export interface ApiServer {
  close(): Promise<void>;
  address(): AddressInfo;
}

type RouteId =
  | 'info' | 'ping' | 'dump' | 'servers' | 'getServer' | 'postServer' | 'deleteServer' | 'stats'
  | 'backends' | 'drain' | 'ready' | 'dashboard' | 'dashboardState' | 'reload';

interface Match {
  readonly route: RouteId;
  /** `:name` of the /servers/:name routes ('' otherwise). */
  readonly name: string;
  /** `host:port` of the drain/ready routes ('' otherwise). */
  readonly key?: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

const FIXED_ROUTES: Readonly<Record<string, RouteId>> = {
  'GET /': 'info',
  'GET /ping': 'ping',
  'GET /dump': 'dump',
  'GET /servers': 'servers',
  'GET /dashboard': 'dashboard',
  'GET /dashboard/state': 'dashboardState',
  'POST /reload': 'reload',
};

const SERVER_ROUTES: Readonly<Record<string, RouteId>> = {
  GET: 'getServer',
  POST: 'postServer',
  DELETE: 'deleteServer',
};

/** The route of a decoded path for a method, or undefined (→ 404, or a trailing-slash redirect). */
function matchRoute(method: string, path: string): Match | undefined {
  const fixed = FIXED_ROUTES[`${method} ${path}`];
  if (fixed !== undefined) return { route: fixed, name: '' };
  const parts = path.split('/'); // ['', 'servers', name, ('stats')]
  const name = parts[2];
  if (parts[0] !== '' || parts[1] !== 'servers' || name === undefined || name === '') return undefined;
  if (parts.length === 3) {
    const route = SERVER_ROUTES[method];
    return route === undefined ? undefined : { route, name };
  }
  if (parts.length === 4 && parts[3] === 'stats' && method === 'GET') return { route: 'stats', name };
  if (parts.length === 4 && parts[3] === 'backends' && method === 'GET') return { route: 'backends', name };
  const key = parts[4];
  if (parts.length === 6 && parts[3] === 'backends' && key !== undefined && key !== '' && method === 'POST') {
    if (parts[5] === 'drain') return { route: 'drain', name, key };
    if (parts[5] === 'ready') return { route: 'ready', name, key };
  }
  return undefined;
}

/** Go's RFC3339Nano (`2006-01-02T15:04:05.999999999Z07:00`) in the local zone. */
export function rfc3339Nano(d: Date): string {
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const offsetMin = -d.getTimezoneOffset();
  const ms = d.getMilliseconds();
  const frac = ms === 0 ? '' : `.${pad(ms, 3).replace(/0+$/, '')}`;
  let zone = 'Z';
  if (offsetMin !== 0) {
    const abs = Math.abs(offsetMin);
    zone = `${offsetMin < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  }
  return `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${frac}${zone}`;
}

/** `configuration` of GET / with GoBetween's key order. */
function configurationJson(c: ConfigSource): Record<string, string> {
  switch (c.kind) {
    case 'file': return { kind: 'file', path: c.path };
    case 'url': return { kind: 'url', url: c.url };
    case 'consul': return { kind: 'consul', host: c.host, key: c.key };
  }
}

/** `Basic base64(login:password)` digest, compared in constant time. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Indents every line but the first by `prefix` (nesting a goJson document). */
function nest(json: string, prefix: string): string {
  return json.replace(/\n/g, `\n${prefix}`);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (Number.isFinite(declared) && declared > limit) {
      reject(new BodyTooLargeError(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (done) return;
      done = true;
      reject(err);
    });
    req.on('close', () => {
      if (done) return;
      done = true;
      reject(new Error('request body aborted'));
    });
  });
}

/** Parses a POST body as JSON; Go's decoder says `EOF` for an empty body. */
function parseJsonBody(body: Buffer): unknown {
  const text = body.toString('utf8');
  if (text.trim() === '') throw new DecodeError('', 'EOF');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new DecodeError('', `invalid JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

export async function startApi(opts: ApiOptions): Promise<ApiServer> {
  const { api, manager, info, log } = opts;
  const expectedAuth =
    api.basic_auth === null
      ? undefined
      : digest(`Basic ${Buffer.from(`${api.basic_auth.login}:${api.basic_auth.password}`).toString('base64')}`);

  function send(res: ServerResponse, status: number, type: string | undefined, body: string, extra?: Record<string, string>): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    const headers: Record<string, string | number> = { ...extra, 'Content-Length': Buffer.byteLength(body) };
    if (type !== undefined) headers['Content-Type'] = type;
    res.writeHead(status, headers);
    res.end(body);
  }

  function sendJson(res: ServerResponse, status: number, json: string): void {
    send(res, status, JSON_TYPE, json);
  }

  function notFound(res: ServerResponse): void {
    send(res, 404, 'text/plain', '404 page not found');
  }

  function authorized(req: IncomingMessage): boolean {
    if (expectedAuth === undefined) return true;
    const got = req.headers.authorization;
    if (got === undefined) return false;
    return timingSafeEqual(digest(got), expectedAuth);
  }

  /**
   * A browser request from another origin (CSRF: a page elsewhere could make a logged-in browser
   * drain a backend). Checked on the tsbetween-only write routes only, and only when CORS is off.
   */
  function crossOrigin(req: IncomingMessage): boolean {
    if (api.cors) return false;
    const origin = req.headers.origin;
    if (origin === undefined) return false;
    const host = req.headers.host ?? '';
    return origin !== `http://${host}` && origin !== `https://${host}`;
  }

  /** CORS (§3.2); returns true when the request was a preflight that has been answered. */
  function cors(req: IncomingMessage, res: ServerResponse): boolean {
    if (!api.cors) return false;
    const origin = req.headers.origin;
    if (origin === undefined) return false;
    const host = req.headers.host ?? '';
    if (origin === `http://${host}` || origin === `https://${host}`) return false;
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    if (req.method !== 'OPTIONS') return false;
    res.setHeader('Access-Control-Allow-Methods', 'PUT,POST,DELETE,GET,OPTIONS');
    // Q-25: Content-Type added to GoBetween's list so browser JSON POSTs pass preflight.
    res.setHeader('Access-Control-Allow-Headers', 'Origin,Authorization,Content-Type');
    res.setHeader('Access-Control-Max-Age', '43200');
    res.writeHead(204);
    res.end();
    return true;
  }

  function systemInfo(): string {
    const now = new Date();
    return goJson({
      configuration: configurationJson(info.configuration),
      pid: process.pid,
      startTime: rfc3339Nano(info.startTime),
      time: rfc3339Nano(now),
      uptime: formatDuration(now.getTime() - info.startTime.getTime()),
      version: info.version,
    });
  }

  function allServers(): string {
    const names = manager.names().slice().sort(compareGoStrings);
    const members: string[] = [];
    for (const name of names) {
      const view = manager.get(name);
      if (view === undefined) continue;
      members.push(`    ${goJsonString(name)}: ${nest(goJson(serverToJson(redactSecrets(view.config))), '    ')}`);
    }
    return members.length === 0 ? '{}' : `{\n${members.join(',\n')}\n}`;
  }

  async function route(req: IncomingMessage, res: ServerResponse, m: Match, query: URLSearchParams): Promise<void> {
    switch (m.route) {
      case 'ping':
        send(res, 200, TEXT_TYPE, 'OK');
        return;
      case 'info':
        sendJson(res, 200, systemInfo());
        return;
      case 'dump': {
        const format = query.get('format') ?? 'toml';
        if (format !== 'toml' && format !== 'json') throw new UnknownFormatError(format);
        send(res, 200, TEXT_TYPE, opts.dump(format));
        return;
      }
      case 'servers':
        sendJson(res, 200, allServers());
        return;
      case 'getServer': {
        const view = manager.get(m.name);
        if (view === undefined) sendJson(res, UNKNOWN_SERVER.status, UNKNOWN_SERVER.body);
        else sendJson(res, 200, goJson(serverToJson(redactSecrets(view.config))));
        return;
      }
      case 'stats': {
        const stats = manager.stats(m.name);
        if (stats === null) sendJson(res, UNKNOWN_SERVER.status, UNKNOWN_SERVER.body);
        else sendJson(res, 200, goJson(stats));
        return;
      }
      case 'backends': {
        const list = manager.backends(m.name);
        if (list === null) throw new NotFoundError(`Unknown server ${m.name}`);
        sendJson(res, 200, goJson(list));
        return;
      }
      case 'dashboard':
        send(res, 200, 'text/html; charset=utf-8', DASHBOARD_HTML, {
          'Content-Security-Policy': DASHBOARD_CSP,
          'X-Content-Type-Options': 'nosniff',
          'X-Frame-Options': 'DENY',
          'Referrer-Policy': 'no-referrer',
          'Cache-Control': 'no-store',
        });
        return;
      case 'dashboardState':
        send(res, 200, JSON_TYPE, JSON.stringify(dashboardState(manager, opts.writable ?? true)), { 'Cache-Control': 'no-store' });
        return;
      case 'reload': {
        if (opts.reload === undefined) {
          notFound(res);
          return;
        }
        if (crossOrigin(req)) throw new ForbiddenError('cross-origin request refused (enable [api] cors to allow it)');
        req.resume();
        sendJson(res, 200, goJson(await opts.reload()));
        return;
      }
      case 'drain':
      case 'ready':
        if (crossOrigin(req)) throw new ForbiddenError('cross-origin request refused (enable [api] cors to allow it)');
        sendJson(res, 200, goJson(manager.setDrain(m.name, m.key ?? '', m.route === 'drain')));
        return;
      case 'deleteServer':
        // Unknown names are ignored: 200 null either way (quirk Q-2).
        await manager.delete(m.name);
        sendJson(res, 200, 'null');
        return;
      case 'postServer': {
        const body = parseJsonBody(await readBody(req, MAX_BODY_BYTES));
        const decoded = decodeServer(body);
        for (const w of decoded.warnings) log.warn(`server ${logText(m.name)}: ${logText(w)}`);
        // Resolves once the listener accepts connections; throws ConfigError/StartError otherwise.
        await manager.create(m.name, decoded.server);
        sendJson(res, 200, 'null');
        return;
      }
    }
  }

  function fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    if (res.destroyed || req.socket.destroyed) {
      log.debug({ err }, 'API client went away');
      return;
    }
    const reply = errorReply(err);
    if (reply.unexpected) log.error({ err, method: req.method, url: req.url }, 'API request failed');
    else log.debug({ status: reply.status, message: reply.message }, 'API request refused');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (reply.status === 413) res.setHeader('Connection', 'close');
    sendJson(res, reply.status, goJsonString(reply.message));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    if (cors(req, res)) return;
    // The request target as sent: no dot-segment or `//` normalisation (gin routes the raw path).
    const q = rawUrl.indexOf('?');
    const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const search = q < 0 ? '' : rawUrl.slice(q);
    const query = new URLSearchParams(search);
    let path: string;
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      send(res, 400, TEXT_TYPE, '400 Bad Request');
      return;
    }
    const m = matchRoute(method, path);
    if (m === undefined) {
      if (path.length > 1 && path.endsWith('/') && matchRoute(method, path.slice(0, -1)) !== undefined) {
        const location = rawPath.slice(0, -1) + search;
        const status = method === 'GET' ? 301 : 307;
        const body = method === 'GET' ? `<a href="${location}">Moved Permanently</a>.\n\n` : '';
        send(res, status, method === 'GET' ? 'text/html; charset=utf-8' : undefined, body, { Location: location });
        return;
      }
      notFound(res);
      return;
    }
    // Credentials are checked on the headers alone: an unauthenticated body is never read.
    if (m.route !== 'ping' && !authorized(req)) {
      send(res, 401, undefined, '', { 'WWW-Authenticate': 'Basic realm="Authorization Required"' });
      return;
    }
    try {
      await route(req, res, m, query);
    } catch (err) {
      fail(req, res, err);
    }
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    // Whatever the answer (401, 404, 413, a redirect…), a body the handler did not read is not
    // drained: the connection is closed after the response.
    finishUnreadBody(req, res);
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'API handler failed');
      res.destroy();
    });
  };

  const limits = opts.limits ?? API_LIMITS;
  let server: Server;
  if (api.tls !== null) {
    const cert = await readPem(api.tls.cert_path, 'api.tls.cert_path');
    const key = await readPem(api.tls.key_path, 'api.tls.key_path');
    try {
      server = nodeHttps().createServer({ cert, key, ...httpServerOptions(limits) }, onRequest);
    } catch (err) {
      throw new StartError(errorMessage(err), { cause: err, path: 'api.tls' });
    }
  } else {
    server = nodeHttp().createServer(httpServerOptions(limits), onRequest);
  }
  applyHttpLimits(server, limits);
  server.on('clientError', (err, socket) => {
    log.debug({ err }, 'API client error');
    // Answer, then close for good: a peer that keeps sending must not hold the socket open.
    const timedOut = (err as NodeJS.ErrnoException).code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const status = timedOut ? '408 Request Timeout' : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`, () => socket.destroy());
    else socket.destroy();
  });

  log.info('Starting up API');
  // Rejects with a StartError carrying Go's text (`listen tcp 127.0.0.1:3001: bind: address already in use`).
  let bound: AddressInfo;
  try {
    bound = await listenOn(server, await resolveBind(api.bind, { defaultPort: api.tls !== null ? 443 : 80 }));
  } catch (err) {
    throw err instanceof StartError ? err.withPath('api.bind') : err;
  }
  server.on('error', (err) => log.error({ err }, 'API listener error'));
  log.info(`Starting ${api.tls !== null ? 'HTTPS' : 'HTTP'} server ${api.bind}`);

  return {
    close: () => closeServer(server),
    address: () => bound,
  };
}
