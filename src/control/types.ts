/**
 * What the REST API and the metrics collectors see of the running servers. Implemented by
 * `ServerManager` (control/server-manager.ts).
 */
import type { ServerCounters } from '../core/backend.js';
import type { ServerInput, ServerWire } from '../config/types.js';
import type { BackendPool } from './backend-pool.js';

/** One running server, read-only view for API and metrics. */
export interface ServerView {
  readonly name: string;
  /** The normalised config, as GET /servers/:name echoes it. */
  readonly config: ServerWire;
  readonly counters: ServerCounters;
  readonly pool: BackendPool;
}

/** Per-backend stats entry of GET /servers/:name/stats (control-plane §4.1), key order included. */
export interface BackendStatsJson {
  host: string;
  port: string;
  priority: number;
  weight: number;
  max_connections?: number;
  sni?: string;
  stats: {
    live: boolean;
    discovered: boolean;
    total_connections: number;
    active_connections: number;
    refused_connections: number;
    rx: number;
    tx: number;
    rx_second: number;
    tx_second: number;
  };
}

/**
 * One backend of GET /servers/:name/backends and of the drain/ready answers (tsbetween-only):
 * operator state, health and counters.
 */
export interface BackendStateJson {
  host: string;
  port: string;
  /** `ready`, `draining` (drained, connections still open) or `drained` (none left). */
  state: 'ready' | 'draining' | 'drained';
  /** `live` or `dead` (active health check), `down` (live but out by passive health). */
  health: 'live' | 'dead' | 'down';
  discovered: boolean;
  active_connections: number;
  total_connections: number;
  refused_connections: number;
  rx: number;
  tx: number;
  rx_second: number;
  tx_second: number;
}

export interface ServerStatsJson {
  active_connections: number;
  rx_total: number;
  tx_total: number;
  rx_second: number;
  tx_second: number;
  backends: BackendStatsJson[];
}

export interface ServerManagerApi {
  /** Names of the running servers, sorted. */
  names(): string[];
  get(name: string): ServerView | undefined;
  /**
   * Validates exactly like a config file (same ConfigError messages), opens the listener and
   * resolves once it accepts connections. Throws ConfigError (incl. NotSupportedError) or
   * StartError; on failure nothing is left behind.
   */
  create(name: string, input: ServerInput): Promise<void>;
  /** Closes the listener and the server's connections; unknown names are ignored. */
  delete(name: string): Promise<void>;
  /** Stats shape of §4.1, or null for an unknown server. */
  stats(name: string): ServerStatsJson | null;
  /** Every backend of a server with its drain state (tsbetween-only); null for an unknown server. */
  backends(name: string): BackendStateJson[] | null;
  /**
   * Drains (`drain = true`) or readies a backend of a server (tsbetween-only) and answers its new
   * state. Throws NotFoundError for an unknown server or a backend not in its table.
   */
  setDrain(name: string, key: string, drain: boolean): BackendStateJson;
  /** Subscribe to server creation/deletion (metrics drop a deleted server's series). */
  onChange(listener: () => void): () => void;
}
