/**
 * HTTP proxy selection from the environment, as Go's default transport does it for json and
 * plaintext discovery (control-plane §1.9): HTTP_PROXY for http URLs, HTTPS_PROXY for https
 * URLs (upper case first, then lower case), NO_PROXY exclusions; localhost and loopback
 * addresses never go through a proxy. Only http:// proxies are supported.
 */
import { BlockList, isIP } from 'node:net';

export interface ProxyEnv {
  readonly httpProxy: string;
  readonly httpsProxy: string;
  readonly noProxy: string;
}

function env(name: string): string {
  return process.env[name.toUpperCase()] || process.env[name.toLowerCase()] || '';
}

export function proxyEnvFromProcess(): ProxyEnv {
  return { httpProxy: env('http_proxy'), httpsProxy: env('https_proxy'), noProxy: env('no_proxy') };
}

export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
  /** `user:pass` for Proxy-Authorization, '' when none. */
  readonly auth: string;
}

/** The proxy to use for `url`, or undefined for a direct connection. Throws on an unusable proxy URL. */
export function proxyFor(url: URL, e: ProxyEnv): ProxyTarget | undefined {
  const raw = url.protocol === 'https:' ? e.httpsProxy : url.protocol === 'http:' ? e.httpProxy : '';
  if (raw === '') return undefined;
  const host = bareHost(url.hostname).toLowerCase();
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
  if (!useProxy(host, port, e.noProxy)) return undefined;
  let p: URL;
  try {
    p = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw new Error(`invalid proxy address ${raw}`);
  }
  if (p.protocol !== 'http:') throw new Error(`unsupported proxy scheme ${p.protocol} in ${raw}`);
  const auth = p.username !== '' || p.password !== '' ? `${decodeURIComponent(p.username)}:${decodeURIComponent(p.password)}` : '';
  return { host: bareHost(p.hostname), port: p.port === '' ? 80 : Number(p.port), auth };
}

function bareHost(h: string): string {
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}

/** Go's NO_PROXY rules: `*`, host names (suffix match; a leading dot or `*.` = subdomains only), IPs, CIDRs, optional `:port`. */
export function useProxy(host: string, port: string, noProxy: string): boolean {
  if (host === '' || isLoopback(host)) return false;
  for (let entry of noProxy.split(',')) {
    entry = entry.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return false;
    if (entry.includes('/')) {
      const [net, bits] = entry.split('/');
      const family = isIP(net ?? '');
      if (family !== 0 && isIP(host) === family) {
        const bl = new BlockList();
        try {
          bl.addSubnet(net ?? '', Number(bits), family === 4 ? 'ipv4' : 'ipv6');
          if (bl.check(host, family === 4 ? 'ipv4' : 'ipv6')) return false;
        } catch {
          /* malformed entry: ignored, as Go does */
        }
      }
      continue;
    }
    if (isIP(bareHost(entry)) !== 0) {
      if (bareHost(entry) === host) return false;
      continue;
    }
    let entryPort = '';
    const colon = entry.lastIndexOf(':');
    if (colon > 0 && /^\d+$/.test(entry.slice(colon + 1))) {
      entryPort = entry.slice(colon + 1);
      entry = entry.slice(0, colon);
    }
    if (entryPort !== '' && entryPort !== port) continue;
    if (entry.startsWith('*.')) entry = entry.slice(1);
    if (entry.startsWith('.')) {
      if (host.endsWith(entry)) return false;
    } else if (host === entry || host.endsWith(`.${entry}`)) {
      return false;
    }
  }
  return true;
}
