/**
 * The health-check extension point: one `HealthcheckKind` per file (ping, probe, exec), listed in
 * a registry (`createHealthcheckRegistry` in index.ts). A kind turns its config keys into frozen
 * settings once (`parse`, throwing `ConfigError` with the key path) and runs one check against
 * one target (`check`), honouring the abort signal.
 */
import type { Backend } from '../core/backend.js';
import type { KeyGroupSchema } from '../core/keys.js';
import type { BackendsTlsWire, HealthcheckWire } from '../config/types.js';
import type { HealthStatus } from './hysteresis.js';

export type { HealthStatus } from './hysteresis.js';

/** One backend as a check sees it. */
export interface CheckTarget {
  /** Host to connect to (IPv6 without brackets). */
  readonly host: string;
  /** Port to connect to. */
  readonly port: number;
  /** Host exactly as discovered (what GoBetween passes to exec scripts; IPv6 may keep brackets). */
  readonly hostLabel: string;
  /** Port exactly as discovered (a decimal string). */
  readonly portLabel: string;
}

/** The outcome of one check: the status and a short reason for logs ("connect ECONNREFUSED"). */
export interface CheckResult {
  readonly status: HealthStatus;
  readonly reason: string;
}

/** What a kind may use besides its own keys. */
export interface ParseContext {
  /** The server's `protocol` (`tcp`, `tls`, `udp`). */
  readonly protocol: string;
  /** The server's `backends_tls` section: the TLS probe verifies backends with it (D26 fix). */
  readonly backendsTls: BackendsTlsWire | null;
}

/** Fails validation: `key` is relative to `healthcheck` (`probe_send`), '' = the section itself. */
export type Fail = (key: string, message: string) => never;

export interface HealthcheckKind<S = unknown> {
  readonly kind: string;
  /** The kind's own keys (its key group, named after the kind), built with `key.*()`; none for ping. */
  readonly schema?: KeyGroupSchema;
  /** The kind cannot check a udp server (GoBetween: `Cant use <kind> healthcheck with udp server`). */
  readonly tcpOnly?: boolean;
  /**
   * GoBetween's validation of the kind's keys at its place in control-plane §2.11 (step 8): fills
   * defaults into the (copied) wire in place and fails with GoBetween's texts. Runs before `parse`.
   */
  prepare?(wire: HealthcheckWire, fail: Fail): void;
  /** Validates the kind's keys and builds frozen settings; throws ConfigError naming the key path. */
  parse(wire: HealthcheckWire, path: string, ctx: ParseContext): S;
  /**
   * Runs one check. Must settle soon after `signal` aborts (the scheduler aborts it at
   * `timeoutMs`) and release every socket, timer and child process it created. Never rejects in
   * normal operation; a rejection is counted as unhealthy.
   */
  check(settings: S, target: CheckTarget, signal: AbortSignal, timeoutMs: number): Promise<CheckResult>;
}

/** A health-check section compiled once per server. */
export type CompiledHealthcheck = { readonly enabled: false; readonly kind: 'none' } | ActiveHealthcheck;

export interface ActiveHealthcheck {
  readonly enabled: true;
  readonly kind: string;
  readonly intervalMs: number;
  /** Effective per-check timeout (the configured one, or the interval when it is 0; D25). */
  readonly timeoutMs: number;
  readonly passes: number;
  readonly fails: number;
  /** Runs one check of the kind with its compiled settings. */
  readonly run: (target: CheckTarget, signal: AbortSignal, timeoutMs: number) => Promise<CheckResult>;
}

/**
 * What the scheduler needs from a server's backend pool (`BackendPool` satisfies it). Declared
 * here so that healthcheck/ does not depend on control/.
 */
export interface HealthTargetPool {
  /** Every backend in the table, lingering ones included. */
  all(): readonly Backend[];
  /** Subscribes to table changes; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
  /** Sets a backend's live state (`reason`: why, kept for the dashboard); returns whether it changed. */
  setLive(key: string, live: boolean, reason?: string): boolean;
  /** Told of every passing check (ends a passive-health down; tsbetween-only). */
  checkPassed?(key: string): void;
}
