/**
 * The server manager: creates, runs and deletes servers (config file at start-up and the REST
 * API at run time). One `RunningServer` per name owns its backend pool, discovery runner,
 * health-check scheduler and listener; nothing else holds server state.
 *
 * Creation is all-or-nothing: validation (GoBetween's messages), compilation of every section,
 * then the listener; only when the listener accepts is the server registered and its discovery
 * and health checks started. Any failure on the way releases what was built.
 *
 * Listeners are not built here: the manager drives the data plane through its port
 * (core/port.ts) — start a server from its plan and first backend snapshot, publish every pool
 * change as a new snapshot, publish leastbandwidth rates after each stats tick, drain, close —
 * and folds the counters the data plane reports (control/tally.ts).
 */
import { ServerCounters } from '../core/backend.js';
import type { Random } from '../core/clock.js';
import { ConfigError, NotSupportedError, StartError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Registry } from '../core/registry.js';
import type { DefaultsWire, ServerInput, ServerWire } from '../config/types.js';
import { prepareServer } from '../config/prepare.js';
import type { BalancerKind } from '../balance/types.js';
import { compileDiscovery, startDiscovery } from '../discovery/index.js';
import type { DiscoveryKind } from '../discovery/types.js';
import { compileHealthcheck, initialLive, startHealthchecks } from '../healthcheck/index.js';
import type { HealthcheckKind } from '../healthcheck/types.js';
import type { DataPlanePort } from '../core/port.js';
import { compileAccess } from '../data/access.js';
import { InProcessDataPlane } from '../data/in-process.js';
import { BackendPool } from './backend-pool.js';
import { serverPlan } from './plan.js';
import { RATE_WINDOW_MS, serverStatsJson, tickRates } from './stats.js';
import { ServerTally } from './tally.js';
import type { ServerManagerApi, ServerStatsJson, ServerView } from './types.js';

export interface ServerManagerDeps {
  readonly log: Logger;
  /** `[defaults]` of the start-up config; applied to every server, API-created ones included. */
  readonly defaults: DefaultsWire;
  readonly balancers: Registry<BalancerKind>;
  readonly discoveries: Registry<DiscoveryKind>;
  readonly healthchecks: Registry<HealthcheckKind>;
  readonly random: Random;
  /** The data plane; in-process when not given. */
  readonly dataPlane?: DataPlanePort;
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
  private readonly port: DataPlanePort;

  constructor(private readonly deps: ServerManagerDeps) {
    this.log = deps.log.child({ name: 'manager' });
    this.port = deps.dataPlane ?? new InProcessDataPlane({ balancers: deps.balancers, random: deps.random, log: deps.log });
    this.ticker = setInterval(() => this.tick(), RATE_WINDOW_MS);
    this.ticker.unref();
  }

  /** The 2 s stats window: rates for stats/metrics, and the leastbandwidth inputs. */
  private tick(): void {
    for (const s of this.servers.values()) {
      this.port.flush(s.name);
      tickRates(s.counters, s.pool);
      if (s.config.balance !== 'leastbandwidth') continue;
      const slots: number[] = [];
      const bw: number[] = [];
      for (const b of s.pool.eligible) {
        slots.push(b.slot);
        bw.push(b.rxSecond + b.txSecond);
      }
      this.port.rates(s.name, slots, bw);
    }
  }

  names(): string[] {
    return [...this.servers.keys()].sort();
  }

  get(name: string): ServerView | undefined {
    return this.servers.get(name);
  }

  stats(name: string): ServerStatsJson | null {
    const s = this.servers.get(name);
    if (s === undefined) return null;
    this.port.flush(name);
    return serverStatsJson(s.counters, s.pool);
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
    const starting = this.start(compiled);
    this.pending.set(name, starting);
    let running: RunningServer;
    try {
      running = await starting;
    } finally {
      this.pending.delete(name);
    }
    if (this.closed) {
      running.stopTasks();
      await this.port.close(name);
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
    s.stopTasks();
    this.notify();
    await this.port.close(name);
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
    await Promise.all(all.map((s) => this.port.drain(s.name, graceMs)));
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
    const { name, config, discovery, healthcheck } = c;
    const counters = new ServerCounters();
    const pool = new BackendPool({ initialLive: initialLive(config.healthcheck) });
    const port = this.port;
    this.log.info(
      `Creating '${name}': ${config.bind} ${config.balance} ${config.discovery.kind} ${config.healthcheck.kind}`,
    );
    // Discovery and health checks start before the listener (GoBetween's order), and the first
    // discovery result is awaited briefly, so that the first connections find backends (static
    // lists always do) instead of "Backends empty".
    const tasks: Stoppable[] = [];
    let started = false;
    try {
      tasks.push(startHealthchecks(healthcheck, { serverName: name, pool, log: this.deps.log }));
      const running = startDiscovery(discovery, {
        serverName: name,
        log: this.deps.log,
        onResult: (specs) => pool.setDiscovered(specs),
      });
      tasks.push(running);
      await settledWithin(running.firstAttempt, FIRST_DISCOVERY_WAIT_MS);
      await port.start(serverPlan(name, config), pool.snapshot, new ServerTally(counters, pool));
      started = true;
      // Every later pool change reaches the data plane as a new snapshot (the one taken while
      // the listener opened may already be stale: publish the current one too).
      tasks.push({ stop: pool.onChange(() => port.update(name, pool.snapshot)) });
      port.update(name, pool.snapshot);
    } catch (err) {
      for (const t of tasks) t.stop();
      pool.close();
      if (started) await port.close(name);
      throw err;
    }
    return new RunningServer(name, config, counters, pool, tasks);
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }
}
