/**
 * Listening on a GoBetween `bind` string (`host:port`, `:port`, `[v6]:port`, or '' for the
 * protocol's default port), shared by the HTTP listeners of the control plane: metrics, REST API
 * and profiler (it lives here because api/ may import metrics/, not the other way round).
 * Go semantics: an empty host listens on every address; errors read like Go's `listen tcp ...`.
 */
import { lookup } from 'node:dns/promises';
import { isIP, type AddressInfo, type Server } from 'node:net';

export interface ListenAddress {
  /** undefined = every address (dual-stack when available). */
  readonly host: string | undefined;
  readonly port: number;
}

/** Parses a bind string; throws an Error with a Go-like message when it is not `host:port`. */
export function parseBind(bind: string, defaultPort: number): ListenAddress {
  if (bind === '') return { host: undefined, port: defaultPort };
  let host: string;
  let portText: string;
  if (bind.startsWith('[')) {
    const end = bind.indexOf(']');
    if (end < 0) throw new Error(`address ${bind}: missing ']' in address`);
    host = bind.slice(1, end);
    const rest = bind.slice(end + 1);
    if (!rest.startsWith(':')) throw new Error(`address ${bind}: missing port in address`);
    portText = rest.slice(1);
  } else {
    const colon = bind.lastIndexOf(':');
    if (colon < 0) throw new Error(`address ${bind}: missing port in address`);
    host = bind.slice(0, colon);
    if (host.includes(':')) throw new Error(`address ${bind}: too many colons in address`);
    portText = bind.slice(colon + 1);
  }
  // Go listens on every address (dual-stack) for an empty or unspecified host.
  const any = host === '' || host === '0.0.0.0' || host === '::';
  if (portText === '') return { host: any ? undefined : host, port: defaultPort };
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new Error(`address ${bind}: invalid port`);
  }
  return { host: any ? undefined : host, port: Number(portText) };
}

/** A host name resolves to its first IPv4 address when it has one (Go's preference). */
async function resolveHost(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  const addrs = await lookup(host, { all: true });
  const pick = addrs.find((a) => a.family === 4) ?? addrs[0];
  if (pick === undefined) throw Object.assign(new Error(`lookup ${host}: no such host`), { code: 'ENOTFOUND' });
  return pick.address;
}

const SYSCALL_TEXT: Readonly<Record<string, string>> = {
  EADDRINUSE: 'bind: address already in use',
  EACCES: 'bind: permission denied',
  EADDRNOTAVAIL: 'bind: cannot assign requested address',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'temporary failure in name resolution',
};

/** `listen tcp <bind>: <reason>`, the text Go's net.Listen error prints. */
export function listenErrorText(bind: string, err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  const reason = SYSCALL_TEXT[code] ?? (err instanceof Error ? err.message : String(err));
  return `listen tcp ${bind}: ${reason}`;
}

/** Starts listening; resolves once the socket is bound, rejects with the listen error. */
export async function listenOn(server: Server, addr: ListenAddress): Promise<AddressInfo> {
  const host = addr.host === undefined ? undefined : await resolveHost(addr.host);
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    if (host === undefined) server.listen(addr.port);
    else server.listen(addr.port, host);
  });
}

/** Closes a server and drops its open connections; never rejects. */
export function closeServer(server: Server & { closeAllConnections?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      server.closeAllConnections?.();
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}
