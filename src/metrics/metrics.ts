/**
 * Prometheus metrics with GoBetween's names, help texts (typos included) and labels
 * (control-plane §5), on a registry owned by the caller — no module singletons.
 *
 * Pull style: every `gobetween_*` gauge refills itself from the server manager when scraped
 * (`collect()` resets it, then walks `manager.names()` / `manager.get(name)`), so the data path
 * does nothing for metrics and the series of a deleted server or of a backend that left the table
 * disappear by construction.
 *
 * Differences from GoBetween, on purpose:
 * - series exist for every running server and every backend of its table from the first scrape,
 *   instead of appearing on their first update;
 * - `gobetween_backend_live` is emitted for every backend (1/0), also without health checks and
 *   before the first confirmed result (additive choice for Q-23);
 * - `gobetween_server_count` keeps GoBetween's meaning: the number of backends in the table.
 */
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Backend } from '../core/backend.js';
import type { ServerManagerApi, ServerView } from '../control/types.js';

export interface MetricsOptions {
  readonly manager: ServerManagerApi;
  /** Build version without the leading `v`. */
  readonly version: string;
  /** Git revision / branch of the build when known ('' otherwise). */
  readonly revision?: string;
  readonly branch?: string;
  /** Node process metrics (`process_*`, `nodejs_*`); default true. */
  readonly defaultMetrics?: boolean;
}

export interface Metrics {
  readonly registry: Registry;
  /** The text exposition of every metric. */
  render(): Promise<string>;
  /** Content-Type of `render()`'s output. */
  readonly contentType: string;
  /** Unregisters everything. */
  close(): void;
}

type ServerLabel = 'server';
type BackendLabel = 'server' | 'host' | 'port';

interface ServerGaugeDef {
  readonly name: string;
  readonly help: string;
  readonly value: (v: ServerView) => number;
}

interface BackendGaugeDef {
  readonly name: string;
  readonly help: string;
  readonly value: (b: Backend) => number;
}

/** Per-server gauges, label `server`. */
const SERVER_GAUGES: readonly ServerGaugeDef[] = [
  // misnamed in GoBetween — it is the number of backends in the server's table.
  { name: 'gobetween_server_count', help: 'Server Count.', value: (v) => v.pool.size },
  { name: 'gobetween_server_active_connections', help: 'Server Actice Connections.', value: (v) => v.counters.active },
  { name: 'gobetween_server_rx_total', help: 'Server Rx Total.', value: (v) => v.counters.rx },
  { name: 'gobetween_server_tx_total', help: 'Server Tx Total.', value: (v) => v.counters.tx },
  { name: 'gobetween_server_rx_second', help: 'Server Rx per Second.', value: (v) => v.counters.rxSecond },
  { name: 'gobetween_server_tx_second', help: 'Server Tx per Second.', value: (v) => v.counters.txSecond },
];

/** Per-backend gauges, labels `server`, `host`, `port` (the port as a string). */
const BACKEND_GAUGES: readonly BackendGaugeDef[] = [
  { name: 'gobetween_backend_active_connections', help: 'Backend Actice Connections.', value: (b) => b.active },
  { name: 'gobetween_backend_refused_connections', help: 'Backend Refused Connections.', value: (b) => b.refused },
  { name: 'gobetween_backend_total_connections', help: 'Backend Total Connections.', value: (b) => b.total },
  { name: 'gobetween_backend_rx_bytes', help: 'Backend Rx Bytes.', value: (b) => b.rx },
  { name: 'gobetween_backend_tx_bytes', help: 'Backend Tx Bytes.', value: (b) => b.tx },
  { name: 'gobetween_backend_rx_second', help: 'Backend Rx per Second.', value: (b) => b.rxSecond },
  { name: 'gobetween_backend_tx_second', help: 'Backend Tx per Second.', value: (b) => b.txSecond },
  // Q-23 (additive): emitted for every backend, not only after a confirmed health-check change.
  { name: 'gobetween_backend_live', help: 'Backend Alive.', value: (b) => (b.live ? 1 : 0) },
];

const BUILD_INFO_HELP =
  "A metric with a constant '1' value labeled by version, revision, branch, and goversion from which gobetween was built.";

/** The running servers at scrape time (a server deleted between names() and get() is skipped). */
function views(manager: ServerManagerApi): ServerView[] {
  const out: ServerView[] = [];
  for (const name of manager.names()) {
    const v = manager.get(name);
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** How often the event-loop lag is sampled (`nodejs_eventloop_lag_*`), ms. */
export const EVENT_LOOP_SAMPLE_MS = 100;

export function createMetrics(opts: MetricsOptions): Metrics {
  const registry = new Registry();
  const { manager } = opts;

  if (opts.defaultMetrics !== false) {
    // The event-loop lag histogram samples with a timer; prom-client's default (every 10 ms)
    // woke an idle process about 200 times a second. 100 ms still gives 150 samples per 15 s
    // scrape.
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }

  const buildInfo = new Gauge<'version' | 'revision' | 'branch' | 'goversion'>({
    name: 'gobetween_build_info',
    help: BUILD_INFO_HELP,
    labelNames: ['version', 'revision', 'branch', 'goversion'],
    registers: [registry],
  });
  buildInfo.set(
    { version: opts.version, revision: opts.revision ?? '', branch: opts.branch ?? '', goversion: process.version },
    1,
  );

  for (const def of SERVER_GAUGES) {
    new Gauge<ServerLabel>({
      name: def.name,
      help: def.help,
      labelNames: ['server'],
      registers: [registry],
      collect() {
        this.reset();
        for (const v of views(manager)) this.set({ server: v.name }, def.value(v));
      },
    });
  }

  for (const def of BACKEND_GAUGES) {
    new Gauge<BackendLabel>({
      name: def.name,
      help: def.help,
      labelNames: ['server', 'host', 'port'],
      registers: [registry],
      collect() {
        this.reset();
        for (const v of views(manager)) {
          for (const b of v.pool.all()) {
            this.set({ server: v.name, host: b.host, port: b.port }, def.value(b));
          }
        }
      },
    });
  }

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    close: () => registry.clear(),
  };
}
