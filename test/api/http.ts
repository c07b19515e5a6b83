/** Minimal HTTP client for tests: one connection per request (like python-requests), bounded time. */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly raw: Buffer;
}

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  readonly timeoutMs?: number;
  readonly tls?: boolean;
  readonly host?: string;
}

export function req(port: number, path: string, opts: RequestOptions = {}): Promise<Reply> {
  const make = opts.tls === true ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = make(
      {
        host: opts.host ?? '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.headers ?? {},
        agent: false,
        rejectUnauthorized: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: raw.toString('utf8'), raw });
        });
        res.on('error', reject);
      },
    );
    r.setTimeout(opts.timeoutMs ?? 5000, () => r.destroy(new Error(`timeout ${path}`)));
    r.on('error', reject);
    if (opts.body !== undefined) r.end(opts.body);
    else r.end();
  });
}

export function basic(login: string, password: string): string {
  return `Basic ${Buffer.from(`${login}:${password}`).toString('base64')}`;
}
