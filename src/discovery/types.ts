/**
 * The discovery extension point (DESIGN rule 1): one shared runner (runner.ts) plus, per kind,
 * a descriptor that validates its own config keys and turns its source into backend specs.
 * A kind never loops, retries or schedules: the runner does that for every kind alike.
 */
import type { DiscoveryWire } from '../config/types.js';
import type { BackendSpec } from '../core/backend.js';
import type { Logger } from '../core/log.js';

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
