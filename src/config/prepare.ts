/**
 * Server validation and normalisation — GoBetween's `prepareConfig` (control-plane §2.11): the
 * same checks in the same order (first failure wins), the same message texts (typos included:
 * `healtcheck`, `unexprected`, `Cant`), the same defaults, and the `[defaults]` merge (§2.10) last.
 * Errors are `ConfigError(path, message)`: `message` is GoBetween's text, `path` the key path
 * (`servers.web.bind`).
 *
 * Return value: `prepareServer` returns `{ server, warnings }`. `warnings` lists connection
 * timeouts that do not parse: GoBetween silently treats them as "0" (no limit); we accept
 * them the same way but report each one.
 *
 * Deliberate fixes (each still a ConfigError whose message names the key):
 * - `discovery.kind` missing or unknown → error listing the valid kinds.
 * - a discovery kind without its key group (`kind = "static"` and no `static_list`, …), srv
 *   without `srv_lookup_server`, json/plaintext without endpoint, exec discovery with an empty
 *   `exec_command`, an invalid `plaintext_regex_pattern` (Go `(?P<name>…)` is accepted), a probe
 *   health check without its probe keys, an exec health check without `exec_command`.
 * - unparsable `discovery.interval` / `discovery.timeout` → `Could not parse discovery
 *   interval: <go error>` (GoBetween exits at runtime / silently falls back).
 * - negative `max_connections` (own or from `[defaults]`) is rejected.
 * - Q-14 (relaxed): `proxy_protocol` is accepted when `protocol` is omitted (it defaults to tcp)
 *   and on `tls` servers; `udp` is still rejected with GoBetween's message. Version "2" is accepted.
 * - `accept_proxy_protocol` (tsbetween only): `timeout` defaults to "2s" and must be a positive
 *   duration; each `from` entry must be an IP or a CIDR.
 * - `probe_send`/`probe_recv` are validated (`probe_send has invalid syntax invalid syntax`)
 *   but stored as written, so the echo and `/dump` re-load; decode them with `unescapeGo`.
 * - The `regexp` probe strategy also rejects a negative `probe_recv_len` (`probe_recv_len required`).
 * - udp: `udp.transparent = true` is refused (no raw sockets in Node), and the tsbetween-only
 *   `udp.max_sessions` must be 1..{@link MAX_UDP_SESSIONS}.
 * Normalisation also writes `access.default = "allow"` when empty (§2.14); access rules themselves
 * are checked by the data plane's access matcher.
 */
import { ConfigError } from '../core/errors.js';
import { parseGoDuration } from '../core/duration.js';
import { bindSyntaxError } from '../core/listen.js';
import { createBalancerRegistry } from '../balance/index.js';
import { createDiscoveryRegistry } from '../discovery/index.js';
import { createHealthcheckRegistry } from '../healthcheck/index.js';
import { ipBytes } from '../core/ip.js';
import type {
  AcceptProxyProtocolWire,
  AccessWire,
  BackendsTlsWire,
  ConfigWire,
  DefaultsWire,
  DiscoveryWire,
  HealthcheckWire,
  ServerInput,
  ServerWire,
  SniWire,
  TlsWire,
  UdpWire,
} from './types.js';

export interface PrepareOptions {
  /** The name is already taken: fail with `Server with this name already exists: <name>`. */
  exists?: boolean;
}

export interface PreparedServer {
  server: ServerWire;
  /** Non-fatal findings (Q-9: unparsable connection timeouts treated as "0"). */
  warnings: string[];
}

// The valid names come from the registries (DESIGN rule 1): a kind registered there is valid here.
const DISCOVERY = createDiscoveryRegistry();
const HEALTHCHECKS = createHealthcheckRegistry();
const BALANCERS = createBalancerRegistry();

/** Discovery kinds (for the Q-4 error message), sorted. */
export const DISCOVERY_KINDS: readonly string[] = DISCOVERY.names();
/** Health-check kinds; `none` means "no checks". */
export const HEALTHCHECK_KINDS: readonly string[] = [...HEALTHCHECKS.list().map((k) => k.kind), 'none'];
export const BALANCE_TYPES: readonly string[] = BALANCERS.list().map((b) => b.kind);
/** Upper bound of the tsbetween-only `udp.max_sessions` (each session holds a socket). */
export const MAX_UDP_SESSIONS = 1_000_000;
/** Upper bound of `backend_connection_retries` (tsbetween-only). */
export const MAX_RETRIES = 16;
/** Upper bound of `backend_prewarm` (tsbetween-only): idle connections per backend (and per worker). */
export const MAX_PREWARM = 1024;
/** Default `[access_log] rate_limit` (lines per second). */
export const DEFAULT_ACCESS_LOG_RATE = 1000;
const LOG_LEVELS: readonly string[] = ['panic', 'fatal', 'error', 'warn', 'warning', 'info', 'debug', 'trace'];

