/**
 * The machine-readable configuration reference: every key with its path, Go type, default and
 * description, built from key schemas (core/keys.ts). The discovery and health-check keys
 * come from the kinds' own schemas (via the registries), so a new kind documents itself; the
 * root and server sections are declared below. A generator writes docs/configuration.md from
 * {@link configReference}; a test checks that it lists exactly the keys the decoder reads.
 */
import { describeGroup, key, keyGroup, type GoType, type KeyGroupSchema } from '../core/keys.js';
import { createDiscoveryRegistry } from '../discovery/index.js';
import { createHealthcheckRegistry } from '../healthcheck/index.js';

export interface KeyDoc {
  /** Dotted path with `NAME` for the server name: `servers.NAME.discovery.srv_lookup_server`. */
  readonly path: string;
  /** The table the key is in: `api.basic_auth`, `servers.NAME.healthcheck`. */
  readonly section: string;
  readonly key: string;
  readonly type: GoType;
  /** Effective default (what applies when the key is absent). */
  readonly default: string | number | boolean | readonly string[];
  readonly description: string;
  /** For kind-specific keys: the `kind` value that reads them (`srv`, `probe`). */
  readonly kind?: string;
}

export interface SectionDoc {
  /** `logging`, `servers.NAME`, `servers.NAME.discovery`. */
  readonly section: string;
  readonly description: string;
  readonly schema: KeyGroupSchema;
}

const durationNote = 'Go duration (`500ms`, `1m30s`; `0` = none)';

