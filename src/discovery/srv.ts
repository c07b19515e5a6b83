/**
 * `srv`: DNS SRV lookup (data-plane §11.3, opensvc.md §3.5) with GoBetween's defects fixed (D21):
 *
 * - query SRV for `srv_lookup_pattern` at `srv_lookup_server` over `srv_dns_protocol`
 *   (udp | tcp); EDNS0 4096 without the DO bit; a truncated UDP answer is asked again over TCP;
 * - response code: NOERROR -> use the answer; **NXDOMAIN -> an empty list** (the name
 *   authoritatively does not exist any more, like GoBetween's empty answer); any other code
 *   (SERVFAIL, REFUSED, ...) -> a fetch error, so `keeplast` protects the pool;
 * - records other than SRV in the answer (RRSIG, CNAME) are ignored, not fatal;
 * - target address from an A/AAAA record of the additional section (the last one per name wins,
 *   names compared case-insensitively), else a separate A query, then AAAA, to the same server;
 *   IPv6 hosts are bracketed; a target without an address is skipped with a warning;
 * - port, priority and weight from the SRV record; sni = target without its trailing dot;
 * - `srv_lookup_server` may be a host name (resolved at every fetch through the system resolver);
 *   its port defaults to 53; a pattern without the final dot gets one (GoBetween failed every query).
 */
import type { DiscoveryWire } from '../config/types.js';
import { key, keyGroup } from '../core/keys.js';
import { nodeDnsPromises } from '../core/builtin.js';
import { isIP } from 'node:net';
import type { Answer } from 'dns-packet';
import type { BackendSpec } from '../core/backend.js';
import { ConfigError } from '../core/errors.js';
// The DNS client (dns-packet, dgram) is imported on the first fetch: a process without srv
// discovery does not load it (issue 8 item 8).
import type { DnsProtocol, DnsQueryOptions, DnsServer } from './dns-client.js';
import { DEFAULT_RETRY_WAIT_MS, DEFAULT_TIMEOUT_MS, type DiscoveryKind, type Fail, type FetchContext } from './types.js';
import { requireGroup, requireString, splitHostPort, throwIfAborted } from './util.js';

export interface SrvSettings {
  /** Host (IP or name) of the DNS server, without brackets. */
  readonly serverHost: string;
  readonly serverPort: number;
  /** Fully qualified query name (ends with a dot). */
  readonly pattern: string;
  readonly protocol: DnsProtocol;
}

/** A DNS resolver for the lookup server's own name (injectable in tests). */
export type HostResolver = (host: string) => Promise<string>;

const systemResolver: HostResolver = async (host) => (await nodeDnsPromises().lookup(host)).address;

export function parseSrv(wire: Parameters<DiscoveryKind['parse']>[0], path: string): SrvSettings {
  const g = requireGroup(wire, 'srv', path, 'srv_lookup_server');
  const server = requireString(g.srv_lookup_server, path, 'srv_lookup_server');
  const pattern = requireString(g.srv_lookup_pattern, path, 'srv_lookup_pattern').trim();
  const proto = g.srv_dns_protocol === '' ? 'udp' : g.srv_dns_protocol;
  if (proto !== 'udp' && proto !== 'tcp') {
    throw new ConfigError(`${path}.srv_dns_protocol`, `Not supported srv_dns_protocol ${proto}`);
  }
  const { host, port } = splitHostPort(server);
  if (host === '') throw new ConfigError(`${path}.srv_lookup_server`, `invalid address ${server}`);
  let serverPort = 53;
  if (port !== undefined) {
    const n = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
    if (!(n >= 1 && n <= 65535)) throw new ConfigError(`${path}.srv_lookup_server`, `invalid port in ${server}`);
    serverPort = n;
  }
  return Object.freeze({
    serverHost: host,
    serverPort,
    pattern: pattern.endsWith('.') ? pattern : `${pattern}.`,
    protocol: proto,
  });
}