function copyList(list: string[] | null): string[] | null {
  return list === null ? null : [...list];
}

/** A copy one level deep into every key group (arrays copied too), so validation can fill defaults. */
function copyGroups<T extends object>(wire: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(wire)) {
    out[k] = Array.isArray(v) ? [...(v as unknown[])] : typeof v === 'object' && v !== null ? copyGroups(v as object) : v;
  }
  return out as T;
}

function kindList(): string {
  return DISCOVERY_KINDS.join(', ');
}

/**
 * Validates and normalises one server (control-plane §2.11), then merges `[defaults]` (§2.10).
 * Throws ConfigError with GoBetween's message and the key path. Does not mutate `input`.
 */
export function prepareServer(
  name: string,
  input: ServerInput,
  defaults: DefaultsWire,
  opts: PrepareOptions = {},
): PreparedServer {
  const base = `servers.${name}`;
  const fail = (key: string, message: string): never => {
    throw new ConfigError(key === '' ? base : `${base}.${key}`, message);
  };
  const warnings: string[] = [];

  // 0. name taken
  if (opts.exists === true) fail('', `Server with this name already exists: ${name}`);

  // 1-2. prerequisites
  if (input.bind === '') fail('bind', `No bind specified for server ${name}`);
  if (input.discovery === null) fail('discovery', `No .discovery specified for server ${name}`);
  const discovery = copyGroups(input.discovery as DiscoveryWire);

  // 3. absent health check → none
  const hc: HealthcheckWire =
    input.healthcheck === null
      ? { kind: 'none', interval: '0', passes: 0, fails: 0, timeout: '0', initial_status: null }
      : copyGroups(input.healthcheck);

  // 4. kind
  if (!HEALTHCHECK_KINDS.includes(hc.kind)) fail('healthcheck.kind', `Not supported healthcheck type ${hc.kind}`);

  // 5. defaults
  if (hc.interval === '') hc.interval = '0';
  if (hc.timeout === '') hc.timeout = '0';
  if (hc.fails <= 0) hc.fails = 1;
  if (hc.passes <= 0) hc.passes = 1;

  // 6. interval of an active check
  if (hc.kind !== 'none') {
    const r = parseGoDuration(hc.interval);
    if (!r.ok) fail('healthcheck.interval', `Could not parse healtcheck interval: ${r.error}`);
    else if (r.ns <= 0n) fail('healthcheck.interval', 'Healthcheck interval should be greater than 0s');
  }

  // 7. initial status
  if (hc.initial_status !== null && hc.initial_status !== 'healthy' && hc.initial_status !== 'unhealthy') {
    fail('healthcheck.initial_status', 'Unsupported healthcheck initial_status');
  }

  // 8. the kind's own keys (probe: GoBetween's checks; exec: a crash fix)
  HEALTHCHECKS.get(hc.kind)?.prepare?.(hc, (key, message) => fail(key === '' ? 'healthcheck' : `healthcheck.${key}`, message));

  // 9. proxy protocol (Q-14 relaxed: an omitted protocol means tcp; tls servers may send it too;
  //    version "2" is a tsbetween addition)
  const proxyProtocol = input.proxy_protocol === null ? null : { ...input.proxy_protocol };
  if (proxyProtocol !== null) {
    if (input.protocol !== 'tcp' && input.protocol !== 'tls' && input.protocol !== '') {
      fail('proxy_protocol', `proxy_protocol may be used only with 'tcp' protocol, not with ${input.protocol}`);
    }
    if (proxyProtocol.version === '') fail('proxy_protocol.version', 'version field for proxy_protocol is not specified');
    if (proxyProtocol.version !== '1' && proxyProtocol.version !== '2') {
      fail('proxy_protocol.version', `Unsupported proxy_protocol version ${proxyProtocol.version}`);
    }
  }

  // 9b. accept_proxy_protocol (tsbetween only)
  let acceptProxy: AcceptProxyProtocolWire | null = null;
  if (input.accept_proxy_protocol !== null) {
    acceptProxy = { from: copyList(input.accept_proxy_protocol.from), timeout: input.accept_proxy_protocol.timeout };
    if (input.protocol === 'udp') fail('accept_proxy_protocol', "accept_proxy_protocol may be used only with 'tcp' or 'tls' protocol");
    if (acceptProxy.timeout === '') acceptProxy.timeout = '2s';
    const t = parseGoDuration(acceptProxy.timeout);
    if (!t.ok || t.ns <= 0n) fail('accept_proxy_protocol.timeout', 'timeout parsing error');
    for (const [i, f] of (acceptProxy.from ?? []).entries()) {
      if (!isIpOrCidr(f)) fail(`accept_proxy_protocol.from[${i}]`, `not an ip or cidr: ${f}`);
    }
  }

  // 10. sni
  const sni = input.sni === null ? null : prepareSni(input.sni, fail);

  // 11-12. health-check durations
  if (!parseGoDuration(hc.timeout).ok) fail('healthcheck.timeout', 'timeout parsing error');
  if (!parseGoDuration(hc.interval).ok) fail('healthcheck.interval', 'interval parsing error');

  // 13. backends_tls
  let backendsTls: BackendsTlsWire | null = null;
  if (input.backends_tls !== null) {
    backendsTls = { ...input.backends_tls, ciphers: copyList(input.backends_tls.ciphers) };
    if ((backendsTls.key_path === null) !== (backendsTls.cert_path === null)) {
      fail('backends_tls', 'backend_tls.cert_path and .key_path should be specified together');
    }
  }

  // 14. tls
  let tls: TlsWire | null = null;
  if (input.tls !== null) {
    tls = { ...input.tls, acme_hosts: copyList(input.tls.acme_hosts), ciphers: copyList(input.tls.ciphers) };
    if ((tls.acme_hosts ?? []).length === 0 && (tls.key_path === '' || tls.cert_path === '')) {
      fail('tls', 'tls requires specify either acme hosts or both key and cert paths');
    }
  }

  // 15. protocol
  let protocol = input.protocol;
  let udp: UdpWire | null = input.udp === null ? null : { ...input.udp };
  switch (protocol) {
    case '':
      protocol = 'tcp';
      break;
    case 'tls':
      if (tls === null) fail('tls', 'Need tls section for tls protocol');
      break;
    case 'tcp':
      break;
    case 'udp':
      if (backendsTls !== null) fail('backends_tls', 'backends_tls should not be enabled for udp protocol');
      if (udp === null) udp = { max_requests: 0, max_responses: 0, transparent: false };
      if (
        udp.max_requests === 0 &&
        udp.max_responses === 0 &&
        input.client_idle_timeout === null &&
        input.backend_idle_timeout === null
      ) {
        fail(
          'udp',
          'udp protocol requires to specify at least one of (client|backend)_idle_timeout, udp.max_requests, udp.max_responses',
        );
      }
      break;
    default:
      fail('protocol', `Not supported protocol ${protocol}`);
  }

  // 16. ping is TCP-only
  if (HEALTHCHECKS.get(hc.kind)?.tcpOnly === true && protocol === 'udp') {
    fail('healthcheck.kind', `Cant use ${hc.kind} healthcheck with udp server`);
  }

  // tsbetween: transparent mode needs raw sockets (Node has none); the session cap is bounded.
  if (protocol === 'udp' && udp !== null) {
    if (udp.transparent) {
      fail('udp.transparent', 'udp.transparent = true is not supported: Node.js has no raw sockets to send with the client\'s source address');
    }
    const cap = udp.max_sessions;
    if (cap !== undefined && (cap < 1 || cap > MAX_UDP_SESSIONS)) {
      fail('udp.max_sessions', `udp.max_sessions must be between 1 and ${MAX_UDP_SESSIONS}`);
    }
  }

  // 17. balance
  let balance = input.balance;
  if (balance === '') balance = 'weight';
  else if (!BALANCE_TYPES.includes(balance)) fail('balance', `Not supported balance type ${balance}`);

  // 18. discovery common keys
  if (discovery.failpolicy === '') discovery.failpolicy = 'keeplast';
  else if (!['keeplast', 'setempty'].includes(discovery.failpolicy)) {
    fail('discovery.failpolicy', `Not supported failpolicy ${discovery.failpolicy}`);
  }
  if (discovery.interval === '') discovery.interval = '0';
  if (discovery.timeout === '') discovery.timeout = '0';

  // the kind must be known
  if (discovery.kind === '') {
    fail('discovery.kind', `No discovery kind specified for server ${name} (valid kinds: ${kindList()})`);
  }
  if (!DISCOVERY_KINDS.includes(discovery.kind)) {
    fail('discovery.kind', `Not supported discovery type ${discovery.kind} (valid kinds: ${kindList()})`);
  }

  // 19-20 (srv, lxd) and the Q-5 crash fixes: the kind's own keys, checked by the kind
  DISCOVERY.get(discovery.kind)?.prepare?.(discovery, (key, message) => fail(`discovery.${key}`, message));

  // discovery durations must parse
  const di = parseGoDuration(discovery.interval);
  if (!di.ok) fail('discovery.interval', `Could not parse discovery interval: ${di.error}`);
  const dt = parseGoDuration(discovery.timeout);
  if (!dt.ok) fail('discovery.timeout', `Could not parse discovery timeout: ${dt.error}`);

  // 21. [defaults] merge
  const merged = mergeDefaults(base, input, defaults, warnings);

  let access: AccessWire | null = null;
  if (input.access !== null) {
    access = { default: input.access.default === '' ? 'allow' : input.access.default, rules: copyList(input.access.rules) };
  }

  const server: ServerWire = {
    ...merged,
    bind: input.bind,
    protocol,
    balance,
    sni,
    tls,
    backends_tls: backendsTls,
    udp,
    access,
    proxy_protocol: proxyProtocol,
    discovery,
    healthcheck: hc,
    accept_proxy_protocol: acceptProxy,
  };
  // tsbetween-only keys: copied when given (never defaulted, so never echoed when absent).
  const retries = input.backend_connection_retries;
  if (retries !== undefined) {
    if (retries < 0 || retries > MAX_RETRIES) fail('backend_connection_retries', `must be between 0 and ${MAX_RETRIES}, got ${retries}`);
    server.backend_connection_retries = retries;
  }
  const prewarm = input.backend_prewarm;
  if (prewarm !== undefined) {
    if (prewarm < 0 || prewarm > MAX_PREWARM) fail('backend_prewarm', `must be between 0 and ${MAX_PREWARM}, got ${prewarm}`);
    if (prewarm > 0 && protocol === 'udp') fail('backend_prewarm', 'backend_prewarm may be used only with \'tcp\' or \'tls\' protocol');
    if (prewarm > 0 && proxyProtocol !== null && backendsTls !== null) {
      fail('backend_prewarm', 'backend_prewarm cannot be used with both proxy_protocol and backends_tls (the PROXY header must precede the TLS handshake)');
    }
    server.backend_prewarm = prewarm;
  }
  const passiveFails = input.passive_health_fails;
  if (passiveFails !== undefined) {
    if (passiveFails < 0) fail('passive_health_fails', `must not be negative, got ${passiveFails}`);
    server.passive_health_fails = passiveFails;
  }
  const downTime = input.passive_health_down_time;
  if (downTime !== undefined) {
    const r = parseGoDuration(downTime);
    if (!r.ok) fail('passive_health_down_time', r.error);
    else if (r.ns < 0n) fail('passive_health_down_time', `must not be negative, got ${downTime}`);
    server.passive_health_down_time = downTime;
  }
  return { server, warnings };
}

