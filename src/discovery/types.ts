/**
 * The discovery extension point (DESIGN rule 1): one shared runner (runner.ts) plus, per kind,
 * a descriptor that validates its own config keys and turns its source into backend specs.
 * A kind never loops, retries or schedules: the runner does that for every kind alike.
 */
import type { DiscoveryWire } from '../config/types.js';
import type { BackendSpec } from '../core/backend.js';
import type { KeyGroupSchema } from '../core/keys.js';
import type { Logger } from '../core/log.js';

/**
 * Fails validation: `key` is relative to the section (`srv_lookup_server` →
 * `servers.NAME.discovery.srv_lookup_server`), `message` is the user-facing text.
 */
export type Fail = (key: string, message: string) => never;

/** What one fetch gets besides its settings. */
export interface FetchContext {
  /** Aborted on timeout and on stop; a kind passes it to every request it makes. */
  readonly signal: AbortSignal;
  /** Child logger of the kind (`discovery/<kind>`, with the server name). */
  readonly log: Logger;
  readonly serverName: string;
}

/**
 * One discovery kind. `S` is the kind's frozen, validated settings.
 * `fetch` is declared as a method so a `DiscoveryKind<SrvSettings>` fits a `Registry<DiscoveryKind>`.
 */
export interface DiscoveryKind<S = unknown> {
  readonly kind: string;
  /**
   * Per-fetch timeout used when the config says `timeout = "0"` (data-plane §11.1, Q-8: the
   * echoed config keeps "0", the limit applies internally). 0 = no timeout (static only).
   */
  readonly defaultTimeoutMs: number;
  /** Wait after a failed fetch before retrying (GoBetween: 2 s for every kind but static). */
  readonly retryWaitMs: number;
  /** The list never changes (static): fetched once whatever the interval, no warning. */
  readonly oneShot?: boolean;
  /**
   * The kind's own keys (its key group, named after the kind), built with `key.*()` from
   * core/keys.ts, in GoBetween's output order. The decoder, the echo/`/dump` and the
   * configuration reference all read them from here.
   */
  readonly schema?: KeyGroupSchema;
  /** Other spellings read as one of the kind's keys (each read is warned about). */
  readonly aliases?: Readonly<Record<string, string>>;
  /**
   * GoBetween's validation of the kind's keys, at its place in the order of control-plane §2.11
   * (after the common discovery keys): fills defaults into the (copied) wire in place, so they
   * show in the echo, and fails with GoBetween's texts. Runs before `parse`.
   */
  prepare?(wire: DiscoveryWire, fail: Fail): void;
  /** Validates the kind's key group; throws ConfigError naming the key (`<path>.srv_lookup_server`). */
  parse(wire: DiscoveryWire, path: string): S;
  /** Reads the source once. Rejects on failure; must honour `ctx.signal`. */
  fetch(settings: S, ctx: FetchContext): Promise<BackendSpec[]>;
}

export type FailPolicy = 'keeplast' | 'setempty';

/** Default per-fetch timeouts applied when `timeout = "0"`. */
export const DEFAULT_TIMEOUT_MS = {
  http: 5000,
  srv: 3000,
  exec: 5000,
} as const;

export const DEFAULT_RETRY_WAIT_MS = 2000;
