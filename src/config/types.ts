/**
 * The normalised config, in GoBetween's wire vocabulary (snake_case keys, duration strings, ports
 * as strings). This is what the REST API echoes and `/dump` writes; it is produced by
 * `prepareServer` after validation (control-plane §2.11) and the `[defaults]` merge (§2.10).
 *
 * Kind-specific key groups are kept as separate optional objects: a group exists when at least one
 * of its keys was supplied, and then carries all its keys (zero-valued where not given). The echo
 * flattens them back in GoBetween's order (§3.6).
 */

export interface LoggingWire {
  level: string;
  output: string;
  format: string;
}

export interface BasicAuthWire {
  login: string;
  password: string;
}

export interface ApiTlsWire {
  cert_path: string;
  key_path: string;
}

export interface ApiWire {
  enabled: boolean;
  bind: string;
  basic_auth: BasicAuthWire | null;
  tls: ApiTlsWire | null;
  cors: boolean;
}

export interface MetricsWire {
  enabled: boolean;
  bind: string;
}

export interface DefaultsWire {
  max_connections: number | null;
  client_idle_timeout: string | null;
  backend_idle_timeout: string | null;
  backend_connection_timeout: string | null;
}

export interface AcmeWire {
  challenge: string;
  http_bind: string;
  cache_dir: string;
  /** tsbetween only (null when absent): ACME directory, default Let's Encrypt production. */
  directory_url: string | null;
  /** tsbetween only: account contact e-mail. */
  email: string | null;
  /** tsbetween only: PEM bundle trusted, besides the system roots, for the directory connection. */
  root_ca_cert_path: string | null;
}

export interface ProfilerWire {
  enabled: boolean;
  bind: string;
}

export interface SniWire {
  hostname_matching_strategy: string;
  unexpected_hostname_strategy: string;
  read_timeout: string;
}

export interface TlsWire {
  acme_hosts: string[] | null;
  cert_path: string;
  key_path: string;
  ciphers: string[] | null;
  min_version: string;
  max_version: string;
  session_tickets: boolean;
}

export interface BackendsTlsWire {
  ignore_verify: boolean;
  root_ca_cert_path: string | null;
  cert_path: string | null;
  key_path: string | null;
  ciphers: string[] | null;
  min_version: string;
  max_version: string;
  session_tickets: boolean;
}

export interface UdpWire {
  max_requests: number;
  max_responses: number;
  transparent: boolean;
  /**
   * tsbetween only: the session table's cap (default 100,000). Not a GoBetween key: absent unless
   * given, and the echo and `/dump` show it only when set.
   */
  max_sessions?: number;
}

export interface AccessWire {
  default: string;
  rules: string[] | null;
}

export interface ProxyProtocolWire {
  version: string;
}

/** tsbetween only: PROXY protocol expected from an upstream balancer. */
export interface AcceptProxyProtocolWire {
  /** Upstream addresses/CIDRs allowed to connect; null/empty = any. */
  from: string[] | null;
  /** Time allowed for the header; '' → "2s". */
  timeout: string;
}

// ---- discovery key groups -------------------------------------------------------------------

export interface StaticGroup {
  static_list: string[];
}

export interface SrvGroup {
  srv_lookup_server: string;
  srv_lookup_pattern: string;
  srv_dns_protocol: string;
}

export interface DockerGroup {
  docker_endpoint: string;
  docker_container_label: string;
  docker_container_private_port: number;
  docker_container_host_env_var: string;
  docker_tls_enabled: boolean;
  docker_tls_cert_path: string;
  docker_tls_key_path: string;
  docker_tls_cacert_path: string;
}

export interface JsonGroup {
  json_endpoint: string;
  json_host_pattern: string;
  json_port_pattern: string;
  json_weight_pattern: string;
  json_priority_pattern: string;
  json_sni_pattern: string;
  json_max_connections_pattern: string;
}

export interface ExecDiscoveryGroup {
  exec_command: string[];
}

export interface PlaintextGroup {
  plaintext_endpoint: string;
  plaintext_regex_pattern: string;
}

export interface ConsulGroup {
  consul_host: string;
  consul_service_name: string;
  consul_service_tag: string;
  consul_service_passing_only: boolean;
  consul_datacenter: string;
  consul_auth_username: string;
  consul_auth_password: string;
  consul_tls_enabled: boolean;
  consul_tls_cert_path: string;
  consul_tls_key_path: string;
  consul_tls_cacert_path: string;
  consul_acl_token: string;
}

export interface LxdGroup {
  lxd_server_address: string;
  lxd_server_remote_name: string;
  lxd_server_remote_password: string;
  lxd_config_directory: string;
  lxd_generate_client_certs: boolean;
  lxd_accept_server_cert: boolean;
  lxd_container_label_key: string;
  lxd_container_label_value: string;
  lxd_container_port: number;
  lxd_container_port_key: string;
  lxd_container_interface: string;
  lxd_container_interface_key: string;
  lxd_container_sni_key: string;
  lxd_container_address_type: string;
}

