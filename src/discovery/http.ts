/**
 * A small HTTP GET client for the HTTP-based kinds (json, plaintext, docker, consul, lxd) on
 * node:http/https, because they need what `fetch` lacks in Node 20 without extra packages:
 * unix sockets (`socketPath`) and TLS client certificates. No keep-alive (no lingering sockets),
 * redirects followed (json/plaintext, like Go's client), body size bounded, cancellable.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
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

function once(url: string, opts: HttpRequestOptions): Promise<HttpResponse> {
  return new Promise<HttpResponse>((resolve, reject) => {
    if (opts.signal.aborted) {
      reject(abortReason(opts.signal));
      return;
    }
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new Error(`invalid URL ${url}`));
      return;
    }
    const secure = u.protocol === 'https:';
    if (!secure && u.protocol !== 'http:') {
      reject(new Error(`unsupported URL scheme ${u.protocol} in ${url}`));
      return;
    }
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
      common.host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
      common.port = u.port === '' ? (secure ? 443 : 80) : Number(u.port);
      if (u.username !== '' || u.password !== '') {
        common.auth = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
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
      req = https.request(tlsOpts, onResponse);
    } else {
      req = http.request(common, onResponse);
    }
    req.on('error', (err) => {
      reject(opts.signal.aborted ? abortReason(opts.signal) : err);
    });
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
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
  const read = async (p: string): Promise<Buffer | undefined> => (p === '' ? undefined : readFile(p));
  const [cert, key, ca] = await Promise.all([read(paths.cert), read(paths.key), read(paths.ca)]);
  const tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean } = {
    rejectUnauthorized: ca !== undefined || verifyWithoutCa,
  };
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  return tls;
}