type Fail = (key: string, message: string) => never;

/** Step 10: sni defaults and checks (GoBetween's texts, typo included). */
function prepareSni(input: SniWire, fail: Fail): SniWire {
  const sni = { ...input };
  if (sni.read_timeout === '') sni.read_timeout = '2s';
  if (sni.unexpected_hostname_strategy === '') sni.unexpected_hostname_strategy = 'default';
  if (!['default', 'reject', 'any'].includes(sni.unexpected_hostname_strategy)) {
    fail('sni.unexpected_hostname_strategy', `Not supported sni unexprected hostname strategy ${sni.unexpected_hostname_strategy}`);
  }
  if (sni.hostname_matching_strategy === '') sni.hostname_matching_strategy = 'exact';
  if (!['exact', 'regexp'].includes(sni.hostname_matching_strategy)) {
    fail('sni.hostname_matching_strategy', `Not supported sni matching ${sni.hostname_matching_strategy}`);
  }
  if (!parseGoDuration(sni.read_timeout).ok) fail('sni.read_timeout', 'timeout parsing error');
  return sni;
}

type Merged = Pick<ServerWire, 'max_connections' | 'client_idle_timeout' | 'backend_idle_timeout' | 'backend_connection_timeout'>;

/**
 * Step 21 (§2.10): the four connection options from the server, else `[defaults]`, else the
 * built-in default. Q-10: a negative max_connections fails, naming where it came from; Q-9:
 * unparsable timeouts are kept and reported in `warnings`.
 */
