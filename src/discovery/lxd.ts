/**
 * `lxd`: LXD REST API (data-plane §11.9) over its unix socket or HTTPS.
 *
 * Per fetch: `GET /1.0/containers?recursion=2` (falling back to `/1.0/instances?recursion=2`
 * when the server has no containers endpoint); only `Running` containers; filtered by the config
 * key `lxd_container_label_key` (and its value `lxd_container_label_value` when set); port from the
 * config key `lxd_container_port_key` else `lxd_container_port`; interface from the config key
 * `lxd_container_interface_key` else `lxd_container_interface` (default eth0); the first address of
 * the family (`IPv4` default / `IPv6`, bracketed) on it, global scope preferred over link-local;
 * sni from the config key `lxd_container_sni_key`. Priority and weight 1.
 *
 * HTTPS authentication uses the lxc client layout in `lxd_config_directory` (default
 * `$HOME/.config/lxc`): `client.crt`/`client.key`, the server certificate
 * `servercerts/<remote>.crt` as trust anchor when present, `lxd_accept_server_cert` to accept any
 * server certificate, and `lxd_server_remote_password` to register the client certificate once
 * (`POST /1.0/certificates`) when the server says the client is untrusted. Generating client
 * certificates (`lxd_generate_client_certs`) is not done: create them with `lxc` or openssl.
 */
import type { DiscoveryWire } from '../config/types.js';
import { key, keyGroup } from '../core/keys.js';
import { nodeFsPromises, nodeOs } from '../core/builtin.js';
import { join } from 'node:path';
import type { BackendSpec } from '../core/backend.js';
import { ConfigError } from '../core/errors.js';
import { type HttpRequestOptions, type HttpTls, httpRequest } from './http.js';
import { DEFAULT_RETRY_WAIT_MS, DEFAULT_TIMEOUT_MS, type DiscoveryKind, type Fail, type FetchContext } from './types.js';
import { bracketHost, requireGroup } from './util.js';

export interface LxdSettings {
  readonly baseUrl: string;
  readonly socketPath: string | undefined;
  readonly remoteName: string;
  readonly remotePassword: string;
  readonly configDir: string;
  readonly generateClientCerts: boolean;
  readonly acceptServerCert: boolean;
  readonly labelKey: string;
  readonly labelValue: string;
  readonly port: number;
  readonly portKey: string;
  readonly iface: string;
  readonly ifaceKey: string;
  readonly sniKey: string;
  readonly family: 'inet' | 'inet6';
}

interface LxdAddress {
  family?: unknown;
  address?: unknown;
  scope?: unknown;
}

interface LxdContainer {
  name?: unknown;
  status?: unknown;
  config?: unknown;
  expanded_config?: unknown;
  state?: { network?: unknown } | null;
}

/** `$HOME`, `${VAR}`, `$VAR` and a leading `~` expanded. */
function expandPath(p: string): string {
  const withVars = p.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string | undefined, b: string | undefined) => process.env[a ?? b ?? ''] ?? '');
  return withVars.startsWith('~/') || withVars === '~' ? join(nodeOs().homedir(), withVars.slice(1)) : withVars;
}

