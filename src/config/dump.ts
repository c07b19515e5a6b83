/**
 * Config output: the normalised server echoed by GET /servers[/:name] (control-plane §2.14, §3.6)
 * and the whole config written by GET /dump in JSON or TOML (§3.4.2).
 *
 * The builders return plain objects whose key order is GoBetween's output order; `goJson` writes
 * them as GoBetween does, and the TOML writer below lays them out like the BurntSushi v0.3.1
 * encoder GoBetween uses (scalars before sub-tables, 2-space indentation per table depth, an
 * empty line before each top-level table, nulls omitted).
 *
 * Deliberate differences from GoBetween (documented in the README's compatibility section):
 * - `/dump` never reveals `api.basic_auth.password` (Q-32); it writes {@link REDACTED_PASSWORD}.
 * - `healthcheck.initial_status` is omitted from the echo while it is null, unless
 *   `nullInitialStatus` is asked for. GoBetween 0.8.1+ writes `"initial_status": null`, which
 *   changes the key set the OpenSVC janitor compares and makes it delete and re-create every
 *   server on each reconcile (opensvc.md §1.5). Without it the echo has GoBetween 0.8.0's shape.
 */
import type {
  AccessWire,
  ApiWire,
  BackendsTlsWire,
  ConfigWire,
  DefaultsWire,
  DiscoveryWire,
  HealthcheckWire,
  ServerWire,
  SniWire,
  TlsWire,
  UdpWire,
} from './types.js';
import { compareGoStrings, goJson, type JsonObject, type JsonValue } from './go-json.js';

/** What `/dump` writes instead of the basic-auth password (Q-32 fix). */
export const REDACTED_PASSWORD = '<redacted>';

export interface EchoOptions {
  /**
   * Write `"initial_status": null` when no initial status was configured (GoBetween 0.8.1+'s exact
   * shape, e.g. the sample GET output of control-plane §3.4.3). Default false: the key is omitted
   * while null, which keeps the OpenSVC janitor's key-set comparison stable (opensvc.md §1.5).
   */
  nullInitialStatus?: boolean;
}

export interface ConfigJsonOptions extends EchoOptions {
  /** Replace `api.basic_auth.password` with {@link REDACTED_PASSWORD}. Default true. */
  redactPassword?: boolean;
}

/** Thrown by {@link dumpConfig} for a format other than `toml` / `json` (the API answers 500). */
export class UnknownFormatError extends Error {
  override readonly name = 'UnknownFormatError';
  readonly format: string;

  constructor(format: string) {
    super(`Unknown format ${format}`);
    this.format = format;
  }
}

const strings = (a: readonly string[]): string[] => [...a];
const nullableStrings = (a: readonly string[] | null): string[] | null => (a === null ? null : [...a]);

function sniToJson(s: SniWire): JsonObject {
  return {
    hostname_matching_strategy: s.hostname_matching_strategy,
    unexpected_hostname_strategy: s.unexpected_hostname_strategy,
    read_timeout: s.read_timeout,
  };
}

function tlsToJson(t: TlsWire): JsonObject {
  return {
    acme_hosts: nullableStrings(t.acme_hosts),
    cert_path: t.cert_path,
    key_path: t.key_path,
    ciphers: nullableStrings(t.ciphers),
    min_version: t.min_version,
    max_version: t.max_version,
    session_tickets: t.session_tickets,
  };
}

function backendsTlsToJson(t: BackendsTlsWire): JsonObject {
  return {
    ignore_verify: t.ignore_verify,
    root_ca_cert_path: t.root_ca_cert_path,
    cert_path: t.cert_path,
    key_path: t.key_path,
    ciphers: nullableStrings(t.ciphers),
    min_version: t.min_version,
    max_version: t.max_version,
    session_tickets: t.session_tickets,
  };
}

function udpToJson(u: UdpWire): JsonObject {
  return { max_requests: u.max_requests, max_responses: u.max_responses, transparent: u.transparent };
}

