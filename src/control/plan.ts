/**
 * The data plane's view of a validated server: its `ServerPlan` (core/plan.ts), plain data
 * derived once from the normalised config. Connection options follow GoBetween: invalid or
 * negative durations mean "no limit".
 */
import type { ServerWire } from '../config/types.js';
import { parseDurationOr } from '../core/duration.js';
import type { PlainSection, ServerPlan } from '../core/plan.js';

/** Milliseconds of a connection option; invalid or negative → 0 (no limit), as GoBetween does. */
function connectionMs(value: string | null): number {
  const ms = parseDurationOr(value, 0);
  return ms > 0 ? ms : 0;
}

/**
 * `[servers.X.udp]` for the udp listener (its reader, with the defaults: src/data/udp/plan.ts);
 * `maxSessions` only when `udp.max_sessions` is set.
 */
function udpPlan(config: ServerWire): PlainSection {
  const u = config.udp;
  return Object.freeze({
    maxRequests: u?.max_requests ?? 0,
    maxResponses: u?.max_responses ?? 0,
    ...(u?.max_sessions !== undefined ? { maxSessions: u.max_sessions } : {}),
  });
}

function list(l: readonly string[] | null): readonly string[] | null {
  return l === null ? null : Object.freeze([...l]);
}

/** The optional sections of the plan; absent keys stay absent (exactOptionalPropertyTypes). */
function sections(config: ServerWire, acme: boolean): Partial<Pick<ServerPlan, 'tls' | 'backendsTls' | 'sni' | 'proxyProtocol' | 'acceptProxyProtocol'>> {
  const out: { -readonly [K in 'tls' | 'backendsTls' | 'sni' | 'proxyProtocol' | 'acceptProxyProtocol']?: ServerPlan[K] } = {};
  const t = config.tls;
  if (t !== null) {
    out.tls = Object.freeze({
      cert_path: t.cert_path, key_path: t.key_path, ciphers: list(t.ciphers),
      min_version: t.min_version, max_version: t.max_version, session_tickets: t.session_tickets,
      ...(acme && (t.cert_path === '' || t.key_path === '') ? { acme: true as const } : {}),
    });
  }
  const b = config.backends_tls;
  if (b !== null) {
    out.backendsTls = Object.freeze({
      ignore_verify: b.ignore_verify, root_ca_cert_path: b.root_ca_cert_path, cert_path: b.cert_path, key_path: b.key_path,
      ciphers: list(b.ciphers), min_version: b.min_version, max_version: b.max_version, session_tickets: b.session_tickets,
    });
  }
  const s = config.sni;
  if (s !== null) {
    out.sni = Object.freeze({
      matching: s.hostname_matching_strategy === 'regexp' ? 'regexp' : 'exact',
      unexpected: s.unexpected_hostname_strategy === 'reject' ? 'reject' : s.unexpected_hostname_strategy === 'any' ? 'any' : 'default',
      readTimeoutMs: parseDurationOr(s.read_timeout, 2000),
    });
  }
  if (config.proxy_protocol !== null) out.proxyProtocol = Object.freeze({ version: config.proxy_protocol.version === '2' ? 2 : 1 });
  const a = config.accept_proxy_protocol;
  if (a !== null) {
    out.acceptProxyProtocol = Object.freeze({ from: Object.freeze([...(a.from ?? [])]), timeoutMs: parseDurationOr(a.timeout, 2000) });
  }
  return out;
}

/**
 * `acme`: the ACME service runs (`[acme]`); a `tls` section without certificate files then takes
 * its certificates from it.
 */
export function serverPlan(name: string, config: ServerWire, acme = false): ServerPlan {
  return Object.freeze({
    ...sections(config, acme),
    name,
    protocol: config.protocol === '' ? 'tcp' : config.protocol,
    bind: config.bind,
    balance: config.balance,
    maxConnections: config.max_connections ?? 0,
    clientIdleTimeoutMs: connectionMs(config.client_idle_timeout),
    backendIdleTimeoutMs: connectionMs(config.backend_idle_timeout),
    backendConnectionTimeoutMs: connectionMs(config.backend_connection_timeout),
    access: config.access === null
      ? null
      : Object.freeze({ default: config.access.default, rules: Object.freeze([...(config.access.rules ?? [])]) }),
    ...(config.protocol === 'udp' ? { udp: udpPlan(config) } : {}),
    ...(config.backend_connection_retries !== undefined && config.backend_connection_retries > 0
      ? { backendConnectionRetries: config.backend_connection_retries }
      : {}),
    ...(config.backend_prewarm !== undefined && config.backend_prewarm > 0 && config.protocol !== 'udp'
      ? { backendPrewarm: config.backend_prewarm }
      : {}),
  });
}
