/**
 * The composition root: the one place that builds the real parts (registries, server manager,
 * REST API, metrics, profiler) and wires them together. The REST API, the metrics (prom-client) and
 * the profiler are imported only when their section is enabled, so a process does not carry what
 * its config does not use (issue 8 item 8: idle memory).
 */
import type { AddressInfo } from 'node:net';
import { createBalancerRegistry } from './balance/index.js';
import { dumpConfig, redactSecrets } from './config/dump.js';
import { validateRoot } from './config/prepare.js';
import type { ConfigSource, ConfigWire, ServerWire } from './config/types.js';
import { mathRandom, type Random } from './core/clock.js';
import type { Logger } from './core/log.js';
import { ReloadError, ServerManager, type ReloadResult } from './control/server-manager.js';
import { ConfigError, DecodeError, errorMessage } from './core/errors.js';
import { AccessLog } from './data/access-log.js';
import { createDiscoveryRegistry } from './discovery/index.js';
import { createHealthcheckRegistry } from './healthcheck/index.js';

/** Default grace of the connections of a server removed by a reload. */
export const DEFAULT_RELOAD_GRACE_MS = 10_000;

export interface AppOptions {
  readonly config: ConfigWire;
  readonly source: ConfigSource;
  readonly log: Logger;
  readonly version: string;
  readonly startTime: Date;
  readonly random?: Random;
  /**
   * Hot reload (tsbetween-only): reads the config source again (the CLI passes its own reader:
   * same source, format and `-e`). Without it `reload()` is refused.
   */
  readonly loadConfig?: () => Promise<{ config: ConfigWire; warnings: string[] }>;
  /** How long the connections of a server removed by a reload may finish (default 10 s). */
  readonly reloadGraceMs?: number;
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
  /**
   * Re-reads the config source and applies its servers (SIGHUP, POST /reload). Rejects with
   * ReloadError — nothing changed — when the source cannot be read or the config is invalid.
   */
  reload(): Promise<ReloadResult>;
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

  // [access_log] (tsbetween-only): one line per connection when enabled; absent or off: nothing.
  const al = config.access_log;
  const accessLog = al?.enabled === true
    ? new AccessLog({
      output: al.output,
      format: al.format === 'text' ? 'text' : 'json',
      rateLimit: al.rate_limit ?? 0,
      log: log.child({ name: 'access_log' }),
    })
    : null;
  const manager = new ServerManager({
    accessLog,
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
    await accessLog?.close();
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
    for (const [name, plan] of plans) await manager.create(name, plan, 'source');

    let profilerRunning = false;
    if (config.profiler?.enabled === true) {
      const { startProfiler } = await import('./api/profiler.js');
      const profiler = await startProfiler({ bind: config.profiler.bind, log: log.child({ name: 'profiler' }) });
      closables.push(profiler);
      profilerRunning = profiler.address() !== undefined;
    }
    managerLog.info('Initialized');

    let metricsAddress: AddressInfo | undefined;
    if (config.metrics.enabled) {
      const { createMetrics, startMetricsServer } = await import('./metrics/index.js');
      const metrics = createMetrics({ manager, version: opts.version });
      const server = await startMetricsServer({ bind: config.metrics.bind, registry: metrics.registry, log: log.child({ name: 'metrics' }) });
      closables.push(server);
      metricsAddress = server.address();
    } else {
      log.child({ name: 'metrics' }).info('Metrics disabled');
    }

    const reloadLog = log.child({ name: 'reload' });
    /** Sections a reload does not apply (they need a restart): warned about when they change. */
    const rootOf = (c: ConfigWire): Record<string, string> => ({
      logging: JSON.stringify(c.logging),
      api: JSON.stringify(c.api),
      metrics: JSON.stringify(c.metrics),
      profiler: JSON.stringify(c.profiler),
      acme: JSON.stringify(c.acme),
      access_log: JSON.stringify(c.access_log ?? null),
    });
    const startRoot = rootOf(config);
    const reload = async (): Promise<ReloadResult> => {
      const loader = opts.loadConfig;
      if (loader === undefined) throw new ReloadError('reload is not available (no config source)');
      try {
        let next: ConfigWire;
        try {
          const decoded = await loader();
          for (const w of decoded.warnings) reloadLog.warn(w);
          next = validateRoot(decoded.config);
        } catch (err) {
          throw new ReloadError(err instanceof ConfigError || err instanceof DecodeError ? err.describe() : errorMessage(err), { cause: err });
        }
        const nextRoot = rootOf(next);
        const restart = Object.keys(startRoot).filter((k) => startRoot[k] !== nextRoot[k]);
        if (restart.length > 0) reloadLog.warn(`changes to [${restart.join('], [')}] are not applied by a reload (restart needed)`);
        return await manager.reload(next.servers ?? {}, next.defaults, opts.reloadGraceMs ?? DEFAULT_RELOAD_GRACE_MS);
      } catch (err) {
        reloadLog.error(`reload refused, nothing changed: ${errorMessage(err)}`);
        throw err;
      }
    };

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
      const { startApi } = await import('./api/server.js');
      const api = await startApi({
        api: config.api,
        manager,
        info: { configuration: opts.source, version: opts.version, startTime: opts.startTime },
        dump,
        log: log.child({ name: 'api' }),
        reload,
      });
      closables.push(api);
      apiAddress = api.address();
    } else {
      log.child({ name: 'api' }).info('API disabled');
    }

    return { manager, apiAddress, metricsAddress, profilerRunning, close: closeAll, reload };
  } catch (err) {
    await closeAll(0);
    throw err;
  }
}