function accessToJson(a: AccessWire): JsonObject {
  return { default: a.default, rules: nullableStrings(a.rules) };
}

/** `discovery`: common keys, then every supplied kind group flattened in §3.6 group order. */
export function discoveryToJson(d: DiscoveryWire): JsonObject {
  const o: JsonObject = { kind: d.kind, failpolicy: d.failpolicy, interval: d.interval, timeout: d.timeout };
  if (d.static) {
    o['static_list'] = strings(d.static.static_list);
  }
  if (d.srv) {
    o['srv_lookup_server'] = d.srv.srv_lookup_server;
    o['srv_lookup_pattern'] = d.srv.srv_lookup_pattern;
    o['srv_dns_protocol'] = d.srv.srv_dns_protocol;
  }
  if (d.docker) {
    const g = d.docker;
    o['docker_endpoint'] = g.docker_endpoint;
    o['docker_container_label'] = g.docker_container_label;
    o['docker_container_private_port'] = g.docker_container_private_port;
    o['docker_container_host_env_var'] = g.docker_container_host_env_var;
    o['docker_tls_enabled'] = g.docker_tls_enabled;
    o['docker_tls_cert_path'] = g.docker_tls_cert_path;
    o['docker_tls_key_path'] = g.docker_tls_key_path;
    o['docker_tls_cacert_path'] = g.docker_tls_cacert_path;
  }
  if (d.json) {
    const g = d.json;
    o['json_endpoint'] = g.json_endpoint;
    o['json_host_pattern'] = g.json_host_pattern;
    o['json_port_pattern'] = g.json_port_pattern;
    o['json_weight_pattern'] = g.json_weight_pattern;
    o['json_priority_pattern'] = g.json_priority_pattern;
    o['json_sni_pattern'] = g.json_sni_pattern;
    o['json_max_connections_pattern'] = g.json_max_connections_pattern;
  }
  if (d.exec) {
    o['exec_command'] = strings(d.exec.exec_command);
  }
  if (d.plaintext) {
    o['plaintext_endpoint'] = d.plaintext.plaintext_endpoint;
    o['plaintext_regex_pattern'] = d.plaintext.plaintext_regex_pattern;
  }
  if (d.consul) {
    const g = d.consul;
    o['consul_host'] = g.consul_host;
    o['consul_service_name'] = g.consul_service_name;
    o['consul_service_tag'] = g.consul_service_tag;
    o['consul_service_passing_only'] = g.consul_service_passing_only;
    o['consul_datacenter'] = g.consul_datacenter;
    o['consul_auth_username'] = g.consul_auth_username;
    o['consul_auth_password'] = g.consul_auth_password;
    o['consul_tls_enabled'] = g.consul_tls_enabled;
    o['consul_tls_cert_path'] = g.consul_tls_cert_path;
    o['consul_tls_key_path'] = g.consul_tls_key_path;
    o['consul_tls_cacert_path'] = g.consul_tls_cacert_path;
    o['consul_acl_token'] = g.consul_acl_token;
  }
  if (d.lxd) {
    const g = d.lxd;
    o['lxd_server_address'] = g.lxd_server_address;
    o['lxd_server_remote_name'] = g.lxd_server_remote_name;
    o['lxd_server_remote_password'] = g.lxd_server_remote_password;
    o['lxd_config_directory'] = g.lxd_config_directory;
    o['lxd_generate_client_certs'] = g.lxd_generate_client_certs;
    o['lxd_accept_server_cert'] = g.lxd_accept_server_cert;
    o['lxd_container_label_key'] = g.lxd_container_label_key;
    o['lxd_container_label_value'] = g.lxd_container_label_value;
    o['lxd_container_port'] = g.lxd_container_port;
    o['lxd_container_port_key'] = g.lxd_container_port_key;
    o['lxd_container_interface'] = g.lxd_container_interface;
    o['lxd_container_interface_key'] = g.lxd_container_interface_key;
    o['lxd_container_sni_key'] = g.lxd_container_sni_key;
    o['lxd_container_address_type'] = g.lxd_container_address_type;
  }
  return o;
}

