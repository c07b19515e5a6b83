/**
 * Listening on a GoBetween `bind` string like Go's `net.Listen("tcp", bind)` (data-plane §1.5),
 * with Go's error texts for listen failures (control-plane §2.12). Shared by the TCP data path
 * and the HTTP listeners of the control plane (REST API, metrics, profiler).
 *
 * - wildcard or empty host (`0.0.0.0`, `::`, `:3000`) -> one dual-stack socket (`::`,
 *   `ipv6Only: false`), falling back to `0.0.0.0` when IPv6 is unavailable;
 * - a specific IP -> that IP only;
 * - a host name -> resolved once, first IPv4 address preferred;
 * - an empty bind ('') -> every address on the protocol's default port, for the HTTP listeners
 *   only (Go's `http.Server.ListenAndServe` turns '' into `:http`, `ListenAndServeTLS` into
 *   `:https`); callers pass that port as `defaultPort`.
 */
import { isIP, type AddressInfo, type ListenOptions as NetListenOptions, type Server } from 'node:net';
import { nodeDnsPromises } from './builtin.js';
import { StartError, errorMessage } from './errors.js';

export interface BindTarget {
  /** Host to pass to `listen()`: '::' for wildcards, otherwise an IP literal. */
  readonly host: string;
  readonly port: number;
  /** Wildcard bind: listen dual-stack on '::', fall back to '0.0.0.0'. */
  readonly wildcard: boolean;
  /** Go's `TCPAddr.String()` of the resolved address, used in error texts (`:3000`, `[::1]:3000`). */
  readonly display: string;
}

const MISSING_PORT = 'missing port in address';
const TOO_MANY_COLONS = 'too many colons in address';

/** Go's `net.SplitHostPort`; returns [host, port] or an error text `address <x>: <why>`. */
export function splitHostPort(hostport: string): [string, string] | string {
  const addrErr = (why: string): string => `address ${hostport}: ${why}`;
  const i = hostport.lastIndexOf(':');
  if (i < 0) return addrErr(MISSING_PORT);
  let host: string;
  let j = 0;
  let k = 0;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) return addrErr("missing ']' in address");
    if (end + 1 === hostport.length) return addrErr(MISSING_PORT);
    if (end + 1 !== i) return addrErr(hostport[end + 1] === ':' ? TOO_MANY_COLONS : MISSING_PORT);
    host = hostport.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hostport.slice(0, i);
    if (host.includes(':')) return addrErr(TOO_MANY_COLONS);
  }
  if (hostport.indexOf('[', j) >= 0) return addrErr("unexpected '[' in address");
  if (hostport.indexOf(']', k) >= 0) return addrErr("unexpected ']' in address");
  return [host, hostport.slice(i + 1)];
}

function isUnspecified(ip: string): boolean {
  if (ip === '0.0.0.0') return true;
  if (isIP(ip) !== 6) return false;
  return /^[0:]+$/.test(ip);
}

