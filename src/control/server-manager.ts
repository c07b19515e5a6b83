/**
 * The server manager: creates, runs and deletes servers (config file at start-up and the REST
 * API at run time). One `RunningServer` per name owns its backend pool, discovery runner,
 * health-check scheduler and listener; nothing else holds server state.
 *
 * Creation is all-or-nothing: validation (GoBetween's messages), compilation of every section,
 * then the listener; only when the listener accepts is the server registered and its discovery
 * and health checks started. Any failure on the way releases what was built.
 */
import { ServerCounters } from '../core/backend.js';
import type { Random } from '../core/clock.js';
import { parseDurationOr } from '../core/duration.js';
import { ConfigError, NotSupportedError, StartError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Registry } from '../core/registry.js';
import type { DefaultsWire, ServerInput, ServerWire } from '../config/types.js';
import { prepareServer } from '../config/prepare.js';
import type { BalancerKind } from '../balance/types.js';
import { Elector } from '../balance/elector.js';
import { compileDiscovery, startDiscovery } from '../discovery/index.js';
import type { DiscoveryKind } from '../discovery/types.js';
import { compileHealthcheck, initialLive, startHealthchecks } from '../healthcheck/index.js';
import type { HealthcheckKind } from '../healthcheck/types.js';
import { compileAccess } from '../data/access.js';
import { TcpServer } from '../data/tcp-server.js';
import { BackendPool } from './backend-pool.js';
import { RATE_WINDOW_MS, serverStatsJson, tickRates } from './stats.js';
import type { ServerManagerApi, ServerStatsJson, ServerView } from './types.js';

export interface ServerManagerDeps {
  readonly log: Logger;
  /** `[defaults]` of the start-up config; applied to every server, API-created ones included. */
  readonly defaults: DefaultsWire;
  readonly balancers: Registry<BalancerKind>;
  readonly discoveries: Registry<DiscoveryKind>;
  readonly healthchecks: Registry<HealthcheckKind>;
  readonly random: Random;
  /** The ACME host allow-list when `[acme]` exists (control-plane §7.1); absent otherwise. */
  readonly acme?: AcmeHostRegistry;
}

/** What the server manager needs of the ACME service: the union of every server's `tls.acme_hosts`. */
export interface AcmeHostRegistry {
  /** Throws `ConfigError` `Acme host <h> is already configured` when another server has one. */
  claim(server: string, hosts: readonly string[]): void;
  release(server: string): void;
}

interface Stoppable {
  stop(): void;
}

interface CompiledServer {
  readonly name: string;
  readonly config: ServerWire;
  readonly balancer: BalancerKind;
  readonly access: ReturnType<typeof compileAccess> | null;
  readonly discovery: ReturnType<typeof compileDiscovery>;
  readonly healthcheck: ReturnType<typeof compileHealthcheck>;
}

class RunningServer implements ServerView {
  constructor(
    readonly name: string,
    readonly config: ServerWire,
    readonly counters: ServerCounters,
    readonly pool: BackendPool,
    readonly listener: TcpServer,
    readonly tasks: Stoppable[],
  ) {}

  stopTasks(): void {
    for (const t of this.tasks.splice(0)) t.stop();
    this.pool.close();
  }
}

/** How long a new server waits for its first discovery result before it opens its listener. */
const FIRST_DISCOVERY_WAIT_MS = 500;

/**
 * Resolves when `p` settles or after `ms`, whichever comes first. The timer stays ref'd: during
 * start-up it may be the only thing keeping the process alive (discovery timers are unref'd).
 */
function settledWithin(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    p.then(
      () => { clearTimeout(t); resolve(); },
      () => { clearTimeout(t); resolve(); },
    );
  });
}

/** Milliseconds of a connection option; invalid or negative → 0 (no limit), as GoBetween does. */
function connectionMs(value: string | null): number {
  const ms = parseDurationOr(value, 0);
  return ms > 0 ? ms : 0;
}

/** Sections tsbetween parses and validates but does not run yet: refuse the server by name. */
function refuseUnsupported(path: string, s: ServerWire): void {
  if (s.protocol === 'udp') throw new NotSupportedError(`${path}.protocol`, 'udp protocol');
  if (s.protocol === 'tls' || s.tls !== null) throw new NotSupportedError(`${path}.tls`, 'tls termination');
  if (s.sni !== null) throw new NotSupportedError(`${path}.sni`, 'sni routing');
  if (s.backends_tls !== null) throw new NotSupportedError(`${path}.backends_tls`, 'backends_tls');
  if (s.proxy_protocol !== null) throw new NotSupportedError(`${path}.proxy_protocol`, 'proxy_protocol');
}

export class ServerManager implements ServerManagerApi {
  private readonly servers = new Map<string, RunningServer>();
  /**
   * Creates in flight, by name: a concurrent create of the same name is a duplicate, a delete
   * waits for the create to finish and then deletes, shutdown waits for all of them.
   */
  private readonly pending = new Map<string, Promise<unknown>>();
  private closed = false;
  private readonly listeners = new Set<() => void>();
  private readonly log: Logger;
  private readonly ticker: NodeJS.Timeout;

