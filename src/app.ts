/**
 * The composition root: the one place that builds the real parts (registries, server manager,
 * REST API, metrics, profiler) and wires them together.
 */
import type { AddressInfo } from 'node:net';
import { startApi } from './api/server.js';
import { startProfiler } from './api/profiler.js';
import { createBalancerRegistry } from './balance/index.js';
import { dumpConfig } from './config/dump.js';
import { validateRoot } from './config/prepare.js';
import type { AcmeWire, ConfigSource, ConfigWire, ServerInput, ServerWire } from './config/types.js';
import { startHttpChallenge } from './acme/http-challenge.js';
import { AcmeManager, normaliseHost, type AcmeSettings } from './acme/manager.js';
import { ConfigError, errorMessage } from './core/errors.js';
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
  /** Stops listeners (API, metrics, profiler, servers); connections get `graceMs` to finish. */
  close(graceMs: number): Promise<void>;
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
function checkAcmeHosts(name: string, input: ServerInput, owners: Map<string, string>): void {
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
  if (config.acme !== null) {
    log.child({ name: 'services' }).info('Creating acme');
    acme = new AcmeManager({ settings: acmeSettings(config.acme), log: log.child({ name: 'acme' }) });
  }

  const manager = new ServerManager({
    log,
    defaults: config.defaults,
    balancers: createBalancerRegistry(),
    discoveries: createDiscoveryRegistry(),
    healthchecks: createHealthcheckRegistry(),
    random: opts.random ?? mathRandom,
    ...(acme !== undefined ? { acme } : {}),
  });
  const closables: Closable[] = [];
  if (acme !== undefined) {
    const service = acme;
    closables.push({ close: async () => service.close() });
  }
  const closeAll = async (graceMs: number): Promise<void> => {
    await Promise.allSettled(closables.splice(0).reverse().map((c) => c.close()));
    await manager.shutdown(graceMs);
  };

  try {
    // The whole config is checked before the first listener opens; then servers start in a
    // deterministic order (Q-37 fix: sorted by name).
    const servers = config.servers ?? {};
    const names = Object.keys(servers).sort();
    const acmeOwners = new Map<string, string>();
    for (const name of names) {
      const input = servers[name];
      if (input === undefined) continue;
      manager.check(name, input);
      if (acme !== undefined) checkAcmeHosts(name, input, acmeOwners);
    }
    if (acme !== undefined && config.acme?.challenge === 'http') {
      // GoBetween ignores this listener's errors silently; they are logged here.
      const acmeLog = log.child({ name: 'acme' });
      const service = acme;
      try {
        closables.push(await startHttpChallenge({ bind: config.acme.http_bind, tokens: (t) => service.httpToken(t), log: acmeLog }));
      } catch (err) {
        acmeLog.error(`HTTP-01 listener on ${config.acme.http_bind}: ${errorMessage(err)}`);
      }
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

    return { manager, apiAddress, metricsAddress, close: closeAll };
  } catch (err) {
    await closeAll(0);
    throw err;
  }
}
