/**
 * Health checks: registry, compilation of a server's `healthcheck` section, initial live state
 * and the scheduler entry point (control-plane §2.7, data-plane §12).
 */
import { parseDuration } from '../core/duration.js';
import { ConfigError } from '../core/errors.js';
import { Registry } from '../core/registry.js';
import type { BackendsTlsWire, HealthcheckWire } from '../config/types.js';
import { execKind } from './exec.js';
import { httpKind } from './http.js';
import { pingKind } from './ping.js';
import { probeKind } from './probe.js';
import type { ActiveHealthcheck, CompiledHealthcheck, HealthcheckKind } from './types.js';

export { startHealthchecks, MAX_FIRST_CHECK_SPREAD_MS } from './scheduler.js';
export type { HealthcheckHandle, SchedulerOptions } from './scheduler.js';
export { nextState, INITIAL_STATE } from './hysteresis.js';
export type { HysteresisState, HealthStatus, ConfirmedState, Thresholds } from './hysteresis.js';
export type {
  ActiveHealthcheck,
  CheckResult,
  CheckTarget,
  CompiledHealthcheck,
  HealthcheckKind,
  HealthTargetPool,
  ParseContext,
} from './types.js';

/** The registry of the built-in kinds (`none` is not a kind: it means "no checks"). */
export function createHealthcheckRegistry(): Registry<HealthcheckKind> {
  return new Registry<HealthcheckKind>('healthcheck')
    .register(pingKind)
    .register(probeKind)
    .register(execKind)
    .register(httpKind);
}

/** Smallest interval and timeout the scheduler uses (sub-millisecond Go durations round up). */
const MIN_MS = 1;

/**
 * Compiles a validated `healthcheck` section. Kind `none` → no checks. Throws ConfigError
 * (GoBetween's messages) for what the config module should already have rejected, and for the
 * kind's own keys. A `timeout` of 0 means "the interval" (D25: a check always has a deadline).
 * `backendsTls` is the server's `backends_tls` section, which the TLS probe verifies with.
 */
export function compileHealthcheck(
  wire: HealthcheckWire,
  path: string,
  registry: Registry<HealthcheckKind>,
  protocol: string,
  backendsTls: BackendsTlsWire | null = null,
): CompiledHealthcheck {
  if (wire.kind === 'none') return { enabled: false, kind: 'none' };
  const kind = registry.get(wire.kind);
  if (kind === undefined) {
    throw new ConfigError(`${path}.kind`, `Not supported healthcheck type ${wire.kind}`);
  }
  const interval = parseDuration(wire.interval);
  if (interval === undefined) {
    throw new ConfigError(`${path}.interval`, `Could not parse healtcheck interval: time: invalid duration "${wire.interval}"`);
  }
  if (interval <= 0) {
    throw new ConfigError(`${path}.interval`, 'Healthcheck interval should be greater than 0s');
  }
  const timeout = parseDuration(wire.timeout);
  if (timeout === undefined) throw new ConfigError(`${path}.timeout`, 'timeout parsing error');
  if (wire.initial_status !== null && wire.initial_status !== 'healthy' && wire.initial_status !== 'unhealthy') {
    throw new ConfigError(`${path}.initial_status`, 'Unsupported healthcheck initial_status');
  }
  const settings = kind.parse(wire, path, { protocol, backendsTls });
  const intervalMs = Math.max(MIN_MS, interval);
  const timeoutMs = timeout > 0 ? Math.max(MIN_MS, timeout) : intervalMs;
  const compiled: ActiveHealthcheck = {
    enabled: true,
    kind: wire.kind,
    intervalMs,
    timeoutMs,
    passes: Math.max(1, Math.trunc(wire.passes)),
    fails: Math.max(1, Math.trunc(wire.fails)),
    run: (target, signal, ms) => kind.check(settings, target, signal, ms),
  };
  return Object.freeze(compiled);
}

/**
 * Live state of a newly discovered backend: `true` with no health check (kind `none`, where
 * `initial_status` is ignored), `false` when `initial_status = "unhealthy"`, `true` otherwise.
 */
export function initialLive(wire: HealthcheckWire): boolean {
  if (wire.kind === 'none') return true;
  return wire.initial_status !== 'unhealthy';
}
