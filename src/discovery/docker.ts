/**
 * `docker`: Docker Engine API (data-plane §11.4). `GET /containers/json` (running containers)
 * with a `label` filter when `docker_container_label` is set, over HTTP, HTTPS (client cert/key,
 * optional CA; without a CA the server is not verified, as GoBetween's sample config) or a unix
 * socket (`unix:///var/run/docker.sock`). Every port entry whose private port equals
 * `docker_container_private_port` gives a backend on its public port; host =
 *   1. the container's env var `docker_container_host_env_var` (one inspect call), if set and non-empty;
 *   2. the entry's IP unless it is a wildcard (0.0.0.0 / ::); IPv6 bracketed (D22);
 *   3. the endpoint's host (0.0.0.0 for a unix socket, as GoBetween).
 * Unpublished ports are skipped with a warning (GoBetween produced `host:0`, GitHub #72), and the
 * duplicate entry Docker lists for the IPv6 wildcard binding collapses into the IPv4 one.
 * sni = the container label `sni`; weight and priority 1.
 */
import type { DiscoveryWire } from '../config/types.js';
import { key, keyGroup } from '../core/keys.js';
import type { BackendSpec } from '../core/backend.js';
import { ConfigError } from '../core/errors.js';
import { httpRequest, loadTls, type HttpRequestOptions } from './http.js';
import { DEFAULT_RETRY_WAIT_MS, DEFAULT_TIMEOUT_MS, type DiscoveryKind, type Fail, type FetchContext } from './types.js';
import { bracketHost, requireGroup, requireString } from './util.js';

export interface DockerSettings {
  /** Base URL (`http://host:port` or `https://…`; `http://localhost` with a socket). */
  readonly baseUrl: string;
  readonly socketPath: string | undefined;
  /** Host used when the port entry binds a wildcard. */
  readonly endpointHost: string;
  readonly label: string;
  readonly privatePort: number;
  readonly hostEnvVar: string;
  readonly tls: { readonly cert: string; readonly key: string; readonly ca: string } | undefined;
}

interface PortEntry {
  IP?: unknown;
  PrivatePort?: unknown;
  PublicPort?: unknown;
  Type?: unknown;
}

interface ContainerEntry {
  Id?: unknown;
  Names?: unknown;
  Labels?: unknown;
  Ports?: unknown;
}

export function parseDockerEndpoint(endpoint: string, tlsEnabled: boolean, path: string): Pick<DockerSettings, 'baseUrl' | 'socketPath' | 'endpointHost'> {
  if (endpoint.startsWith('unix://')) {
    const socketPath = endpoint.slice('unix://'.length);
    if (socketPath === '') throw new ConfigError(`${path}.docker_endpoint`, `invalid endpoint ${endpoint}`);
    return { baseUrl: 'http://localhost', socketPath, endpointHost: '0.0.0.0' };
  }
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    throw new ConfigError(`${path}.docker_endpoint`, `invalid endpoint ${endpoint}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:' && u.protocol !== 'tcp:') {
    throw new ConfigError(`${path}.docker_endpoint`, `unsupported scheme ${u.protocol} in ${endpoint}`);
  }
  const secure = tlsEnabled || u.protocol === 'https:';
  const host = u.hostname; // keeps IPv6 brackets
  const port = u.port === '' ? (u.protocol === 'tcp:' ? (secure ? '2376' : '2375') : '') : u.port;
  const base = `${secure ? 'https' : 'http'}://${host}${port === '' ? '' : `:${port}`}${u.pathname.replace(/\/+$/, '')}`;
  return { baseUrl: base, socketPath: undefined, endpointHost: host === '' ? '0.0.0.0' : host };
}

async function getJson(s: DockerSettings, path: string, ctx: FetchContext): Promise<unknown> {
  const opts: { -readonly [K in keyof HttpRequestOptions]: HttpRequestOptions[K] } = {
    url: `${s.baseUrl}${path}`,
    signal: ctx.signal,
    maxRedirects: 0,
  };
  if (s.socketPath !== undefined) opts.socketPath = s.socketPath;
  if (s.tls !== undefined) opts.tls = await loadTls(s.tls, false);
  const res = await httpRequest(opts);
  const text = res.body.toString('utf8');
  if (res.status !== 200) throw new Error(`docker API ${path}: status ${res.status}: ${text.slice(0, 200).trim()}`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`docker API ${path}: invalid JSON`);
  }
}

function isWildcard(ip: string): boolean {
  return ip === '' || ip === '0.0.0.0' || ip === '::';
}

