/**
 * The composition root: the one place that builds the real parts (registries, server manager,
 * REST API, metrics, profiler) and wires them together.
 */
import type { AddressInfo } from 'node:net';
import type { WorkersSetting } from './args.js';
import { startApi } from './api/server.js';
import { startProfiler } from './api/profiler.js';
import { createBalancerRegistry } from './balance/index.js';
import { dumpConfig } from './config/dump.js';
import { validateRoot } from './config/prepare.js';
import type { ConfigSource, ConfigWire, ServerWire } from './config/types.js';
import { mathRandom, type Random } from './core/clock.js';
import type { Logger } from './core/log.js';
import type { DataPlanePort } from './core/port.js';
import { ServerManager } from './control/server-manager.js';
import { createDiscoveryRegistry } from './discovery/index.js';
import { createHealthcheckRegistry } from './healthcheck/index.js';
import { createMetrics, startMetricsServer } from './metrics/index.js';
import { createDataPlane } from './workers/index.js';

export interface AppOptions {
  readonly config: ConfigWire;
  readonly source: ConfigSource;
  readonly log: Logger;
  readonly version: string;
  readonly startTime: Date;
  readonly random?: Random;
  /**
   * Data-plane workers (tsbetween-only). The CLI passes `--workers` / `TSBETWEEN_WORKERS` (default
   * auto); callers of the API that do not ask get 1: the data plane in this thread.
   */
  readonly workers?: WorkersSetting;
  /** How often worker threads report counters (tests); default 100 ms. */
  readonly reportIntervalMs?: number;
}

export interface App {
  readonly manager: ServerManager;
  /** The REST API's address when enabled. */
  readonly apiAddress: AddressInfo | undefined;
  readonly metricsAddress: AddressInfo | undefined;
  /** The data plane the manager drives (a ThreadedDataPlane when worker threads run). */
  readonly dataPlane: DataPlanePort;
  /** Data-plane worker threads running (0: the data plane runs in this thread). */
  readonly workerThreads: number;
  /** Stops listeners (API, metrics, profiler, servers); connections get `graceMs` to finish. */
  close(graceMs: number): Promise<void>;
}

interface Closable {
  close(): Promise<void>;
}

export async function startApp(opts: AppOptions): Promise<App> {
  const config = validateRoot(opts.config);
  const log = opts.log;
  const managerLog = log.child({ name: 'manager' });
  managerLog.info('Initializing...');
  if (config.acme !== null) {
    log.child({ name: 'services' }).warn('[acme] is accepted but not supported yet: no certificates will be requested');
  }

  const balancers = createBalancerRegistry();
  const random = opts.random ?? mathRandom;
  const dataPlane = await createDataPlane({ workers: opts.workers ?? 1, log, balancers, random,
    ...(opts.reportIntervalMs === undefined ? {} : { reportIntervalMs: opts.reportIntervalMs }) });
  const manager = new ServerManager({
    log,
    defaults: config.defaults,
    balancers,
    discoveries: createDiscoveryRegistry(),
    healthchecks: createHealthcheckRegistry(),
    random,
    dataPlane: dataPlane.port,
  });
  const closables: Closable[] = [];
  const closeAll = async (graceMs: number): Promise<void> => {
    await Promise.allSettled(closables.splice(0).reverse().map((c) => c.close()));
    try {
      await manager.shutdown(graceMs);
    } finally {
      await dataPlane.shutdown();
    }
  };

  try {
    // The whole config is checked before the first listener opens; then servers start in a
    // deterministic order (Q-37 fix: sorted by name).
    const servers = config.servers ?? {};
    const names = Object.keys(servers).sort();
    for (const name of names) {
      const input = servers[name];
      if (input !== undefined) manager.check(name, input);
    }
    for (const name of names) {
      const input = servers[name];
      if (input !== undefined) await manager.create(name, input);
    }

    if (config.profiler?.enabled === true) {
      closables.push(await startProfiler({ bind: config.profiler.bind, log: log.child({ name: 'profiler' }) }));
    }
    managerLog.info('Initialized');

    let metricsAddress: AddressInfo | undefined;
    if (config.metrics.enabled) {
      const metrics = createMetrics({ manager, version: opts.version });
      const server = await startMetricsServer({ bind: config.metrics.bind, registry: metrics.registry, log: log.child({ name: 'metrics' }) });
      closables.push(server);
      metricsAddress = server.address();
    } else {
      log.child({ name: 'metrics' }).info('Metrics disabled');
    }

    let apiAddress: AddressInfo | undefined;
    if (config.api.enabled) {
      const dump = (format: string): string => {
        // Own data properties even for names like "__proto__".
        const current: Record<string, ServerWire> = Object.fromEntries(
          manager.names().flatMap((name) => {
            const s = manager.get(name);
            return s === undefined ? [] : [[name, s.config] as const];
          }),
        );
        return dumpConfig(config, current, format);
      };
      const api = await startApi({
        api: config.api,
        manager,
        info: { configuration: opts.source, version: opts.version, startTime: opts.startTime },
        dump,
        log: log.child({ name: 'api' }),
      });
      closables.push(api);
      apiAddress = api.address();
    } else {
      log.child({ name: 'api' }).info('API disabled');
    }

    return { manager, apiAddress, metricsAddress, dataPlane: dataPlane.port, workerThreads: dataPlane.threads, close: closeAll };
  } catch (err) {
    await closeAll(0);
    throw err;
  }
}
