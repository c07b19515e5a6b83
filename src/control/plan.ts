/**
 * The data plane's view of a validated server: its `ServerPlan` (core/plan.ts), plain data
 * derived once from the normalised config. Connection options follow GoBetween: invalid or
 * negative durations mean "no limit".
 */
import type { ServerWire } from '../config/types.js';
import { parseDurationOr } from '../core/duration.js';
import type { ServerPlan } from '../core/plan.js';

/** Milliseconds of a connection option; invalid or negative → 0 (no limit), as GoBetween does. */
function connectionMs(value: string | null): number {
  const ms = parseDurationOr(value, 0);
  return ms > 0 ? ms : 0;
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
  });
}