function mergeDefaults(base: string, input: ServerInput, defaults: DefaultsWire, warnings: string[]): Merged {
  const pick = <K extends keyof DefaultsWire>(key: K, builtin: NonNullable<DefaultsWire[K]>) => {
    const own = input[key];
    if (own !== null) return { value: own as NonNullable<DefaultsWire[K]>, path: `${base}.${key}` };
    const def = defaults[key];
    if (def !== null) return { value: def as NonNullable<DefaultsWire[K]>, path: `defaults.${key}` };
    return { value: builtin, path: `defaults.${key}` };
  };
  const maxConnections = pick('max_connections', 0);
  if (maxConnections.value < 0) {
    throw new ConfigError(maxConnections.path, `max_connections must not be negative, got ${maxConnections.value}`);
  }
  const timeouts = {
    client_idle_timeout: pick('client_idle_timeout', '0'),
    backend_idle_timeout: pick('backend_idle_timeout', '0'),
    backend_connection_timeout: pick('backend_connection_timeout', '0'),
  };
  for (const t of Object.values(timeouts)) {
    const r = parseGoDuration(t.value);
    if (!r.ok) warnings.push(`${t.path}: ${r.error}; treated as "0" (no limit), as GoBetween does`);
  }
  return {
    max_connections: maxConnections.value,
    client_idle_timeout: timeouts.client_idle_timeout.value,
    backend_idle_timeout: timeouts.backend_idle_timeout.value,
    backend_connection_timeout: timeouts.backend_connection_timeout.value,
  };
}