/** `healthcheck`: common keys, then the probe group, then the exec group (§3.6). */
export function healthcheckToJson(h: HealthcheckWire, opts: EchoOptions = {}): JsonObject {
  const o: JsonObject = {
    kind: h.kind,
    interval: h.interval,
    passes: h.passes,
    fails: h.fails,
    timeout: h.timeout,
  };
  if (h.initial_status !== null || opts.nullInitialStatus === true) o['initial_status'] = h.initial_status;
  if (h.probe) {
    const g = h.probe;
    o['probe_protocol'] = g.probe_protocol;
    o['probe_strategy'] = g.probe_strategy;
    o['probe_send'] = g.probe_send;
    o['probe_recv'] = g.probe_recv;
    o['probe_recv_len'] = g.probe_recv_len;
  }
  if (h.exec) {
    const g = h.exec;
    if (g.exec_command !== '') o['exec_command'] = g.exec_command;
    o['exec_expected_positive_output'] = g.exec_expected_positive_output;
    o['exec_expected_negative_output'] = g.exec_expected_negative_output;
  }
  return o;
}

/** The echoed server (GET /servers/:name), keys in GoBetween's order, absent sections as null. */
export function serverToJson(s: ServerWire, opts: EchoOptions = {}): JsonObject {
  return {
    max_connections: s.max_connections,
    client_idle_timeout: s.client_idle_timeout,
    backend_idle_timeout: s.backend_idle_timeout,
    backend_connection_timeout: s.backend_connection_timeout,
    bind: s.bind,
    protocol: s.protocol,
    balance: s.balance,
    sni: s.sni === null ? null : sniToJson(s.sni),
    tls: s.tls === null ? null : tlsToJson(s.tls),
    backends_tls: s.backends_tls === null ? null : backendsTlsToJson(s.backends_tls),
    udp: s.udp === null ? null : udpToJson(s.udp),
    access: s.access === null ? null : accessToJson(s.access),
    proxy_protocol: s.proxy_protocol === null ? null : { version: s.proxy_protocol.version },
    discovery: discoveryToJson(s.discovery),
    healthcheck: healthcheckToJson(s.healthcheck, opts),
  };
}

/** GET /servers: name → echoed server, names in Go's sorted map order (`{}` when none). */
export function serversToJson(servers: Readonly<Record<string, ServerWire>>, opts: EchoOptions = {}): JsonObject {
  const o: JsonObject = {};
  for (const name of Object.keys(servers).sort(compareGoStrings)) {
    const s = servers[name];
    if (s !== undefined) o[name] = serverToJson(s, opts);
  }
  return o;
}

function apiToJson(a: ApiWire, redact: boolean): JsonObject {
  return {
    enabled: a.enabled,
    bind: a.bind,
    basic_auth:
      a.basic_auth === null
        ? null
        : { login: a.basic_auth.login, password: redact ? REDACTED_PASSWORD : a.basic_auth.password },
    tls: a.tls === null ? null : { cert_path: a.tls.cert_path, key_path: a.tls.key_path },
    cors: a.cors,
  };
}

function defaultsToJson(d: DefaultsWire): JsonObject {
  return {
    max_connections: d.max_connections,
    client_idle_timeout: d.client_idle_timeout,
    backend_idle_timeout: d.backend_idle_timeout,
    backend_connection_timeout: d.backend_connection_timeout,
  };
}

/**
 * The `/dump` root object: the root sections as decoded (acme with its defaults as the caller
 * stored them) and `servers` replaced by the given current, normalised servers, sorted by name.
 */