function display(ip: string, port: number): string {
  if (ip === '') return `:${port}`;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export interface ResolveOptions {
  /** Go's network name in error texts; 'tcp' when omitted. */
  readonly network?: string;
  /** The port an empty bind listens on (80 for HTTP, 443 for HTTPS); unset = '' is an error. */
  readonly defaultPort?: number;
}

/**
 * Checks a bind's syntax without resolving anything: Go's text for what `resolveBind` would
 * reject without a DNS lookup (`listen tcp: address 99999: invalid port`), an unresolved `${VAR}`
 * (the config was written for `-e`), or undefined when it is fine.
 */
export function bindSyntaxError(bind: string, opts: ResolveOptions = {}): string | undefined {
  const { network = 'tcp', defaultPort } = opts;
  if (bind.includes('${')) return `listen ${network}: unresolved \${…} in address ${bind} (run with -e to substitute environment variables)`;
  if (bind === '' && defaultPort !== undefined) return undefined;
  const split = splitHostPort(bind);
  if (typeof split === 'string') return `listen ${network}: ${split}`;
  const portText = split[1];
  if (portText !== '') {
    if (!/^[0-9]+$/.test(portText)) {
      if (/^[+-]?[0-9]+$/.test(portText)) return `listen ${network}: address ${portText}: invalid port`;
      return `listen ${network}: lookup ${network}/${portText}: unknown port`;
    }
    if (Number(portText) > 65535) return `listen ${network}: address ${portText}: invalid port`;
  }
  return undefined;
}

/**
 * Resolves a configured `host:port` for a TCP listener. Throws `StartError` with Go's text
 * (`listen tcp: address foo: missing port in address`, `listen tcp: lookup nohost: no such host`).
 * With `defaultPort`, an empty bind means every address on that port (HTTP listeners); without
 * it, an empty bind is an error like any other string without a port.
 */
export async function resolveBind(bind: string, opts: ResolveOptions = {}): Promise<BindTarget> {
  const { network = 'tcp', defaultPort } = opts;
  const fail = (why: string): StartError => new StartError(`listen ${network}: ${why}`);
  if (bind === '' && defaultPort !== undefined) {
    return { host: '::', port: defaultPort, wildcard: true, display: display('', defaultPort) };
  }
  const split = splitHostPort(bind);
  if (typeof split === 'string') throw fail(split);
  const [host, portText] = split;
  let port = 0;
  if (portText !== '') {
    if (!/^[0-9]+$/.test(portText)) {
      if (/^[+-]?[0-9]+$/.test(portText)) throw fail(`address ${portText}: invalid port`);
      throw fail(`lookup ${network}/${portText}: unknown port`);
    }
    port = Number(portText);
    if (port > 65535) throw fail(`address ${portText}: invalid port`);
  }
  if (host === '') return { host: '::', port, wildcard: true, display: display('', port) };
  const pct = host.indexOf('%');
  const bare = pct < 0 ? host : host.slice(0, pct);
  if (isIP(bare) !== 0) {
    if (isUnspecified(bare)) return { host: '::', port, wildcard: true, display: display(bare, port) };
    return { host, port, wildcard: false, display: display(host, port) };
  }
  let addrs: { address: string; family: number }[];
  try {
    addrs = await nodeDnsPromises().lookup(host, { all: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOTFOUND' || code === 'ENODATA' ? 'no such host' : errorMessage(err);
    throw fail(`lookup ${host}: ${why}`);
  }
  const pick = addrs.find((a) => a.family === 4) ?? addrs[0];
  if (pick === undefined) throw fail(`lookup ${host}: no such host`);
  if (isUnspecified(pick.address)) return { host: '::', port, wildcard: true, display: display(pick.address, port) };
  return { host: pick.address, port, wildcard: false, display: display(pick.address, port) };
}

const STRERROR: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EADDRNOTAVAIL: 'cannot assign requested address',
  EAFNOSUPPORT: 'address family not supported by protocol',
  EINVAL: 'invalid argument',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in system',
  ENOBUFS: 'no buffer space available',
  ENOMEM: 'cannot allocate memory',
};

const SOCKET_SYSCALL = new Set(['EMFILE', 'ENFILE', 'EAFNOSUPPORT', 'ENOBUFS', 'ENOMEM']);

/** Go's text for a failed listen: `listen tcp 0.0.0.0:3000: bind: address already in use`. */
export function listenErrorText(err: unknown, target: BindTarget, network = 'tcp'): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') {
    const text = STRERROR[code];
    if (text !== undefined) {
      const syscall = SOCKET_SYSCALL.has(code) ? 'socket' : 'bind';
      return `listen ${network} ${target.display}: ${syscall}: ${text}`;
    }
  }
  return `listen ${network} ${target.display}: ${errorMessage(err)}`;
}

/** Whether a listen error on '::' means "no IPv6 here" (then retry on 0.0.0.0). */
export function isNoIpv6(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL' || code === 'EPROTONOSUPPORT';
}

export interface ListenOptions {
  /** listen(2) backlog; Node's default when omitted. */
  readonly backlog?: number;
  /** Go's network name in error texts; 'tcp' when omitted. */
  readonly network?: string;
  /**
   * SO_REUSEPORT (Node >= 22.12 / 23.1; older Nodes ignore it): several listeners — the data-plane
   * worker threads — share the port and the kernel spreads new connections over them.
   */
  readonly reusePort?: boolean;
}

/** One `server.listen()`; resolves once bound, rejects with the raw listen error. */
function listenOnce(server: Server, host: string, port: number, opts: ListenOptions): Promise<AddressInfo> {
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
    // `reusePort` is not in @types/node 20's ListenOptions.
    const listenOpts: NetListenOptions & { reusePort?: boolean } = {
      host, port, ipv6Only: false,
      ...(opts.backlog !== undefined ? { backlog: opts.backlog } : {}),
      ...(opts.reusePort === true ? { reusePort: true } : {}),
    };
    server.listen(listenOpts);
  });
}

/**
 * Starts listening on a resolved bind: a wildcard listens dual-stack on '::' and, when IPv6 is
 * unavailable, on '0.0.0.0' (Node allows a second `listen()` after a failed one). Resolves with
 * the bound address; rejects with a `StartError` whose message is Go's text
 * (`listen tcp 127.0.0.1:3001: bind: address already in use`) and whose cause is Node's error.
 */
export async function listenOn(server: Server, target: BindTarget, opts: ListenOptions = {}): Promise<AddressInfo> {
  const network = opts.network ?? 'tcp';
  try {
    return await listenOnce(server, target.host, target.port, opts);
  } catch (err) {
    if (!(target.wildcard && isNoIpv6(err))) throw new StartError(listenErrorText(err, target, network), { cause: err });
    try {
      return await listenOnce(server, '0.0.0.0', target.port, opts);
    } catch (err2) {
      throw new StartError(listenErrorText(err2, target, network), { cause: err2 });
    }
  }
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
