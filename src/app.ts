/**
 * The composition root: the one place that builds the real parts (registries, server manager,
 * REST API, metrics, profiler) and wires them together.
 */
import type { AddressInfo } from 'node:net';
import { startApi } from './api/server.js';
import { startProfiler } from './api/profiler.js';
import { createBalancerRegistry } from './balance/index.js';
import { dumpConfig, redactSecrets } from './config/dump.js';
import { validateRoot } from './config/prepare.js';
import type { ConfigSource, ConfigWire, ServerWire } from './config/types.js';
import { mathRandom, type Random } from './core/clock.js';
import type { Logger } from './core/log.js';
import { ServerManager } from './control/server-manager.js';
import { createDiscoveryRegistry } from './discovery/index.js';
import { createHealthcheckRegistry } from './healthcheck/index.js';
import { createMetrics, startMetricsServer } from './metrics/index.js';

export interface AppOptions {
  readonly config: ConfigWire;
  readonly source: ConfigSource;
  readonly log: Logger;
  readonly version: string;
  readonly startTime: Date;
  readonly random?: Random;
}

export interface App {
  readonly manager: ServerManager;
  /** The REST API's address when enabled. */
  readonly apiAddress: AddressInfo | undefined;
  readonly metricsAddress: AddressInfo | undefined;
  /** Whether the profiler listener is open. */
  readonly profilerRunning: boolean;
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

  const manager = new ServerManager({
    log,
    defaults: config.defaults,
    balancers: createBalancerRegistry(),
    discoveries: createDiscoveryRegistry(),
    healthchecks: createHealthcheckRegistry(),
    random: opts.random ?? mathRandom,
  });
  const closables: Closable[] = [];
  const closeAll = async (graceMs: number): Promise<void> => {
    await Promise.allSettled(closables.splice(0).reverse().map((c) => c.close()));
    await manager.shutdown(graceMs);
  };

  try {
    // The whole config is checked before the first listener opens; then servers start in a
    // deterministic order (Q-37 fix: sorted by name).
    // Each server is validated and compiled once; the plans are then started as they are.
    const servers = config.servers ?? {};
    const plans = Object.keys(servers)
      .sort()
      .flatMap((name) => {
        const input = servers[name];
        return input === undefined ? [] : [[name, manager.check(name, input)] as const];
      });
    for (const [name, plan] of plans) await manager.create(name, plan);

    let profilerRunning = false;
    if (config.profiler?.enabled === true) {
      const profiler = await startProfiler({ bind: config.profiler.bind, log: log.child({ name: 'profiler' }) });
      closables.push(profiler);
      profilerRunning = profiler.address() !== undefined;
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
            return s === undefined ? [] : [[name, redactSecrets(s.config)] as const];
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

    return { manager, apiAddress, metricsAddress, profilerRunning, close: closeAll };
  } catch (err) {
    await closeAll(0);
    throw err;
  }
}