export function configToJson(
  root: ConfigWire,
  servers: Readonly<Record<string, ServerWire>>,
  opts: ConfigJsonOptions = {},
): JsonObject {
  const redact = opts.redactPassword ?? true;
  return {
    logging: { level: root.logging.level, output: root.logging.output, format: root.logging.format },
    api: apiToJson(root.api, redact),
    metrics: { enabled: root.metrics.enabled, bind: root.metrics.bind },
    defaults: defaultsToJson(root.defaults),
    acme:
      root.acme === null
        ? null
        : { challenge: root.acme.challenge, http_bind: root.acme.http_bind, cache_dir: root.acme.cache_dir },
    profiler: root.profiler === null ? null : { enabled: root.profiler.enabled, bind: root.profiler.bind },
    servers: serversToJson(servers, opts),
  };
}

// ---- TOML ---------------------------------------------------------------------------------------

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

/** A TOML basic string (`"…"`) with every character TOML requires escaped. */
export function tomlString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    switch (c) {
      case 0x08: out += '\\b'; break;
      case 0x09: out += '\\t'; break;
      case 0x0a: out += '\\n'; break;
      case 0x0c: out += '\\f'; break;
      case 0x0d: out += '\\r'; break;
      case 0x22: out += '\\"'; break;
      case 0x5c: out += '\\\\'; break;
      default:
        if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
        else if (c >= 0xd800 && c <= 0xdfff) out += '\uFFFD'; // lone surrogate: not encodable
        else out += ch;
    }
  }
  return out + '"';
}

function tomlKey(k: string): string {
  return BARE_KEY.test(k) ? k : tomlString(k);
}

function tomlNumber(n: number): string {
  if (Number.isInteger(n)) return BigInt(n).toString();
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  const s = String(n);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

function tomlScalar(v: JsonValue, path: string): string {
  if (typeof v === 'string') return tomlString(v);
  if (typeof v === 'number') return tomlNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) {
    return `[${v.map((e) => {
      if (e === null || typeof e === 'object') throw new TypeError(`toml: unsupported array element at ${path}`);
      return tomlScalar(e, path);
    }).join(', ')}]`;
  }
  throw new TypeError(`toml: unsupported value at ${path}`);
}

function isTable(v: JsonValue): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function writeTable(path: readonly string[], obj: JsonObject, out: string[]): void {
  const depth = path.length;
  if (depth === 1 && out.length > 0) out.push('\n');
  if (depth > 0) out.push(`${'  '.repeat(depth - 1)}[${path.map(tomlKey).join('.')}]\n`);
  const pad = '  '.repeat(depth);
  const subs: [string, JsonObject][] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (v === null) continue;
    if (isTable(v)) subs.push([k, v]);
    else out.push(`${pad}${tomlKey(k)} = ${tomlScalar(v, [...path, k].join('.'))}\n`);
  }
  for (const [k, v] of subs) writeTable([...path, k], v, out);
}

/**
 * A TOML document for a JSON-shaped object in the BurntSushi v0.3.1 layout (§3.4.2): in each table
 * scalars first then sub-tables, both in the object's key order; `null` omitted; empty tables keep
 * their header; header at depth d indented 2×(d−1) spaces and its keys 2×d; an empty line before
 * each top-level table after the first.
 */
export function toToml(obj: JsonObject): string {
  const out: string[] = [];
  writeTable([], obj, out);
  return out.join('');
}

/**
 * GET /dump body: `json` → Go-style indented JSON, `toml` → TOML; the basic-auth password is
 * redacted unless `opts.redactPassword === false`. Other formats throw {@link UnknownFormatError}
 * (`Unknown format <x>`).
 */
export function dumpConfig(
  root: ConfigWire,
  servers: Readonly<Record<string, ServerWire>>,
  format: string,
  opts: ConfigJsonOptions = {},
): string {
  switch (format) {
    case 'json':
      return goJson(configToJson(root, servers, opts));
    case 'toml':
      return toToml(configToJson(root, servers, opts));
    default:
      throw new UnknownFormatError(format);
  }
}