/** One SRV fetch; `resolveHost` resolves a lookup server given by name. */
export async function fetchSrv(s: SrvSettings, ctx: FetchContext, resolveHost: HostResolver = systemResolver): Promise<BackendSpec[]> {
  let host = s.serverHost;
  if (isIP(host) === 0) {
    try {
      host = await resolveHost(host);
    } catch (err) {
      throw new Error(`cannot resolve srv_lookup_server ${s.serverHost}: ${err instanceof Error ? err.message : String(err)}`);
    }
    throwIfAborted(ctx.signal);
  }
  const server: DnsServer = { host, port: s.serverPort };
  const q: DnsQueryOptions = { server, protocol: s.protocol, signal: ctx.signal };

  const { dnsQuery, rcodeName } = await import('./dns-client.js');
  const res = await dnsQuery(s.pattern, 'SRV', q);
  if (res.rcode === 3) {
    ctx.log.warn(`${s.pattern} does not exist (NXDOMAIN): empty backend list`);
    return [];
  }
  if (res.rcode !== 0) throw new Error(`DNS server answered ${rcodeName(res.rcode)} for ${s.pattern}`);

  const records = (res.packet.answers ?? []).filter(isSrv);
  if (records.length === 0) {
    ctx.log.warn(`no SRV records for ${s.pattern}: empty backend list`);
    return [];
  }

  // Addresses offered in the additional section; the last record per name wins.
  const addresses = new Map<string, string>();
  for (const rr of res.packet.additionals ?? []) {
    const a = addressOf(rr);
    if (a !== undefined) addresses.set(normName(rr.name), a);
  }

  // Targets missing from the additional section: A then AAAA queries, a few targets at a time
  // (a recursor such as OpenSVC's on :53 sends no additional records at all).
  const missing = new Map<string, string>();
  for (const rr of records) {
    const target = trimDots(rr.data.target);
    if (target !== '' && !addresses.has(normName(target))) missing.set(normName(target), target);
  }
  await forEachLimit([...missing.values()], FALLBACK_CONCURRENCY, async (target) => {
    const address = await resolveTarget(target, q);
    if (address !== undefined) addresses.set(normName(target), address);
  });

  const specs: BackendSpec[] = [];
  for (const rr of records) {
    const target = trimDots(rr.data.target);
    if (target === '') continue; // "." = service explicitly not available (RFC 2782)
    const address = addresses.get(normName(target));
    if (address === undefined) {
      ctx.log.warn(`no A/AAAA record for SRV target ${target}: skipped`);
      continue;
    }
    specs.push({
      host: address,
      port: String(rr.data.port),
      priority: rr.data.priority ?? 0,
      weight: rr.data.weight ?? 0,
      maxConnections: 0,
      sni: target,
    });
  }
  return specs;
}

type SrvAnswer = Extract<Answer, { type: 'SRV' }>;

function isSrv(rr: Answer): rr is SrvAnswer {
  return rr.type === 'SRV';
}

function trimDots(name: string): string {
  return name.replace(/\.+$/, '');
}

function normName(name: string): string {
  return trimDots(name).toLowerCase();
}

const FALLBACK_CONCURRENCY = 8;

/** Runs `fn` over `items` with at most `limit` calls in flight; rejects on the first failure. */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** `1.2.3.4` for A, `[2001:db8::1]` for AAAA, undefined otherwise. */
function addressOf(rr: Answer): string | undefined {
  if (rr.type === 'A' && isIP(rr.data) === 4) return rr.data;
  if (rr.type === 'AAAA' && isIP(rr.data) === 6) return `[${rr.data}]`;
  return undefined;
}

/** A query, then AAAA, for a target missing from the additional section (first address wins). */
async function resolveTarget(target: string, q: DnsQueryOptions): Promise<string | undefined> {
  for (const type of ['A', 'AAAA'] as const) {
    try {
      const { dnsQuery } = await import('./dns-client.js');
      const res = await dnsQuery(`${target}.`, type, q);
      if (res.rcode === 0) {
        for (const rr of res.packet.answers ?? []) {
          if (rr.type === type) {
            const a = addressOf(rr);
            if (a !== undefined) return a;
          }
        }
      }
    } catch {
      // Cancellation ends the whole fetch; other errors only mean "no address of this type".
      throwIfAborted(q.signal);
    }
  }
  return undefined;
}

export const srvKind: DiscoveryKind<SrvSettings> = {
  kind: 'srv',
  schema: keyGroup({
    srv_lookup_server: key.string('DNS server to ask, `host[:port]` (port 53 when omitted).'),
    srv_lookup_pattern: key.string('SRV name to query, e.g. `_http._tcp.service.example.` (the final dot is added).'),
    srv_dns_protocol: key.string('DNS transport: `udp` or `tcp`.', { effectiveDefault: 'udp' }),
  }),
  prepare(wire: DiscoveryWire, fail: Fail): void {
    // control-plane §2.11 step 19 (and the Q-5 crash fix when no srv key was given)
    const srv = wire.srv;
    if (srv === undefined) fail('srv_lookup_server', 'srv_lookup_server is required for srv discovery');
    if (srv.srv_dns_protocol === '') srv.srv_dns_protocol = 'udp';
    else if (!['udp', 'tcp'].includes(srv.srv_dns_protocol)) {
      fail('srv_dns_protocol', `Not supported srv_dns_protocol ${srv.srv_dns_protocol}`);
    }
    if (srv.srv_lookup_server === '') fail('srv_lookup_server', 'srv_lookup_server is required for srv discovery');
  },
  defaultTimeoutMs: DEFAULT_TIMEOUT_MS.srv,
  retryWaitMs: DEFAULT_RETRY_WAIT_MS,
  parse: parseSrv,
  fetch: (settings, ctx) => fetchSrv(settings, ctx),
};