export const lxdKind: DiscoveryKind<LxdSettings> = {
  kind: 'lxd',
  schema: keyGroup({
    lxd_server_address: key.string('LXD API: `unix:///var/lib/lxd/unix.socket` or `https://host:8443`.'),
    lxd_server_remote_name: key.string('Remote name in the lxc client config.', { effectiveDefault: 'local' }),
    lxd_server_remote_password: key.string('Trust password to register the client certificate (redacted in the API echo).'),
    lxd_config_directory: key.string('Directory of `client.crt` / `client.key`.', { effectiveDefault: '$HOME/.config/lxc' }),
    lxd_generate_client_certs: key.bool('Generate client certificates (not supported: the existing ones are used).'),
    lxd_accept_server_cert: key.bool('Accept the server certificate without verification.'),
    lxd_container_label_key: key.string('Only containers with this config key...'),
    lxd_container_label_value: key.string('...set to this value.'),
    lxd_container_port: key.int('Backend port.'),
    lxd_container_port_key: key.string('Container config key holding the backend port.'),
    lxd_container_interface: key.string('Network interface whose address is the backend host.', { effectiveDefault: 'eth0' }),
    lxd_container_interface_key: key.string('Container config key naming the interface.'),
    lxd_container_sni_key: key.string('Container config key holding the SNI name.'),
    lxd_container_address_type: key.string('`IPv4` or `IPv6`.', { effectiveDefault: 'IPv4' }),
  }),
  prepare(wire: DiscoveryWire, fail: Fail): void {
    // control-plane §2.11 step 20
    const lxd = wire.lxd;
    if (lxd === undefined || lxd.lxd_server_address === '') fail('lxd_server_address', 'lxd_server_address is required');
    const addr = lxd.lxd_server_address;
    if (!(addr.startsWith('https:') || addr.startsWith('unix:'))) {
      fail('lxd_server_address', `lxd_server_address should start with either unix:// or https:// but got ${addr}`);
    }
    if (lxd.lxd_server_remote_name === '') lxd.lxd_server_remote_name = 'local';
    if (lxd.lxd_config_directory === '') lxd.lxd_config_directory = `${process.env['HOME'] ?? ''}/.config/lxc`;
    if (lxd.lxd_container_interface === '') lxd.lxd_container_interface = 'eth0';
    if (lxd.lxd_container_address_type === '') lxd.lxd_container_address_type = 'IPv4';
    else if (!['IPv4', 'IPv6'].includes(lxd.lxd_container_address_type)) {
      fail('lxd_container_address_type', 'Invalid lxd_container_address_type. Must be IPv4 or IPv6');
    }
  },
  defaultTimeoutMs: DEFAULT_TIMEOUT_MS.http,
  retryWaitMs: DEFAULT_RETRY_WAIT_MS,
  parse(wire, path) {
    const g = requireGroup(wire, 'lxd', path, 'lxd_server_address');
    const address = g.lxd_server_address.trim();
    if (address === '') throw new ConfigError(`${path}.lxd_server_address`, 'lxd_server_address is required');
    let baseUrl: string;
    let socketPath: string | undefined;
    if (address.startsWith('unix://')) {
      socketPath = address.slice('unix://'.length);
      baseUrl = 'http://localhost';
      if (socketPath === '') throw new ConfigError(`${path}.lxd_server_address`, `invalid address ${address}`);
    } else if (address.startsWith('https://')) {
      try {
        new URL(address);
      } catch {
        throw new ConfigError(`${path}.lxd_server_address`, `invalid address ${address}`);
      }
      baseUrl = address.replace(/\/+$/, '');
    } else {
      throw new ConfigError(`${path}.lxd_server_address`, `lxd_server_address should start with either unix:// or https:// but got ${address}`);
    }
    const type = g.lxd_container_address_type === '' ? 'IPv4' : g.lxd_container_address_type;
    if (type !== 'IPv4' && type !== 'IPv6') {
      throw new ConfigError(`${path}.lxd_container_address_type`, 'Invalid lxd_container_address_type. Must be IPv4 or IPv6');
    }
    return Object.freeze({
      baseUrl,
      socketPath,
      remoteName: g.lxd_server_remote_name === '' ? 'local' : g.lxd_server_remote_name,
      remotePassword: g.lxd_server_remote_password,
      configDir: expandPath(g.lxd_config_directory === '' ? '$HOME/.config/lxc' : g.lxd_config_directory),
      generateClientCerts: g.lxd_generate_client_certs,
      acceptServerCert: g.lxd_accept_server_cert,
      labelKey: g.lxd_container_label_key,
      labelValue: g.lxd_container_label_value,
      port: g.lxd_container_port,
      portKey: g.lxd_container_port_key,
      iface: g.lxd_container_interface === '' ? 'eth0' : g.lxd_container_interface,
      ifaceKey: g.lxd_container_interface_key,
      sniKey: g.lxd_container_sni_key,
      family: type === 'IPv4' ? 'inet' : 'inet6',
    });
  },
  async fetch(s, ctx) {
    const tls = s.socketPath === undefined ? await lxdTls(s) : undefined;
    let res = await lxdGet(s, '/1.0/containers?recursion=2', tls, ctx);
    if (res.status === 403 && s.remotePassword !== '' && tls !== undefined) {
      await trustClient(s, tls, ctx);
      res = await lxdGet(s, '/1.0/containers?recursion=2', tls, ctx);
    }
    if (res.status === 404) res = await lxdGet(s, '/1.0/instances?recursion=2', tls, ctx);
    const list = metadataOf(res);
    if (!Array.isArray(list)) throw new Error('lxd answered an unexpected document');
    const specs: BackendSpec[] = [];
    for (const c of list as LxdContainer[]) {
      if (c === null || typeof c !== 'object' || c.status !== 'Running') continue;
      const name = typeof c.name === 'string' ? c.name : '?';
      const cfg = { ...stringMap(c.expanded_config), ...stringMap(c.config) };
      if (s.labelKey !== '') {
        const v = cfg[s.labelKey];
        if (v === undefined || (s.labelValue !== '' && v !== s.labelValue)) continue;
      }
      let port = s.port > 0 ? String(s.port) : '';
      if (s.portKey !== '') {
        const v = cfg[s.portKey];
        if (v !== undefined && /^\d+$/.test(v.trim())) port = v.trim();
      }
      if (port === '') {
        ctx.log.warn(`lxd container ${name}: no port (lxd_container_port or ${s.portKey || 'lxd_container_port_key'}), skipped`);
        continue;
      }
      const iface = (s.ifaceKey !== '' ? cfg[s.ifaceKey] : undefined) ?? s.iface;
      const address = interfaceAddress(c.state?.network, iface, s.family);
      if (address === undefined) {
        ctx.log.warn(`lxd container ${name}: no ${s.family === 'inet' ? 'IPv4' : 'IPv6'} address on ${iface}, skipped`);
        continue;
      }
      const sni = s.sniKey !== '' ? cfg[s.sniKey] ?? '' : '';
      specs.push({ host: bracketHost(address), port, priority: 1, weight: 1, maxConnections: 0, sni });
    }
    return specs;
  },
};

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === null || typeof v !== 'object') return out;
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