/**
 * Root-section checks and defaults (control-plane §2.4): `logging.level` (`Unknown loglevel <x>`),
 * an `[api.basic_auth]` with an empty login (Q-32 fix: ConfigError instead of a panic), and the
 * `[acme]` defaults (challenge `http`, http_bind `0.0.0.0:80`, cache_dir `/tmp`), which are written
 * into `config.acme` in place, as GoBetween does (they show up in `/dump`); the tsbetween-only
 * `[access_log]` defaults (output stdout, format json, rate_limit 1000) and checks. Returns `config`.
 */
export function validateRoot(config: ConfigWire): ConfigWire {
  const level = config.logging.level;
  if (level !== '' && !LOG_LEVELS.includes(level.toLowerCase())) {
    throw new ConfigError('logging.level', `Unknown loglevel ${level}`);
  }
  if (config.api.basic_auth !== null && config.api.basic_auth.login === '') {
    throw new ConfigError('api.basic_auth.login', 'login must not be empty when [api.basic_auth] is present');
  }
  // The API's bind is checked before any listener opens (a bad metrics bind is only logged).
  if (config.api.enabled) {
    const bindError = bindSyntaxError(config.api.bind, { defaultPort: config.api.tls !== null ? 443 : 80 });
    if (bindError !== undefined) throw new ConfigError('api.bind', bindError);
  }
  const accessLog = config.access_log;
  if (accessLog !== undefined) {
    if (accessLog.output === '') accessLog.output = 'stdout';
    if (accessLog.format === '') accessLog.format = 'json';
    if (accessLog.format !== 'json' && accessLog.format !== 'text') {
      throw new ConfigError('access_log.format', `Unsupported access_log format ${accessLog.format} (json or text)`);
    }
    if (accessLog.rate_limit === null) accessLog.rate_limit = DEFAULT_ACCESS_LOG_RATE;
    if (accessLog.rate_limit < 0) {
      throw new ConfigError('access_log.rate_limit', `must not be negative, got ${accessLog.rate_limit}`);
    }
  }
  const acme = config.acme;
  if (acme !== null) {
    if (acme.challenge === '') acme.challenge = 'http';
    if (acme.http_bind === '') acme.http_bind = '0.0.0.0:80';
    if (acme.cache_dir === '') acme.cache_dir = '/tmp';
  }
  return config;
}

/** An IPv4/IPv6 address, or one followed by `/prefix` within its family's length. */
function isIpOrCidr(s: string): boolean {
  const slash = s.indexOf('/');
  const ip = slash < 0 ? s : s.slice(0, slash);
  const n = ipBytes(ip, new Uint8Array(16));
  if (n === 0 || ip.includes('%')) return false;
  if (slash < 0) return true;
  const bits = s.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(bits)) return false;
  return Number(bits) <= n * 8;
}
