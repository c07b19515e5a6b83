/**
 * `consul`: Consul health API (data-plane §11.8). `GET /v1/health/service/<name>` with `tag=`,
 * `passing=1` and `dc=` as configured; `X-Consul-Token` with the ACL token; HTTP basic auth when
 * a user name or password is set; https when `consul_tls_enabled` (client cert/key, CA; without
 * a CA the system roots verify the server). A non-200 status is a fetch error.
 * host = Service.Address, else Node.Address (IPv6 bracketed, D22); port = Service.Port;
 * sni = the value of the last `sni=<v>` tag (up to a space); weight and priority 1.
 */
import type { DiscoveryWire } from '../config/types.js';
import { key, keyGroup } from '../core/keys.js';
import type { BackendSpec } from '../core/backend.js';
import { ConfigError } from '../core/errors.js';
import { httpRequest, loadTls, type HttpRequestOptions } from './http.js';
import { DEFAULT_RETRY_WAIT_MS, DEFAULT_TIMEOUT_MS, type DiscoveryKind, type Fail } from './types.js';
import { bracketHost, requireGroup, requireString } from './util.js';

export interface ConsulSettings {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly tls: { readonly cert: string; readonly key: string; readonly ca: string } | undefined;
}

interface HealthEntry {
  Node?: { Address?: unknown } | null;
  Service?: { Address?: unknown; Port?: unknown; Tags?: unknown } | null;
}

/** The sni of a tag list: the last `sni=` tag, its value up to the first whitespace. */
export function sniFromTags(tags: unknown): string {
  let sni = '';
  if (!Array.isArray(tags)) return sni;
  for (const t of tags) {
    if (typeof t === 'string' && t.startsWith('sni=')) sni = t.slice(4).split(/\s/)[0] ?? '';
  }
  return sni;
}

export const consulKind: DiscoveryKind<ConsulSettings> = {
  kind: 'consul',
  schema: keyGroup({
    consul_host: key.string('Consul agent, `host:port`.'),
    consul_service_name: key.string('Service to list.'),
    consul_service_tag: key.string('Only instances with this tag.'),
    consul_service_passing_only: key.bool('Only instances whose health checks pass.'),
    consul_datacenter: key.string('Datacenter to ask (default: the agent\'s).'),
    consul_auth_username: key.string('HTTP basic-auth user.'),
    consul_auth_password: key.string('HTTP basic-auth password (redacted in the API echo).'),
    consul_tls_enabled: key.bool('Talk HTTPS to Consul.'),
    consul_tls_cert_path: key.string('Client certificate (PEM).'),
    consul_tls_key_path: key.string('Client key (PEM).'),
    consul_tls_cacert_path: key.string('CA certificate (PEM).'),
    consul_acl_token: key.string('ACL token (redacted in the API echo).'),
  }),
  // Q-31: GoBetween's sample config documents this name, but only `consul_datacenter` is read.
  aliases: { consul_service_datacenter: 'consul_datacenter' },
  prepare(wire: DiscoveryWire, fail: Fail): void {
    if (wire.consul === undefined) fail('consul_host', 'consul_host is required for consul discovery');
  },
  defaultTimeoutMs: DEFAULT_TIMEOUT_MS.http,
  retryWaitMs: DEFAULT_RETRY_WAIT_MS,
  parse(wire, path) {
    const g = requireGroup(wire, 'consul', path, 'consul_host');
    const host = requireString(g.consul_host, path, 'consul_host').trim().replace(/^https?:\/\//, '').replace(/\/+$/, '');
    const service = requireString(g.consul_service_name, path, 'consul_service_name');
    const scheme = g.consul_tls_enabled ? 'https' : 'http';
    const params = new URLSearchParams();
    if (g.consul_service_tag !== '') params.set('tag', g.consul_service_tag);
    if (g.consul_service_passing_only) params.set('passing', '1');
    if (g.consul_datacenter !== '') params.set('dc', g.consul_datacenter);
    const qs = params.toString();
    const url = `${scheme}://${host}/v1/health/service/${encodeURIComponent(service)}${qs === '' ? '' : `?${qs}`}`;
    try {
      new URL(url);
    } catch {
      throw new ConfigError(`${path}.consul_host`, `invalid address ${g.consul_host}`);
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (g.consul_acl_token !== '') headers['x-consul-token'] = g.consul_acl_token;
    if (g.consul_auth_username !== '' || g.consul_auth_password !== '') {
      headers['authorization'] = `Basic ${Buffer.from(`${g.consul_auth_username}:${g.consul_auth_password}`).toString('base64')}`;
    }
    const tls = g.consul_tls_enabled
      ? Object.freeze({ cert: g.consul_tls_cert_path, key: g.consul_tls_key_path, ca: g.consul_tls_cacert_path })
      : undefined;
    return Object.freeze({ url, headers: Object.freeze(headers), tls });
  },
  async fetch(s, ctx) {
    const opts: { -readonly [K in keyof HttpRequestOptions]: HttpRequestOptions[K] } = {
      url: s.url, signal: ctx.signal, headers: s.headers, maxRedirects: 0,
    };
    if (s.tls !== undefined) opts.tls = await loadTls(s.tls, true);
    const res = await httpRequest(opts);
    const text = res.body.toString('utf8');
    if (res.status !== 200) throw new Error(`consul answered status ${res.status}: ${text.slice(0, 200).trim()}`);
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch {
      throw new Error('consul answered invalid JSON');
    }
    if (!Array.isArray(list)) throw new Error('consul answered an unexpected document');
    const specs: BackendSpec[] = [];
    for (const e of list as HealthEntry[]) {
      if (e === null || typeof e !== 'object') continue;
      const svc = e.Service ?? {};
      const svcAddr = typeof svc.Address === 'string' ? svc.Address : '';
      const nodeAddr = typeof e.Node?.Address === 'string' ? e.Node.Address : '';
      const host = svcAddr !== '' ? svcAddr : nodeAddr;
      if (host === '' || typeof svc.Port !== 'number') {
        ctx.log.warn('consul entry without address or port skipped');
        continue;
      }
      specs.push({ host: bracketHost(host), port: String(svc.Port), priority: 1, weight: 1, maxConnections: 0, sni: sniFromTags(svc.Tags) });
    }
    return specs;
  },
};
