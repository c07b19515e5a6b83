/**
 * Backend identity, discovered attributes and runtime counters.
 *
 * Identity is GoBetween's: the exact (host, port) strings, so `localhost` != `127.0.0.1` and
 * `[::1]` != `::1`. The data plane increments the counters of the very object it picked, so a
 * backend removed and re-added while a connection is open never underflows (D13).
 */
import { isIP } from 'node:net';

/** What discovery reports for one backend. */
export interface BackendSpec {
  /** Host as shown by the API; IPv6 literals may carry brackets (`[::1]`). */
  readonly host: string;
  /** Port as a decimal string (GoBetween keeps it as a string). */
  readonly port: string;
  readonly priority: number;
  readonly weight: number;
  /** 0 = unlimited. */
  readonly maxConnections: number;
  /** '' = none. */
  readonly sni: string;
}

export function backendKey(host: string, port: string): string {
  return `${host}:${port}`;
}

/** Fills GoBetween's defaults (weight 1, priority 1, max_connections 0, sni ''). */
export function backendSpec(host: string, port: string, extra?: Partial<BackendSpec>): BackendSpec {
  return {
    host,
    port,
    priority: extra?.priority ?? 1,
    weight: extra?.weight ?? 1,
    maxConnections: extra?.maxConnections ?? 0,
    sni: extra?.sni ?? '',
  };
}

/** Strips the brackets of an IPv6 literal for dialing: `[::1]` -> `::1`. */
export function dialHost(host: string): string {
  return host.length > 1 && host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * A backend in a server's table (control plane): spec + live state + counters. The data plane never
 * sees this object: it gets a `SnapshotBackend` (core/snapshot.ts) with the same `slot`, and its
 * counter reports are folded back here by slot (control/tally.ts).
 */
export class Backend {
  /** Index of this object in its server's counter tables (unique while the object exists). */
  readonly slot: number;
  readonly key: string;
  readonly host: string;
  readonly port: string;
  /** Host to dial (no brackets). */
  readonly dialHost: string;
  /** `net.isIP(dialHost)`: 4, 6, or 0 for a host name (worked out once, not per dial). */
  readonly dialFamily: number;
  /** Port to dial; NaN-safe: 0 when the string is not a valid port (dial then fails and counts refused). */
  readonly dialPort: number;

  priority: number;
  weight: number;
  maxConnections: number;
  sni: string;

  /** Last confirmed health status (or the initial status). */
  live: boolean;
  /** Present in the latest successful discovery result. */
  discovered = true;

  /** Connections holding this backend: reserved at election, released when they end. */
  active = 0;
  /** Successful backend connects. */
  total = 0;
  /** Failed backend dials. */
  refused = 0;
  /** Bytes written to clients (backend -> client). */
  rx = 0;
  /** Bytes written to the backend (client -> backend). */
  tx = 0;
  /** Bytes per second over the last 2 s window. */
  rxSecond = 0;
  txSecond = 0;
  /** Totals at the previous 2 s tick (rate bookkeeping). */
  rxAtTick = 0;
  txAtTick = 0;

  constructor(spec: BackendSpec, live: boolean, slot = 0) {
    this.slot = slot;
    this.host = spec.host;
    this.port = spec.port;
    this.key = backendKey(spec.host, spec.port);
    this.dialHost = dialHost(spec.host);
    this.dialFamily = isIP(this.dialHost);
    const p = Number(spec.port);
    this.dialPort = Number.isInteger(p) && p >= 0 && p <= 65535 ? p : 0;
    this.priority = spec.priority;
    this.weight = spec.weight;
    this.maxConnections = spec.maxConnections;
    this.sni = spec.sni;
    this.live = live;
  }

  /** Takes the new attributes from discovery; keeps live state and counters. */
  update(spec: BackendSpec): void {
    this.priority = spec.priority;
    this.weight = spec.weight;
    this.maxConnections = spec.maxConnections;
    this.sni = spec.sni;
  }
}

/** Per-server counters (control plane), folded from the data plane's reports. */
export class ServerCounters {
  /** Current client connections (TCP, counted at accept) or sessions (UDP). */
  active = 0;
  rx = 0;
  tx = 0;
  rxSecond = 0;
  txSecond = 0;
  rxAtTick = 0;
  txAtTick = 0;
}