/** First address of the family on the interface; global scope preferred. */
function interfaceAddress(network: unknown, iface: string, family: 'inet' | 'inet6'): string | undefined {
  if (network === null || typeof network !== 'object') return undefined;
  const nic = (network as Record<string, { addresses?: unknown } | undefined>)[iface];
  if (nic === undefined || nic === null || !Array.isArray(nic.addresses)) return undefined;
  const addrs = (nic.addresses as LxdAddress[]).filter(
    (a) => a !== null && typeof a === 'object' && a.family === family && typeof a.address === 'string' && a.address !== '',
  );
  const best = addrs.find((a) => a.scope === 'global') ?? addrs[0];
  return best === undefined ? undefined : String(best.address);
}

interface LxdResponse {
  status: number;
  doc: unknown;
}

async function lxdGet(s: LxdSettings, path: string, tls: HttpTls | undefined, ctx: FetchContext, body?: string): Promise<LxdResponse> {
  const opts: { -readonly [K in keyof HttpRequestOptions]: HttpRequestOptions[K] } = {
    url: `${s.baseUrl}${path}`, signal: ctx.signal, maxRedirects: 0,
  };
  if (s.socketPath !== undefined) opts.socketPath = s.socketPath;
  if (tls !== undefined) opts.tls = tls;
  if (body !== undefined) {
    opts.method = 'POST';
    opts.body = body;
    opts.headers = { 'content-type': 'application/json' };
  }
  const res = await httpRequest(opts);
  let doc: unknown;
  try {
    doc = JSON.parse(res.body.toString('utf8'));
  } catch {
    throw new Error(`lxd ${path}: status ${res.status}, invalid JSON`);
  }
  return { status: res.status, doc };
}

/** The `metadata` of a sync response; throws with LXD's error text otherwise. */
function metadataOf(res: LxdResponse): unknown {
  const d = res.doc as { type?: unknown; error?: unknown; metadata?: unknown } | null;
  if (d === null || typeof d !== 'object') throw new Error('lxd answered an unexpected document');
  if (d.type === 'error' || res.status !== 200) {
    throw new Error(`lxd error (status ${res.status}): ${typeof d.error === 'string' ? d.error : 'unknown'}`);
  }
  return d.metadata;
}

async function exists(p: string): Promise<boolean> {
  try {
    await nodeFsPromises().access(p);
    return true;
  } catch {
    return false;
  }
}

async function lxdTls(s: LxdSettings): Promise<HttpTls> {
  const certPath = join(s.configDir, 'client.crt');
  const keyPath = join(s.configDir, 'client.key');
  const serverCertPath = join(s.configDir, 'servercerts', `${s.remoteName}.crt`);
  const tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean } = { rejectUnauthorized: !s.acceptServerCert };
  if (await exists(certPath) && await exists(keyPath)) {
    const fsp = nodeFsPromises();
    tls.cert = await fsp.readFile(certPath);
    tls.key = await fsp.readFile(keyPath);
  } else if (s.generateClientCerts) {
    throw new Error(`client certificate ${certPath} not found; generating client certificates is not supported, create them with lxc or openssl`);
  }
  if (await exists(serverCertPath)) tls.ca = await nodeFsPromises().readFile(serverCertPath);
  return tls;
}

/** Registers our client certificate with the trust password. */
async function trustClient(s: LxdSettings, tls: HttpTls, ctx: FetchContext): Promise<void> {
  if (tls.cert === undefined) throw new Error('lxd: a client certificate is needed to authenticate with lxd_server_remote_password');
  const res = await lxdGet(s, '/1.0/certificates', tls, ctx, JSON.stringify({ type: 'client', password: s.remotePassword }));
  if (res.status !== 200 && res.status !== 201 && res.status !== 202) {
    const d = res.doc as { error?: unknown } | null;
    throw new Error(`lxd: authentication failed: ${typeof d?.error === 'string' ? d.error : `status ${res.status}`}`);
  }
  ctx.log.info(`lxd: client certificate registered with ${s.remoteName}`);
}
