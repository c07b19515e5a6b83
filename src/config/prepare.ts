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
 * Normalisation also writes `access.default = "allow"` when empty (§2.14); access rules themselves
 * are checked by the data plane's access matcher.
 */
import { ConfigError } from '../core/errors.js';
import { parseGoDuration } from '../core/duration.js';
import { compileGoRegexp } from './go-regexp.js';
import { goStringError } from './go-string.js';
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

/** Discovery kinds GoBetween knows (for the Q-4 error message). */
export const DISCOVERY_KINDS: readonly string[] = ['consul', 'docker', 'exec', 'json', 'lxd', 'plaintext', 'srv', 'static'];
export const HEALTHCHECK_KINDS: readonly string[] = ['ping', 'probe', 'exec', 'none'];
export const BALANCE_TYPES: readonly string[] = ['weight', 'leastconn', 'roundrobin', 'leastbandwidth', 'iphash1', 'iphash'];
const LOG_LEVELS: readonly string[] = ['panic', 'fatal', 'error', 'warn', 'warning', 'info', 'debug', 'trace'];

function copyList(list: string[] | null): string[] | null {
  return list === null ? null : [...list];
}

function copyDiscovery(d: DiscoveryWire): DiscoveryWire {
  const out: DiscoveryWire = { kind: d.kind, failpolicy: d.failpolicy, interval: d.interval, timeout: d.timeout };
  if (d.static !== undefined) out.static = { static_list: [...d.static.static_list] };
  if (d.srv !== undefined) out.srv = { ...d.srv };
  if (d.docker !== undefined) out.docker = { ...d.docker };
  if (d.json !== undefined) out.json = { ...d.json };
  if (d.exec !== undefined) out.exec = { exec_command: [...d.exec.exec_command] };
  if (d.plaintext !== undefined) out.plaintext = { ...d.plaintext };
  if (d.consul !== undefined) out.consul = { ...d.consul };
  if (d.lxd !== undefined) out.lxd = { ...d.lxd };
  return out;
}