export interface DiscoveryWire {
  kind: string;
  failpolicy: string;
  interval: string;
  timeout: string;
  static?: StaticGroup;
  srv?: SrvGroup;
  docker?: DockerGroup;
  json?: JsonGroup;
  exec?: ExecDiscoveryGroup;
  plaintext?: PlaintextGroup;
  consul?: ConsulGroup;
  lxd?: LxdGroup;
}

// ---- health-check key groups ----------------------------------------------------------------

export interface ProbeGroup {
  probe_protocol: string;
  probe_strategy: string;
  /** As the user wrote it (Go escapes not yet decoded; Q-17 fix keeps the original for echo). */
  probe_send: string;
  probe_recv: string;
  probe_recv_len: number;
}

export interface ExecCheckGroup {
  exec_command: string;
  exec_expected_positive_output: string;
  exec_expected_negative_output: string;
}

/**
 * tsbetween-only `http` health check (README "HTTP health checks"). `http_expected_status` is kept
 * as text: `"200-299,302"` (a TOML/JSON array of codes or ranges is joined with commas).
 */
export interface HttpCheckGroup {
  http_path: string;
  http_method: string;
  http_host: string;
  http_expected_status: string;
  http_expected_body: string;
}

export interface HealthcheckWire {
  kind: string;
  interval: string;
  passes: number;
  fails: number;
  timeout: string;
  initial_status: string | null;
  probe?: ProbeGroup;
  exec?: ExecCheckGroup;
  http?: HttpCheckGroup;
}

// ---- server and root ------------------------------------------------------------------------

/** A server after validation and the defaults merge (field order = GoBetween's JSON order). */
export interface ServerWire {
  max_connections: number | null;
  client_idle_timeout: string | null;
  backend_idle_timeout: string | null;
  backend_connection_timeout: string | null;
  bind: string;
  protocol: string;
  balance: string;
  sni: SniWire | null;
  tls: TlsWire | null;
  backends_tls: BackendsTlsWire | null;
  udp: UdpWire | null;
  access: AccessWire | null;
  proxy_protocol: ProxyProtocolWire | null;
  discovery: DiscoveryWire;
  healthcheck: HealthcheckWire;
  /** tsbetween only (not in GoBetween's output; omitted from the echo while null). */
  accept_proxy_protocol: AcceptProxyProtocolWire | null;
  // tsbetween-only keys (README "Retries and passive health"): absent unless given, and then
  // neither defaulted nor echoed, so a GoBetween config's echo keeps GoBetween's key set.
  /** On a failed backend connect, try up to N other eligible backends. */
  backend_connection_retries?: number | undefined;
  /** Keep N idle connections open to each live backend, handed to new clients (README "Backend pre-warming"). */
  backend_prewarm?: number | undefined;
  /** After K consecutive failed connects a backend is marked down (0 or absent: off). */
  passive_health_fails?: number | undefined;
  /** How long a passively marked-down backend stays down when there is no active health check. */
  passive_health_down_time?: string | undefined;
}

/** `[access_log]` (tsbetween-only; README "Access log"). */
export interface AccessLogWire {
  enabled: boolean;
  /** `stdout` (default), `stderr` or a file path (appended to). */
  output: string;
  /** `json` (default) or `text`. */
  format: string;
  /** Lines per second at most (0: no cap); absent: 1000. */
  rate_limit: number | null;
}

/** The whole decoded config; `servers` holds the *decoded, not yet validated* server inputs. */
export interface ConfigWire {
  logging: LoggingWire;
  api: ApiWire;
  metrics: MetricsWire;
  defaults: DefaultsWire;
  acme: AcmeWire | null;
  profiler: ProfilerWire | null;
  servers: Record<string, ServerInput> | null;
  /** tsbetween-only; absent unless given (then not in `/dump` either). */
  access_log?: AccessLogWire | undefined;
}

/**
 * A server section as decoded, before validation — Go's decoding rules: missing strings are '',
 * missing numbers 0, missing booleans false, missing optional sections null, and the four
 * connection options null when absent (so `[defaults]` can fill them). A discovery/healthcheck key
 * group is present iff one of its keys was supplied, and then has all its keys zero-filled.
 */
export type ServerInput = Omit<ServerWire, 'discovery' | 'healthcheck'> & {
  discovery: DiscoveryWire | null;
  healthcheck: HealthcheckWire | null;
};

/** Where the config came from (reported by `GET /` as `configuration`). */
export type ConfigSource =
  | { kind: 'file'; path: string }
  | { kind: 'url'; url: string }
  | { kind: 'consul'; host: string; key: string };