export const dockerKind: DiscoveryKind<DockerSettings> = {
  kind: 'docker',
  schema: keyGroup({
    docker_endpoint: key.string('Docker Engine API: `http://host:port`, `https://host:port` or `unix:///var/run/docker.sock`.'),
    docker_container_label: key.string('Only containers with this label (`key` or `key=value`).'),
    docker_container_private_port: key.int('Container port whose published port becomes the backend port.'),
    docker_container_host_env_var: key.string('Container environment variable holding the backend host (optional).'),
    docker_tls_enabled: key.bool('Use TLS with the client certificate below.'),
    docker_tls_cert_path: key.string('Client certificate (PEM).'),
    docker_tls_key_path: key.string('Client key (PEM).'),
    docker_tls_cacert_path: key.string('CA certificate to verify the Docker host with (PEM).'),
  }),
  prepare(wire: DiscoveryWire, fail: Fail): void {
    if (wire.docker === undefined) fail('docker_endpoint', 'docker_endpoint is required for docker discovery');
  },
  defaultTimeoutMs: DEFAULT_TIMEOUT_MS.http,
  retryWaitMs: DEFAULT_RETRY_WAIT_MS,
  parse(wire, path) {
    const g = requireGroup(wire, 'docker', path, 'docker_endpoint');
    const endpoint = requireString(g.docker_endpoint, path, 'docker_endpoint').trim();
    if (!Number.isInteger(g.docker_container_private_port) || g.docker_container_private_port <= 0 || g.docker_container_private_port > 65535) {
      throw new ConfigError(`${path}.docker_container_private_port`, 'required');
    }
    let tls: DockerSettings['tls'];
    if (g.docker_tls_enabled) {
      if ((g.docker_tls_cert_path === '') !== (g.docker_tls_key_path === '')) {
        throw new ConfigError(`${path}.docker_tls_cert_path`, 'Missing key or certificate required for TLS client validation');
      }
      tls = Object.freeze({ cert: g.docker_tls_cert_path, key: g.docker_tls_key_path, ca: g.docker_tls_cacert_path });
    }
    const ep = parseDockerEndpoint(endpoint, g.docker_tls_enabled, path);
    return Object.freeze({
      ...ep,
      label: g.docker_container_label.trim(),
      privatePort: g.docker_container_private_port,
      hostEnvVar: g.docker_container_host_env_var,
      tls: ep.baseUrl.startsWith('https:') ? tls ?? Object.freeze({ cert: '', key: '', ca: '' }) : undefined,
    });
  },
  async fetch(s, ctx) {
    const query = s.label === '' ? '' : `?filters=${encodeURIComponent(JSON.stringify({ label: [s.label] }))}`;
    const list = await getJson(s, `/containers/json${query}`, ctx);
    if (!Array.isArray(list)) throw new Error('docker API /containers/json: unexpected response');
    const specs = new Map<string, BackendSpec>();
    for (const c of list as ContainerEntry[]) {
      if (c === null || typeof c !== 'object') continue;
      const id = typeof c.Id === 'string' ? c.Id : '';
      const name = Array.isArray(c.Names) && typeof c.Names[0] === 'string' ? c.Names[0] : id.slice(0, 12);
      const labels = c.Labels !== null && typeof c.Labels === 'object' ? (c.Labels as Record<string, unknown>) : {};
      const sni = typeof labels['sni'] === 'string' ? labels['sni'] : '';
      const ports = (Array.isArray(c.Ports) ? c.Ports : []) as PortEntry[];
      const matching = ports.filter((p) => p !== null && typeof p === 'object' && p.PrivatePort === s.privatePort);
      if (matching.length === 0) continue;

      let envHost = '';
      if (s.hostEnvVar !== '' && id !== '') {
        envHost = await containerEnv(s, id, s.hostEnvVar, ctx);
      }
      for (const p of matching) {
        const publicPort = typeof p.PublicPort === 'number' ? p.PublicPort : 0;
        if (publicPort <= 0) {
          ctx.log.warn(`container ${name}: port ${s.privatePort} is not published, skipped`);
          continue;
        }
        const ip = typeof p.IP === 'string' ? p.IP : '';
        const host = envHost !== '' ? bracketHost(envHost) : !isWildcard(ip) ? bracketHost(ip) : s.endpointHost;
        const spec: BackendSpec = { host, port: String(publicPort), priority: 1, weight: 1, maxConnections: 0, sni };
        specs.set(`${host}:${spec.port}`, spec);
      }
    }
    return [...specs.values()];
  },
};

/** The value of one env var of a container (`GET /containers/<id>/json`), '' when unset. */
async function containerEnv(s: DockerSettings, id: string, name: string, ctx: FetchContext): Promise<string> {
  const info = await getJson(s, `/containers/${encodeURIComponent(id)}/json`, ctx);
  const env = (info as { Config?: { Env?: unknown } } | null)?.Config?.Env;
  if (!Array.isArray(env)) return '';
  for (const e of env) {
    if (typeof e === 'string' && e.startsWith(`${name}=`)) return e.slice(name.length + 1);
  }
  return '';
}