  constructor(private readonly deps: ServerManagerDeps) {
    this.log = deps.log.child({ name: 'manager' });
    this.ticker = setInterval(() => {
      for (const s of this.servers.values()) tickRates(s.counters, s.pool);
    }, RATE_WINDOW_MS);
    this.ticker.unref();
  }

  names(): string[] {
    return [...this.servers.keys()].sort();
  }

  get(name: string): ServerView | undefined {
    return this.servers.get(name);
  }

  stats(name: string): ServerStatsJson | null {
    const s = this.servers.get(name);
    return s === undefined ? null : serverStatsJson(s.counters, s.pool);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Validates and compiles a server without starting anything (used to check a whole config
   * before the first listener opens). Throws like `create`.
   */
  check(name: string, input: ServerInput): void {
    this.compile(name, input, false);
  }

  async create(name: string, input: ServerInput): Promise<void> {
    if (this.closed) throw new StartError('tsbetween is shutting down');
    const compiled = this.compile(name, input, true);
    const acmeHosts = compiled.config.tls?.acme_hosts ?? [];
    if (this.deps.acme !== undefined && acmeHosts.length > 0) this.deps.acme.claim(name, acmeHosts);
    const starting = this.start(compiled);
    this.pending.set(name, starting);
    let running: RunningServer;
    try {
      running = await starting;
    } catch (err) {
      this.deps.acme?.release(name);
      throw err;
    } finally {
      this.pending.delete(name);
    }
    if (this.closed) {
      this.deps.acme?.release(name);
      running.stopTasks();
      await running.listener.close();
      throw new StartError('tsbetween is shutting down');
    }
    this.servers.set(name, running);
    this.notify();
  }

  async delete(name: string): Promise<void> {
    const starting = this.pending.get(name);
    if (starting !== undefined) await starting.catch(() => undefined);
    const s = this.servers.get(name);
    if (s === undefined) return;
    this.servers.delete(name);
    this.deps.acme?.release(name);
    s.stopTasks();
    this.notify();
    await s.listener.close();
    this.log.info(`Deleted server '${name}'`);
  }

  /** Stops every server: no new connections, active ones get `graceMs` to finish. */
  async shutdown(graceMs: number): Promise<void> {
    this.closed = true;
    clearInterval(this.ticker);
    await Promise.allSettled([...this.pending.values()]);
    const all = [...this.servers.values()];
    this.servers.clear();
    for (const s of all) s.stopTasks();
    await Promise.all(all.map((s) => s.listener.drain(graceMs)));
    this.notify();
  }

  private compile(name: string, input: ServerInput, logWarnings: boolean): CompiledServer {
    const path = `servers.${name}`;
    const exists = this.servers.has(name) || this.pending.has(name);
    const prepared = prepareServer(name, input, this.deps.defaults, { exists });
    const config = prepared.server;
    if (logWarnings) for (const w of prepared.warnings) this.log.warn(`server ${name}: ${w}`);
    refuseUnsupported(path, config);
    const balancer = this.deps.balancers.get(config.balance);
    if (balancer === undefined) {
      throw new ConfigError(`${path}.balance`, `Not supported balance type ${config.balance}`);
    }
    return {
      name,
      config,
      balancer,
      access: config.access === null ? null : compileAccess(config.access, `${path}.access`),
      discovery: compileDiscovery(config.discovery, `${path}.discovery`, this.deps.discoveries),
      healthcheck: compileHealthcheck(
        config.healthcheck, `${path}.healthcheck`, this.deps.healthchecks, config.protocol, config.backends_tls,
      ),
    };
  }

  private async start(c: CompiledServer): Promise<RunningServer> {
    const { name, config, access, discovery, healthcheck } = c;
    const log = this.deps.log.child({ name: 'server', server: name });
    const counters = new ServerCounters();
    const pool = new BackendPool({ initialLive: initialLive(config.healthcheck) });
    const listener = new TcpServer({
      name,
      bind: config.bind,
      maxConnections: config.max_connections ?? 0,
      clientIdleTimeoutMs: connectionMs(config.client_idle_timeout),
      backendIdleTimeoutMs: connectionMs(config.backend_idle_timeout),
      backendConnectionTimeoutMs: connectionMs(config.backend_connection_timeout),
      access,
      pool,
      elector: new Elector(c.balancer.create({ random: this.deps.random })),
      counters,
      log,
    });
    this.log.info(
      `Creating '${name}': ${config.bind} ${config.balance} ${config.discovery.kind} ${config.healthcheck.kind}`,
    );
    // Discovery and health checks start before the listener (GoBetween's order), and the first
    // discovery result is awaited briefly, so that the first connections find backends (static
    // lists always do) instead of "Backends empty".
    const tasks: Stoppable[] = [];
    try {
      tasks.push(startHealthchecks(healthcheck, { serverName: name, pool, log: this.deps.log }));
      const running = startDiscovery(discovery, {
        serverName: name,
        log: this.deps.log,
        onResult: (specs) => pool.setDiscovered(specs),
      });
      tasks.push(running);
      await settledWithin(running.firstAttempt, FIRST_DISCOVERY_WAIT_MS);
      await listener.listen();
    } catch (err) {
      for (const t of tasks) t.stop();
      pool.close();
      await listener.close();
      throw err;
    }
    return new RunningServer(name, config, counters, pool, listener, tasks);
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }
}
