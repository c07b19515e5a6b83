/**
 * The HTTP-01 listener of `[acme] challenge = "http"` on `http_bind` (control-plane §7.1):
 * `/.well-known/acme-challenge/<token>` answers the key authorization of a running validation
 * (404 otherwise); any other GET/HEAD is redirected (302) to `https://<host><path>`; other
 * methods get 400 `Use HTTPS`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage } from '../core/errors.js';
import { closeServer, listenOn, resolveBind } from '../core/listen.js';
import type { Logger } from '../core/log.js';

const PREFIX = '/.well-known/acme-challenge/';

export interface HttpChallengeListener {
  address(): AddressInfo;
  close(): Promise<void>;
}

/** The host part of a Host header (`a.test:80` → `a.test`, `[::1]:80` → `[::1]`). */
function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end < 0 ? host : host.slice(0, end + 1);
  }
  const i = host.indexOf(':');
  return i < 0 ? host : host.slice(0, i);
}

export function handleChallengeRequest(tokens: (token: string) => string | undefined, req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  const path = url.split('?', 1)[0] ?? '/';
  if (path.startsWith(PREFIX)) {
    const answer = tokens(path.slice(PREFIX.length));
    if (answer === undefined) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not Found\n');
    } else {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end(answer);
    }
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Use HTTPS\n');
    return;
  }
  const host = stripPort(req.headers.host ?? '');
  // A host with characters outside a URL authority would make a header injection or a bad URL.
  if (host === '' || !/^[A-Za-z0-9.\-[\]:]+$/.test(host) || !url.startsWith('/')) {
    res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Use HTTPS\n');
    return;
  }
  res.writeHead(302, { Location: `https://${host}${url}` }).end();
}

/**
 * Listens on `bind` (Go's error text on failure: GoBetween ignores it silently; the app logs it
 * and keeps running).
 */
export async function startHttpChallenge(opts: {
  bind: string;
  tokens: (token: string) => string | undefined;
  log: Logger;
}): Promise<HttpChallengeListener> {
  const server: Server = createServer((req, res) => handleChallengeRequest(opts.tokens, req, res));
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.on('clientError', (_err, socket) => socket.destroy());
  const bound = await listenOn(server, await resolveBind(opts.bind, { defaultPort: 80 }));
  server.on('error', (err) => opts.log.error(`acme http listener: ${errorMessage(err)}`));
  opts.log.info(`ACME HTTP-01 listener on ${opts.bind}`);
  return {
    address: () => bound,
    close: () => closeServer(server),
  };
}
