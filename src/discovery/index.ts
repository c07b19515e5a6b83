/**
 * Discovery: the registry of kinds, config compilation (common keys + the kind's own keys) and
 * starting a runner for a server.
 */
import type { DiscoveryWire } from '../config/types.js';
import type { BackendSpec } from '../core/backend.js';
import { parseDuration } from '../core/duration.js';
import { ConfigError, NotSupportedError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { Registry } from '../core/registry.js';
import { consulKind } from './consul.js';
import { dockerKind } from './docker.js';
import { execKind } from './exec.js';
import { jsonKind } from './json.js';
import { lxdKind } from './lxd.js';
import { plaintextKind } from './plaintext.js';
import { DiscoveryRunner } from './runner.js';
import { srvKind } from './srv.js';
import { staticKind } from './static.js';
import type { DiscoveryKind, FailPolicy } from './types.js';

export type { DiscoveryKind, FailPolicy, FetchContext } from './types.js';
export { DiscoveryRunner } from './runner.js';

/** Every built-in kind, registered explicitly (no import side effects). */
export function createDiscoveryRegistry(): Registry<DiscoveryKind> {
  return new Registry<DiscoveryKind>('discovery kind')
    .register(staticKind)
    .register(srvKind)
    .register(dockerKind)
    .register(jsonKind)
    .register(execKind)
    .register(plaintextKind)
    .register(consulKind)
    .register(lxdKind);
}

/** A validated discovery config, ready to run. */
export interface CompiledDiscovery {
  readonly kind: string;
  readonly descriptor: DiscoveryKind;
  readonly settings: unknown;
  /** 0 = fetch once. */
  readonly intervalMs: number;
  /** Effective per-fetch limit: the configured timeout, or the kind's default when "0". */
  readonly timeoutMs: number;
  readonly failpolicy: FailPolicy;
}

function durationMs(text: string, path: string, what: string): number {
  const ms = parseDuration(text === '' ? '0' : text);
  if (ms === undefined) throw new ConfigError(path, `${what} parsing error: invalid duration "${text}"`);
  if (ms < 0) throw new ConfigError(path, `${what} should not be negative`);
  return ms;
}

/** Validates `wire` (common keys, then the kind's keys); throws ConfigError naming the key. */
export function compileDiscovery(wire: DiscoveryWire, path: string, registry: Registry<DiscoveryKind>): CompiledDiscovery {
  if (wire.kind === '') throw new ConfigError(`${path}.kind`, 'required');
  const descriptor = registry.get(wire.kind);
  if (descriptor === undefined) throw new NotSupportedError(`${path}.kind`, `discovery kind ${wire.kind}`);
  const failpolicy = wire.failpolicy === '' ? 'keeplast' : wire.failpolicy;
  if (failpolicy !== 'keeplast' && failpolicy !== 'setempty') {
    throw new ConfigError(`${path}.failpolicy`, `Not supported failpolicy ${failpolicy}`);
  }
  const intervalMs = durationMs(wire.interval, `${path}.interval`, 'interval');
  const timeout = durationMs(wire.timeout, `${path}.timeout`, 'timeout');
  const settings = descriptor.parse(wire, path);
  return Object.freeze({
    kind: wire.kind,
    descriptor,
    settings,
    intervalMs,
    timeoutMs: timeout > 0 ? timeout : descriptor.defaultTimeoutMs,
    failpolicy,
  });
}

export interface StartDiscoveryOptions {
  readonly serverName: string;
  readonly log: Logger;
  readonly onResult: (specs: BackendSpec[]) => void;
  /** Overrides the kind's retry wait (tests). */
  readonly retryWaitMs?: number;
}

export interface RunningDiscovery {
  stop(): void;
  /** Settles once the first fetch attempt was applied (success or failure); never rejects. */
  readonly firstAttempt: Promise<void>;
}

/** Starts the runner; the first fetch happens right after this returns. */
export function startDiscovery(compiled: CompiledDiscovery, opts: StartDiscoveryOptions): RunningDiscovery {
  let attempted: () => void = () => undefined;
  const firstAttempt = new Promise<void>((resolve) => {
    attempted = resolve;
  });
  const runner = new DiscoveryRunner({
    serverName: opts.serverName,
    kind: compiled.descriptor,
    settings: compiled.settings,
    intervalMs: compiled.intervalMs,
    timeoutMs: compiled.timeoutMs,
    failpolicy: compiled.failpolicy,
    onResult: opts.onResult,
    onFirstAttempt: () => attempted(),
    log: opts.log,
    ...(opts.retryWaitMs !== undefined ? { retryWaitMs: opts.retryWaitMs } : {}),
  });
  runner.start();
  return {
    stop: () => {
      runner.stop();
      attempted();
    },
    firstAttempt,
  };
}
