/**
 * The composition root: the one place that builds the real parts (registries, server manager,
 * REST API, metrics, profiler) and wires them together. The REST API, the metrics (prom-client) and
 * the profiler are imported only when their section is enabled, so a process does not carry what
 * its config does not use (issue 8 item 8: idle memory).
 */
import type { AddressInfo } from 'node:net';
import type { WorkersSetting } from './args.js';
import { createBalancerRegistry } from './balance/index.js';
import { dumpConfig, redactSecrets } from './config/dump.js';
import { validateRoot } from './config/prepare.js';
import type { AcmeWire, ConfigSource, ConfigWire, ServerInput, ServerWire } from './config/types.js';
import type { AcmeManager, AcmeSettings } from './acme/manager.js';
import { mathRandom, type Random } from './core/clock.js';
import type { Logger } from './core/log.js';
import { ReloadError, ServerManager, type ReloadResult } from './control/server-manager.js';
import { ConfigError, DecodeError, errorMessage } from './core/errors.js';
import { AccessLog } from './data/access-log.js';
import type { DataPlanePort } from './core/port.js';
import { createDiscoveryRegistry } from './discovery/index.js';
import { createHealthcheckRegistry } from './healthcheck/index.js';
import { createDataPlane } from './workers/index.js';

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
  /** Whether the profiler listener is open. */
  readonly profilerRunning: boolean;
  /** The data plane the manager drives (a ThreadedDataPlane when worker threads run). */
  readonly dataPlane: DataPlanePort;
  /** Data-plane worker threads running (0: the data plane runs in this thread). */
  readonly workerThreads: number;
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

/** `[acme]` as the ACME service reads it (the tsbetween-only keys are null when absent). */
function acmeSettings(a: AcmeWire): AcmeSettings {
  return {
    challenge: a.challenge,
    http_bind: a.http_bind,
    cache_dir: a.cache_dir,
    directory_url: a.directory_url ?? undefined,
    email: a.email ?? undefined,
    root_ca_cert_path: a.root_ca_cert_path ?? undefined,
  };
}

/** A host in two servers' `tls.acme_hosts` fails the config before any listener opens. */
function checkAcmeHosts(name: string, input: ServerInput, owners: Map<string, string>, normaliseHost: (h: string) => string): void {
  for (const raw of input.tls?.acme_hosts ?? []) {
    const host = normaliseHost(raw);
    const owner = owners.get(host);
    if (owner !== undefined && owner !== name) throw new ConfigError(`servers.${name}.tls.acme_hosts`, `Acme host ${host} is already configured`);
    owners.set(host, name);
  }
}

export async function startApp(opts: AppOptions): Promise<App> {
  const config = validateRoot(opts.config);
  const log = opts.log;
  const managerLog = log.child({ name: 'manager' });
  managerLog.info('Initializing...');
  let acme: AcmeManager | undefined;
  let normaliseAcmeHost: (h: string) => string = (h) => h;
  if (config.acme !== null) {
    log.child({ name: 'services' }).info('Creating acme');
    // Loaded only with [acme] (acme-client and its HTTP stack are not small).
    const mod = await import('./acme/manager.js');
    normaliseAcmeHost = mod.normaliseHost;
    acme = new mod.AcmeManager({ settings: acmeSettings(config.acme), log: log.child({ name: 'acme' }) });
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
  const balancers = createBalancerRegistry();
  const random = opts.random ?? mathRandom;
  const dataPlane = await createDataPlane({
    workers: opts.workers ?? 1,
    log,
    balancers,
    random,
    accessLog,
    ...(acme !== undefined ? { certificates: acme } : {}),
    ...(opts.reportIntervalMs === undefined ? {} : { reportIntervalMs: opts.reportIntervalMs }),
  });
  const manager = new ServerManager({
    accessLog,
    log,
    defaults: config.defaults,
    balancers,
    discoveries: createDiscoveryRegistry(),
    healthchecks: createHealthcheckRegistry(),
    random,
    ...(acme !== undefined ? { acme } : {}),
    dataPlane: dataPlane.port,
  });
  const closables: Closable[] = [];
  if (acme !== undefined) {
    const service = acme;
    closables.push({ close: () => Promise.resolve(service.close()) });
  }
  const closeAll = async (graceMs: number): Promise<void> => {
    await Promise.allSettled(closables.splice(0).reverse().map((c) => c.close()));
    try {
      await manager.shutdown(graceMs);
    } finally {
      await dataPlane.shutdown();
      await accessLog?.close();
    }
  };

  try {
    // The whole config is checked before the first listener opens; then servers start in a
    // deterministic order (Q-37 fix: sorted by name).
    // Each server is validated and compiled once; the plans are then started as they are.
    const servers = config.servers ?? {};
    const names = Object.keys(servers).sort();
    const acmeOwners = new Map<string, string>();
    const plans: (readonly [string, ReturnType<ServerManager['check']>])[] = [];
    for (const name of names) {
      const input = servers[name];
      if (input === undefined) continue;
      plans.push([name, manager.check(name, input)] as const);
      if (acme !== undefined) checkAcmeHosts(name, input, acmeOwners, normaliseAcmeHost);
    }
    if (acme !== undefined && config.acme?.challenge === 'http') {
      // GoBetween ignores this listener's errors silently; they are logged here.
      const acmeLog = log.child({ name: 'acme' });
      const service = acme;
      try {
        const { startHttpChallenge } = await import('./acme/http-challenge.js');
        closables.push(await startHttpChallenge({ bind: config.acme.http_bind, tokens: (t) => service.httpToken(t), log: acmeLog }));
      } catch (err) {
        acmeLog.error(`HTTP-01 listener on ${config.acme.http_bind}: ${errorMessage(err)}`);
      }
    }
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

    return {
      manager, apiAddress, metricsAddress, profilerRunning, dataPlane: dataPlane.port, workerThreads: dataPlane.threads,
      close: closeAll, reload,
    };
  } catch (err) {
    await closeAll(0);
    throw err;
  }
}