function copyHealthcheck(h: HealthcheckWire): HealthcheckWire {
  const out: HealthcheckWire = {
    kind: h.kind,
    interval: h.interval,
    passes: h.passes,
    fails: h.fails,
    timeout: h.timeout,
    initial_status: h.initial_status,
  };
  if (h.probe !== undefined) out.probe = { ...h.probe };
  if (h.exec !== undefined) out.exec = { ...h.exec };
  return out;
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
  const discovery = copyDiscovery(input.discovery as DiscoveryWire);

  // 3. absent health check → none
  const hc: HealthcheckWire =
    input.healthcheck === null
      ? { kind: 'none', interval: '0', passes: 0, fails: 0, timeout: '0', initial_status: null }
      : copyHealthcheck(input.healthcheck);

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

  // 8. probe (and, as a crash fix, exec) health-check keys
  if (hc.kind === 'probe') {
    const probe = hc.probe;
    if (probe === undefined) {
      fail('healthcheck', 'probe healthcheck requires probe_protocol, probe_send and probe_recv');
    } else {
      if (!['tcp', 'udp', 'tls'].includes(probe.probe_protocol)) fail('healthcheck.probe_protocol', 'Unsupported probe_protocol');
      if (probe.probe_send === '' || probe.probe_recv === '') {
        fail(
          probe.probe_send === '' ? 'healthcheck.probe_send' : 'healthcheck.probe_recv',
          'probe healthcheck should have both probe_send and probe_recv specified',
        );
      }
      if (probe.probe_strategy === '') probe.probe_strategy = 'starts_with';
      const sendErr = goStringError(probe.probe_send);
      if (sendErr !== undefined) fail('healthcheck.probe_send', `probe_send has invalid syntax ${sendErr}`);
      if (probe.probe_strategy === 'starts_with') {
        if (probe.probe_recv_len > 0) {
          fail('healthcheck.probe_recv_len', "probe_recv_len is redundant for 'starts_with' strategy");
        }
        const recvErr = goStringError(probe.probe_recv);
        if (recvErr !== undefined) fail('healthcheck.probe_recv', `probe_recv has invalid syntax ${recvErr}`);
      } else if (probe.probe_strategy === 'regexp') {
        if (probe.probe_recv_len <= 0) fail('healthcheck.probe_recv_len', 'probe_recv_len required');
        try {
          compileGoRegexp(probe.probe_recv);
        } catch (err) {
          fail('healthcheck.probe_recv', `probe_recv has invalid syntax ${err instanceof Error ? err.message : String(err)}`);
        }
      } else {
        fail('healthcheck.probe_strategy', `Unsupported probe_strategy ${probe.probe_strategy}`);
      }
    }
  }
  if (hc.kind === 'exec' && (hc.exec === undefined || hc.exec.exec_command === '')) {
    fail('healthcheck.exec_command', 'exec_command is required for exec healthcheck');
  }

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
  let sni: SniWire | null = null;
  if (input.sni !== null) {
    sni = { ...input.sni };
    if (sni.read_timeout === '') sni.read_timeout = '2s';
    if (sni.unexpected_hostname_strategy === '') sni.unexpected_hostname_strategy = 'default';
    if (!['default', 'reject', 'any'].includes(sni.unexpected_hostname_strategy)) {
      fail(
        'sni.unexpected_hostname_strategy',
        `Not supported sni unexprected hostname strategy ${sni.unexpected_hostname_strategy}`,
      );
    }
    if (sni.hostname_matching_strategy === '') sni.hostname_matching_strategy = 'exact';
    if (!['exact', 'regexp'].includes(sni.hostname_matching_strategy)) {
      fail('sni.hostname_matching_strategy', `Not supported sni matching ${sni.hostname_matching_strategy}`);
    }
    if (!parseGoDuration(sni.read_timeout).ok) fail('sni.read_timeout', 'timeout parsing error');
  }

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
  if (hc.kind === 'ping' && protocol === 'udp') fail('healthcheck.kind', 'Cant use ping healthcheck with udp server');

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

  // 19. srv
  if (discovery.kind === 'srv') {
    const srv = discovery.srv;
    if (srv === undefined) fail('discovery.srv_lookup_server', 'srv_lookup_server is required for srv discovery');
    else {
      if (srv.srv_dns_protocol === '') srv.srv_dns_protocol = 'udp';
      else if (!['udp', 'tcp'].includes(srv.srv_dns_protocol)) {
        fail('discovery.srv_dns_protocol', `Not supported srv_dns_protocol ${srv.srv_dns_protocol}`);
      }
      if (srv.srv_lookup_server === '') fail('discovery.srv_lookup_server', 'srv_lookup_server is required for srv discovery');
    }
  }

  // 20. lxd
  if (discovery.kind === 'lxd') {
    const lxd = discovery.lxd;
    if (lxd === undefined || lxd.lxd_server_address === '') {
      fail('discovery.lxd_server_address', 'lxd_server_address is required');
    } else {
      const addr = lxd.lxd_server_address;
      if (!(addr.startsWith('https:') || addr.startsWith('unix:'))) {
        fail('discovery.lxd_server_address', `lxd_server_address should start with either unix:// or https:// but got ${addr}`);
      }
      if (lxd.lxd_server_remote_name === '') lxd.lxd_server_remote_name = 'local';
      if (lxd.lxd_config_directory === '') lxd.lxd_config_directory = `${process.env['HOME'] ?? ''}/.config/lxc`;
      if (lxd.lxd_container_interface === '') lxd.lxd_container_interface = 'eth0';
      if (lxd.lxd_container_address_type === '') lxd.lxd_container_address_type = 'IPv4';
      else if (!['IPv4', 'IPv6'].includes(lxd.lxd_container_address_type)) {
        fail('discovery.lxd_container_address_type', 'Invalid lxd_container_address_type. Must be IPv4 or IPv6');
      }
    }
  }

  // Q-5: the other kinds' key groups
  checkDiscoveryGroup(discovery, fail);

  // discovery durations must parse
  const di = parseGoDuration(discovery.interval);
  if (!di.ok) fail('discovery.interval', `Could not parse discovery interval: ${di.error}`);
  const dt = parseGoDuration(discovery.timeout);
  if (!dt.ok) fail('discovery.timeout', `Could not parse discovery timeout: ${dt.error}`);

  // 21. [defaults] merge
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

  let access: AccessWire | null = null;
  if (input.access !== null) {
    access = { default: input.access.default === '' ? 'allow' : input.access.default, rules: copyList(input.access.rules) };
  }

  const server: ServerWire = {
    max_connections: maxConnections.value,
    client_idle_timeout: timeouts.client_idle_timeout.value,
    backend_idle_timeout: timeouts.backend_idle_timeout.value,
    backend_connection_timeout: timeouts.backend_connection_timeout.value,
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
  return { server, warnings };
}

/** The Q-5 crash fixes for the kinds that are not checked by GoBetween's validation itself. */
function checkDiscoveryGroup(d: DiscoveryWire, fail: (key: string, message: string) => never): void {
  switch (d.kind) {
    case 'static':
      if (d.static === undefined) fail('discovery.static_list', 'static_list is required for static discovery');
      return;
    case 'docker':
      if (d.docker === undefined) fail('discovery.docker_endpoint', 'docker_endpoint is required for docker discovery');
      return;
    case 'consul':
      if (d.consul === undefined) fail('discovery.consul_host', 'consul_host is required for consul discovery');
      return;
    case 'json':
      if (d.json === undefined || d.json.json_endpoint === '') {
        fail('discovery.json_endpoint', 'json_endpoint is required for json discovery');
      }
      return;
    case 'exec': {
      const cmd = d.exec?.exec_command ?? [];
      if (cmd.length === 0 || cmd[0] === '') fail('discovery.exec_command', 'exec_command is required for exec discovery');
      return;
    }
    case 'plaintext': {
      const p = d.plaintext;
      if (p === undefined || p.plaintext_endpoint === '') {
        fail('discovery.plaintext_endpoint', 'plaintext_endpoint is required for plaintext discovery');
      } else if (p.plaintext_regex_pattern !== '') {
        try {
          compileGoRegexp(p.plaintext_regex_pattern);
        } catch (err) {
          fail(
            'discovery.plaintext_regex_pattern',
            `plaintext_regex_pattern is not a valid regular expression: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      }
      return;
    }
    default:
      return;
  }
}

/**
 * Root-section checks and defaults (control-plane §2.4): `logging.level` (`Unknown loglevel <x>`),
 * an `[api.basic_auth]` with an empty login (Q-32 fix: ConfigError instead of a panic), and the
 * `[acme]` defaults (challenge `http`, http_bind `0.0.0.0:80`, cache_dir `/tmp`), which are written
 * into `config.acme` in place, as GoBetween does (they show up in `/dump`). Returns `config`.
 */
export function validateRoot(config: ConfigWire): ConfigWire {
  const level = config.logging.level;
  if (level !== '' && !LOG_LEVELS.includes(level.toLowerCase())) {
    throw new ConfigError('logging.level', `Unknown loglevel ${level}`);
  }
  if (config.api.basic_auth !== null && config.api.basic_auth.login === '') {
    throw new ConfigError('api.basic_auth.login', 'login must not be empty when [api.basic_auth] is present');
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
