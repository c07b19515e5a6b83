/**
 * A small HTTP GET client for the HTTP-based kinds (json, plaintext, docker, consul, lxd) on
 * node:http/https, because they need what `fetch` lacks in Node 20 without extra packages:
 * unix sockets (`socketPath`) and TLS client certificates. No keep-alive (no lingering sockets),
 * redirects followed (json/plaintext, like Go's client), body size bounded, cancellable.
 */
import type * as http from 'node:http';
import type * as https from 'node:https';
import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import { nodeFsPromises, nodeHttp, nodeHttps, nodeTls } from '../core/builtin.js';
import { type ProxyEnv, type ProxyTarget, proxyFor } from './proxy-env.js';
import { abortReason } from './util.js';

export interface HttpTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** false: accept any server certificate. */
  readonly rejectUnauthorized: boolean;
}

export interface HttpRequestOptions {
  /** Absolute http(s) URL; with `socketPath` only the path and query matter. */
  readonly url: string;
  readonly method?: string;
  readonly signal: AbortSignal;
  /** Unix socket to connect to instead of the URL's host. */
  readonly socketPath?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly tls?: HttpTls;
  /** Redirects to follow (default 10; 0 = none). */
  readonly maxRedirects?: number;
  /** Largest body accepted (default 16 MiB). */
  readonly maxBytes?: number;
  /** Go-like HTTP(S)_PROXY / NO_PROXY settings; undefined = always direct (docker, consul, lxd). */
  readonly proxyEnv?: ProxyEnv;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;

export async function httpRequest(opts: HttpRequestOptions): Promise<HttpResponse> {
  let url = opts.url;
  const maxRedirects = opts.maxRedirects ?? 10;
  for (let hop = 0; ; hop++) {
    const res = await once(url, opts);
    const location = res.headers.location;
    if (res.status >= 300 && res.status < 400 && location !== undefined && opts.socketPath === undefined) {
      if (hop >= maxRedirects) throw new Error(`stopped after ${maxRedirects} redirects`);
      url = new URL(location, url).toString();
      continue;
    }
    return res;
  }
}

/** GET with a body as text. */
export async function httpGetText(opts: HttpRequestOptions): Promise<{ status: number; text: string }> {
  const res = await httpRequest(opts);
  return { status: res.status, text: res.body.toString('utf8') };
}

async function once(url: string, opts: HttpRequestOptions): Promise<HttpResponse> {
  if (opts.signal.aborted) throw abortReason(opts.signal);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`invalid URL ${url}`);
  }
  const secure = u.protocol === 'https:';
  if (!secure && u.protocol !== 'http:') throw new Error(`unsupported URL scheme ${u.protocol} in ${url}`);
  const targetHost = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const targetPort = u.port === '' ? (secure ? 443 : 80) : Number(u.port);
  const proxy = opts.proxyEnv !== undefined && opts.socketPath === undefined ? proxyFor(u, opts.proxyEnv) : undefined;
  const tunnel = proxy !== undefined && secure ? await connectTunnel(proxy, targetHost, targetPort, opts.signal) : undefined;
  return new Promise<HttpResponse>((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
    const common: http.RequestOptions = {
      method: opts.method ?? 'GET',
      path: `${u.pathname}${u.search}`,
      headers,
      agent: false,
      signal: opts.signal,
    };
    if (opts.socketPath !== undefined) {
      common.socketPath = opts.socketPath;
      common.host = 'localhost';
    } else {
      common.host = targetHost;
      common.port = targetPort;
      if (u.username !== '' || u.password !== '') {
        common.auth = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
      }
      if (proxy !== undefined && !secure) {
        // absolute-form request to the proxy
        common.host = proxy.host;
        common.port = proxy.port;
        common.path = `${u.protocol}//${u.host}${u.pathname}${u.search}`;
        headers['host'] = u.host;
        if (proxy.auth !== '') headers['proxy-authorization'] = `Basic ${Buffer.from(proxy.auth).toString('base64')}`;
      }
    }
    const max = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > max) {
          req.destroy(new Error(`response body larger than ${max} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (err) => reject(err));
      res.on('aborted', () => reject(new Error('response aborted')));
    };
    let req: http.ClientRequest;
    if (secure) {
      const t = opts.tls;
      const tlsOpts: https.RequestOptions = { ...common, rejectUnauthorized: t?.rejectUnauthorized ?? true };
      if (t?.ca !== undefined) tlsOpts.ca = t.ca;
      if (t?.cert !== undefined) tlsOpts.cert = t.cert;
      if (t?.key !== undefined) tlsOpts.key = t.key;
      if (tunnel !== undefined) {
        // TLS over the CONNECT tunnel; a one-off agent (no pooling) hands the request that socket.
        const tunnelSocket = tunnel;
        const agent = new (nodeHttps().Agent)({ keepAlive: false });
        agent.createConnection = () => nodeTls().connect({
          socket: tunnelSocket,
          ...(isIP(targetHost) === 0 ? { servername: targetHost } : {}),
          rejectUnauthorized: tlsOpts.rejectUnauthorized ?? true,
          ...(t?.ca !== undefined ? { ca: t.ca } : {}),
          ...(t?.cert !== undefined ? { cert: t.cert } : {}),
          ...(t?.key !== undefined ? { key: t.key } : {}),
        });
        tlsOpts.agent = agent;
      }
      req = nodeHttps().request(tlsOpts, onResponse);
    } else {
      req = nodeHttp().request(common, onResponse);
    }
    req.on('error', (err) => {
      tunnel?.destroy();
      reject(opts.signal.aborted ? abortReason(opts.signal) : err);
    });
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}

/** Opens a CONNECT tunnel through an HTTP proxy to host:port. */
function connectTunnel(proxy: ProxyTarget, host: string, port: number, signal: AbortSignal): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const authority = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
    const headers: Record<string, string> = { host: authority };
    if (proxy.auth !== '') headers['proxy-authorization'] = `Basic ${Buffer.from(proxy.auth).toString('base64')}`;
    const req = nodeHttp().request({ host: proxy.host, port: proxy.port, method: 'CONNECT', path: authority, headers, agent: false, signal });
    req.on('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new Error(`proxy ${proxy.host}:${proxy.port} answered ${res.statusCode ?? 0} to CONNECT ${authority}`));
        return;
      }
      resolve(socket);
    });
    req.on('error', (err) => reject(signal.aborted ? abortReason(signal) : err));
    req.end();
  });
}

export interface TlsPaths {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/**
 * Reads client cert/key and CA files ('' = not given). Without a CA the server certificate is
 * verified against the system roots, unless `verifyWithoutCa` is false (docker's sample config).
 */
export async function loadTls(paths: TlsPaths, verifyWithoutCa: boolean): Promise<HttpTls> {
  const read = async (p: string): Promise<Buffer | undefined> => (p === '' ? undefined : nodeFsPromises().readFile(p));
  const [cert, key, ca] = await Promise.all([read(paths.cert), read(paths.key), read(paths.ca)]);
  const tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean } = {
    rejectUnauthorized: ca !== undefined || verifyWithoutCa,
  };
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  return tls;
}
