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

export function serverPlan(name: string, config: ServerWire): ServerPlan {
  return Object.freeze({
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
  });
}