/** The root and server sections, in GoBetween's order. */
export const CORE_SECTIONS: readonly SectionDoc[] = [
  {
    section: 'logging',
    description: 'Log output.',
    schema: keyGroup({
      level: key.string('`panic`, `fatal`, `error`, `warn`, `info`, `debug` or `trace`.', { effectiveDefault: 'info' }),
      output: key.string('`stdout`, `stderr` or a file path (appended).', { effectiveDefault: 'stdout' }),
      format: key.string('`text` (GoBetween\'s layout) or `json`.', { effectiveDefault: 'text' }),
    }),
  },
  {
    section: 'api',
    description: 'The REST API.',
    schema: keyGroup({
      enabled: key.bool('Serve the REST API.'),
      bind: key.string('Listen address, `host:port` (empty: every address, port 80 or 443 with TLS).'),
      cors: key.bool('Answer CORS requests (any origin).'),
    }),
  },
  {
    section: 'api.basic_auth',
    description: 'HTTP basic authentication for every route but `/ping`.',
    schema: keyGroup({
      login: key.string('User name (required when the section is present).'),
      password: key.string('Password (redacted in `/dump`).'),
    }),
  },
  {
    section: 'api.tls',
    description: 'Serve the API over HTTPS.',
    schema: keyGroup({
      cert_path: key.string('Certificate chain (PEM).'),
      key_path: key.string('Private key (PEM).'),
    }),
  },
  {
    section: 'metrics',
    description: 'Prometheus metrics on `GET /metrics`.',
    schema: keyGroup({
      enabled: key.bool('Serve metrics.'),
      bind: key.string('Listen address, `host:port`.'),
    }),
  },
  {
    section: 'defaults',
    description: 'Connection options for every server that does not set them (API-created ones too).',
    schema: keyGroup({
      max_connections: key.int('Client connections per server (0 = no limit).'),
      client_idle_timeout: key.duration(`Close a connection idle on the client side this long; ${durationNote}.`, { effectiveDefault: '0' }),
      backend_idle_timeout: key.duration(`Close a connection idle on the backend side this long; ${durationNote}.`, { effectiveDefault: '0' }),
      backend_connection_timeout: key.duration(`Give up connecting to a backend after this long; ${durationNote}.`, { effectiveDefault: '0' }),
    }),
  },
  {
    section: 'acme',
    description: 'ACME certificates (Let\'s Encrypt by default) for the servers\' `tls.acme_hosts`.',
    schema: keyGroup({
      challenge: key.string('`http` (HTTP-01 on `http_bind`) or `tls-alpn` (TLS-ALPN-01 on the TLS listeners; tsbetween only).', { effectiveDefault: 'http' }),
      http_bind: key.string('Listen address of the HTTP challenge.', { effectiveDefault: '0.0.0.0:80' }),
      cache_dir: key.string('Certificate cache directory.', { effectiveDefault: '/tmp' }),
      directory_url: key.string('ACME directory URL (tsbetween only; default Let\'s Encrypt production).'),
      email: key.string('Account contact e-mail (tsbetween only).'),
      root_ca_cert_path: key.string('CA certificate (PEM) trusted for the directory, for private CAs (tsbetween only).'),
    }),
  },
  {
    section: 'access_log',
    description: 'One line per connection when it ends (tsbetween only; off unless enabled).',
    schema: keyGroup({
      enabled: key.bool('Write the access log.'),
      output: key.string('`stdout`, `stderr` or a file path (appended).', { effectiveDefault: 'stdout' }),
      format: key.string('`json` or `text`.', { effectiveDefault: 'json' }),
      rate_limit: key.int('Lines per second at most (0 = no cap).', { effectiveDefault: 1000 }),
    }),
  },
  {
    section: 'profiler',
    description: 'CPU profile and heap snapshot endpoints, on their own listener.',
    schema: keyGroup({
      enabled: key.bool('Serve the profiler.'),
      bind: key.string('Listen address, `host:port`.'),
    }),
  },
  {
    section: 'servers.NAME',
    description: 'One load-balanced server.',
    schema: keyGroup({
      max_connections: key.int('Client connections (0 = no limit; default from `[defaults]`).'),
      client_idle_timeout: key.duration(`Client-side idle timeout; ${durationNote}; default from \`[defaults]\`.`, { effectiveDefault: '0' }),
      backend_idle_timeout: key.duration(`Backend-side idle timeout; ${durationNote}; default from \`[defaults]\`.`, { effectiveDefault: '0' }),
      backend_connection_timeout: key.duration(`Backend connect timeout; ${durationNote}; default from \`[defaults]\`.`, { effectiveDefault: '0' }),
      bind: key.string('Listen address, `host:port` (required).'),
      protocol: key.string('`tcp`, `tls` or `udp`.', { effectiveDefault: 'tcp' }),
      balance: key.string('`weight`, `roundrobin`, `leastconn`, `leastbandwidth`, `iphash` or `iphash1`.', { effectiveDefault: 'weight' }),
      backend_connection_retries: key.int('On a failed backend connect, try up to N other eligible backends (0–16; tsbetween only).'),
      backend_prewarm: key.int('Keep N connected idle sockets to each live backend, handed to new clients and replaced after 60 s idle at most (0 = off; per worker; not with `udp`; tsbetween only).'),
      passive_health_fails: key.int('Take a backend out after K failed connects in a row, until its next passing check (0 = off; tsbetween only).'),
      passive_health_down_time: key.duration('Without an active check, how long a passively downed backend stays out (tsbetween only).', { effectiveDefault: '10s' }),
    }),
  },
  {
    section: 'servers.NAME.sni',
    description: 'Route TLS connections by the SNI name of their ClientHello.',
    schema: keyGroup({
      hostname_matching_strategy: key.string('`exact` or `regexp`.', { effectiveDefault: 'exact' }),
      unexpected_hostname_strategy: key.string('`default`, `reject` or `any`.', { effectiveDefault: 'default' }),
      read_timeout: key.duration(`How long to wait for the ClientHello; ${durationNote}.`, { effectiveDefault: '2s' }),
    }),
  },
  {
    section: 'servers.NAME.tls',
    description: 'TLS termination.',
    schema: keyGroup({
      acme_hosts: key.strings('Host names to get certificates for with ACME.'),
      cert_path: key.string('Certificate chain (PEM).'),
      key_path: key.string('Private key (PEM).'),
      ciphers: key.strings('Allowed cipher suites (Go names).'),
      min_version: key.string('Lowest TLS version (`tls1`, `tls1.1`, `tls1.2`, `tls1.3`).'),
      max_version: key.string('Highest TLS version.'),
      session_tickets: key.bool('Enable session tickets.'),
    }),
  },
  {
    section: 'servers.NAME.backends_tls',
    description: 'TLS towards the backends.',
    schema: keyGroup({
      ignore_verify: key.bool('Do not verify the backend certificates.'),
      root_ca_cert_path: key.string('CA certificates to verify backends with (PEM).'),
      cert_path: key.string('Client certificate (PEM).'),
      key_path: key.string('Client key (PEM).'),
      ciphers: key.strings('Allowed cipher suites (Go names).'),
      min_version: key.string('Lowest TLS version.'),
      max_version: key.string('Highest TLS version.'),
      session_tickets: key.bool('Enable session tickets.'),
    }),
  },
  {
    section: 'servers.NAME.udp',
    description: 'UDP sessions (protocol `udp`).',
    schema: keyGroup({
      max_requests: key.int('Datagrams from the client per session (0 = no limit).'),
      max_responses: key.int('Datagrams from the backend per session (0 = no limit).'),
      transparent: key.bool('Send to backends from the client\'s address (refused: Node.js has no raw sockets).'),
      max_sessions: key.int('Session table cap; the least recently active session is evicted (tsbetween only).', { effectiveDefault: 100000 }),
    }),
  },
  {
    section: 'servers.NAME.access',
    description: 'Client access rules; the first match wins.',
    schema: keyGroup({
      default: key.string('`allow` or `deny` when no rule matches.', { effectiveDefault: 'allow' }),
      rules: key.strings('`allow|deny IP-or-CIDR` lines.'),
    }),
  },
  {
    section: 'servers.NAME.proxy_protocol',
    description: 'Send a PROXY protocol header to the backends.',
    schema: keyGroup({ version: key.string('PROXY protocol version: `1` (text) or `2` (binary; tsbetween only).') }),
  },
  {
    section: 'servers.NAME.accept_proxy_protocol',
    description: 'Every client connection starts with a PROXY v1/v2 header from an upstream balancer (tsbetween only).',
    schema: keyGroup({
      from: key.strings('Upstream addresses or CIDRs allowed to connect (empty = any).'),
      timeout: key.duration('The header must arrive within this time.', { effectiveDefault: '2s' }),
    }),
  },
  {
    section: 'servers.NAME.discovery',
    description: 'Where the backends come from; the kind\'s own keys follow.',
    schema: keyGroup({
      kind: key.string('Discovery kind (required).'),
      failpolicy: key.string('On a failed fetch: `keeplast` (keep the backends) or `setempty`.', { effectiveDefault: 'keeplast' }),
      interval: key.duration(`Fetch interval; ${durationNote} (fetch once).`, { effectiveDefault: '0' }),
      timeout: key.duration(`Per-fetch timeout; ${durationNote} (the kind's default).`, { effectiveDefault: '0' }),
    }),
  },
  {
    section: 'servers.NAME.healthcheck',
    description: 'Active health checks; the kind\'s own keys follow.',
    schema: keyGroup({
      kind: key.string('`ping`, `probe`, `exec`, `http` (tsbetween only) or `none`.', { effectiveDefault: 'none' }),
      interval: key.duration('Check interval (required for an active check).'),
      passes: key.int('Consecutive successes to mark a backend live.', { effectiveDefault: 1 }),
      fails: key.int('Consecutive failures to mark a backend dead.', { effectiveDefault: 1 }),
      timeout: key.duration(`Per-check timeout; ${durationNote} (the interval).`, { effectiveDefault: '0' }),
      initial_status: key.string('`healthy` or `unhealthy` for new backends.', { effectiveDefault: 'healthy' }),
    }),
  },
];

function docs(section: string, schema: KeyGroupSchema, kind?: string): KeyDoc[] {
  return describeGroup(schema).map((k) => ({
    path: `${section}.${k.name}`,
    section,
    key: k.name,
    type: k.type,
    default: k.default,
    description: k.description,
    ...(kind !== undefined ? { kind } : {}),
  }));
}

/** Every config key, root sections first, then a server's, each kind's keys after its section. */
export function configReference(): KeyDoc[] {
  const out: KeyDoc[] = [];
  for (const s of CORE_SECTIONS) {
    out.push(...docs(s.section, s.schema));
    if (s.section === 'servers.NAME.discovery') {
      for (const k of createDiscoveryRegistry().list()) if (k.schema !== undefined) out.push(...docs(s.section, k.schema, k.kind));
    }
    if (s.section === 'servers.NAME.healthcheck') {
      for (const k of createHealthcheckRegistry().list()) if (k.schema !== undefined) out.push(...docs(s.section, k.schema, k.kind));
    }
  }
  return out;
}
