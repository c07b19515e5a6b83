/**
 * Listen-address semantics of Go's `net.Listen("tcp", bind)` (data-plane §1.5) and Go's error
 * texts for listen failures (control-plane §2.12).
 *
 * - wildcard or empty host (`0.0.0.0`, `::`, `:3000`) -> one dual-stack socket (`::`,
 *   `ipv6Only: false`), falling back to `0.0.0.0` when IPv6 is unavailable;
 * - a specific IP -> that IP only;
 * - a host name -> resolved once, first IPv4 address preferred.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { StartError, errorMessage } from '../core/errors.js';

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

/**
 * Resolves a configured `host:port` for a TCP listener. Throws `StartError` with Go's text
 * (`listen tcp: address foo: missing port in address`, `listen tcp: lookup nohost: no such host`).
 */
export async function resolveBind(bind: string, network = 'tcp'): Promise<BindTarget> {
  const fail = (why: string): StartError => new StartError(`listen ${network}: ${why}`);
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
    addrs = await lookup(host, { all: true });
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
