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
import { parseDurationOr } from '../core/duration.js';
import { ConfigError, NotFoundError, ReloadError, StartError, describeError, errorMessage } from '../core/errors.js';
import type { CertificateSource } from '../core/cert-source.js';
import { BackendTls } from '../data/tls/backend-tls.js';
import { cipherPlan } from '../data/tls/ciphers.js';

export { ReloadError };
import type { Logger } from '../core/log.js';
import { logText } from '../core/text.js';
import type { Registry } from '../core/registry.js';
import type { DefaultsWire, ServerInput, ServerWire } from '../config/types.js';
import { prepareServer } from '../config/prepare.js';
import { strictServerChecks } from '../config/strict.js';
import type { BalancerKind } from '../balance/types.js';
import { compileDiscovery, startDiscovery } from '../discovery/index.js';
import type { DiscoveryKind } from '../discovery/types.js';
import { compileHealthcheck, initialLive, startHealthchecks } from '../healthcheck/index.js';
import type { HealthcheckKind } from '../healthcheck/types.js';
import type { DataPlanePort } from '../core/port.js';
import { compileAccess } from '../data/access.js';
import type { AccessLog } from '../data/access-log.js';
import { InProcessDataPlane } from '../data/in-process.js';
import { BackendPool, DEFAULT_PASSIVE_DOWN_MS } from './backend-pool.js';
import { serverPlan } from './plan.js';
import { RATE_WINDOW_MS, backendStateJson, backendStatesJson, serverStatsJson, tickRates } from './stats.js';
import { ServerTally } from './tally.js';
import type { BackendStateJson, ServerManagerApi, ServerStatsJson, ServerView } from './types.js';

/** What a reload did, by server name (sorted). */
export interface ReloadResult {
  added: string[];
  changed: string[];
  unchanged: string[];
  removed: string[];
  /** Created through the API, not in the source: left running. */
  kept: string[];
  /** Could not start with the new config: still running with the old one. */
  failed: { name: string; error: string }[];
}

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
  /** The in-process data plane's access log (`[access_log]`, tsbetween-only); none when absent. */
  readonly accessLog?: AccessLog | null;
  /**
   * The ACME service when `[acme]` exists (control-plane §7.1); absent otherwise. Its host
   * allow-list follows the servers; the in-process data plane takes certificates from it.
   */
  readonly acme?: AcmeService;
}

/** What the server manager needs of the ACME service. */
export interface AcmeService extends CertificateSource {
  /** Adds a server's `tls.acme_hosts`; throws `ConfigError` `Acme host <h> is already configured`. */
  claim(server: string, hosts: readonly string[]): void;
  release(server: string): void;
}

interface Stoppable {
  stop(): void;
}

/**
 * A server validated and compiled once (GoBetween's validation, tsbetween's checks, every section
 * compiled): what `create` starts. Plain data plus the kinds' compiled settings.
 */
export interface CompiledServer {
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

/** A `tls` section without certificate files needs `[acme]` to get its certificates from. */
function requireCertificateSource(path: string, s: ServerWire, acme: boolean): void {
  // Without certificate files the certificates come from [acme]; without it no handshake could work.
  if (s.tls !== null && (s.tls.cert_path === '' || s.tls.key_path === '') && !acme) {
    throw new ConfigError(`${path}.tls.acme_hosts`, 'acme_hosts need a root [acme] section');
  }
}

const PLANS = new WeakSet<CompiledServer>();

function isPlan(v: ServerInput | CompiledServer): v is CompiledServer {
  return PLANS.has(v as CompiledServer);
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
  /** `[defaults]` for new servers: the start-up config's, then the last reloaded one's. */
  private defaults: DefaultsWire;
  /** Servers defined by the config source (the others were created through the API). */
  private readonly fromSource = new Set<string>();
  /** The reload in progress (reloads run one at a time). */
  private reloading: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ServerManagerDeps) {
    this.log = deps.log.child({ name: 'manager' });
    this.defaults = deps.defaults;
    this.port = deps.dataPlane ?? new InProcessDataPlane({
      balancers: deps.balancers,
      random: deps.random,
      log: deps.log,
      accessLog: deps.accessLog ?? null,
      ...(deps.acme !== undefined ? { certificates: deps.acme } : {}),
    });
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

  backends(name: string): BackendStateJson[] | null {
    const s = this.servers.get(name);
    if (s === undefined) return null;
    this.port.flush(name);
    return backendStatesJson(s.pool);
  }

  setDrain(name: string, key: string, drain: boolean): BackendStateJson {
    const s = this.servers.get(name);
    if (s === undefined) throw new NotFoundError(`Unknown server ${name}`);
    const b = s.pool.get(key);
    if (b === undefined) throw new NotFoundError(`Unknown backend ${key} of server ${name}`);
    const changed = drain ? s.pool.drain(key) : s.pool.undrain(key);
    this.port.flush(name);
    if (changed) {
      this.log.info(`backend ${key} of server ${name}: ${drain ? `draining (${b.active} active connections)` : 'ready (back in rotation)'}`);
    }
    return backendStateJson(s.pool, b);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Validates and compiles a server without starting anything (a whole config is compiled before
   * the first listener opens); `create` then starts the returned plan without validating again.
   * Warnings are logged here. Throws like `create`.
   */
  check(name: string, input: ServerInput): CompiledServer {
    return this.compile(name, input, true);
  }

  /** Creates a server from its config section, or from the plan `check` returned for it. */
  async create(name: string, input: ServerInput | CompiledServer, origin: 'api' | 'source' = 'api'): Promise<void> {
    if (this.closed) throw new StartError('tsbetween is shutting down');
    if (isPlan(input) && (this.servers.has(name) || this.pending.has(name))) {
      throw new ConfigError(`servers.${name}`, `Server with this name already exists: ${name}`);
    }
    const compiled = isPlan(input) ? input : this.compile(name, input, true);
    const acmeHosts = compiled.config.tls?.acme_hosts ?? [];
    if (this.deps.acme !== undefined && acmeHosts.length > 0) this.deps.acme.claim(name, acmeHosts);
    const starting = this.start(compiled);
    this.pending.set(name, starting);
    let running: RunningServer;
    try {
      running = await starting;
    } catch (err) {
      this.deps.acme?.release(name);
      // A listen/certificate failure names the server's bind key (GoBetween's text after it).
      const named = err instanceof StartError ? err.withPath(`servers.${name}.bind`) : err;
      this.log.error(`Creating '${name}' failed: ${describeError(named)}`);
      throw named;
    } finally {
      this.pending.delete(name);
    }
    if (this.closed) {
      this.deps.acme?.release(name);
      running.stopTasks();
      await this.port.close(name);
      throw new StartError('tsbetween is shutting down');
    }
    this.servers.set(name, running);
    if (origin === 'source') this.fromSource.add(name);
    else this.fromSource.delete(name);
    this.notify();
  }

  async delete(name: string): Promise<void> {
    const starting = this.pending.get(name);
    if (starting !== undefined) await starting.catch(() => undefined);
    const s = this.servers.get(name);
    if (s === undefined) return;
    this.servers.delete(name);
    this.fromSource.delete(name);
    this.deps.acme?.release(name);
    s.stopTasks();
    this.notify();
    await this.port.close(name);
    this.log.info(`Deleted server '${name}'`);
  }

  /**
   * Hot reload (tsbetween-only): applies the servers of a freshly read config source.
   *
   * - Everything is validated first (same messages as at start-up); any error throws
   *   {@link ReloadError} and nothing changes.
   * - A server whose normalised config is unchanged is untouched. A changed one is rebuilt and
   *   swapped in: new connections get the new config, open ones finish on the old one, the
   *   listener is kept when `bind` is unchanged. A new one is created. One the source no longer
   *   defines is removed: it stops accepting and its connections get `graceMs` to finish.
   * - Servers created through the API survive unless the source defines the same name (the
   *   source's definition then replaces them). Drained backends stay drained.
   * - `[defaults]` of the new config apply to the servers it defines and to later API creates.
   *
   * A server that fails to start (e.g. its new bind is taken) keeps running with its old config
   * and is listed in `failed`; the other changes still apply.
   */
  reload(servers: Readonly<Record<string, ServerInput>>, defaults: DefaultsWire, graceMs: number): Promise<ReloadResult> {
    const run = this.reloading.then(() => this.applyReload(servers, defaults, graceMs));
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async applyReload(
    servers: Readonly<Record<string, ServerInput>>,
    defaults: DefaultsWire,
    graceMs: number,
  ): Promise<ReloadResult> {
    if (this.closed) throw new ReloadError('tsbetween is shutting down');
    const result: ReloadResult = { added: [], changed: [], unchanged: [], removed: [], kept: [], failed: [] };
    // 1. Validate and compile everything; nothing is touched before this succeeds.
    const names = Object.keys(servers).sort();
    const compiled = new Map<string, CompiledServer>();
    for (const name of names) {
      const input = servers[name];
      if (input === undefined) continue;
      try {
        compiled.set(name, this.compile(name, input, true, { defaults }));
      } catch (err) {
        throw new ReloadError(err instanceof ConfigError ? err.describe() : errorMessage(err), { cause: err });
      }
    }
    // 2. Apply.
    this.defaults = defaults;
    for (const name of this.names()) {
      if (compiled.has(name)) continue;
      if (!this.fromSource.has(name)) {
        result.kept.push(name);
        continue;
      }
      const s = this.servers.get(name);
      if (s === undefined) continue;
      this.servers.delete(name);
      this.fromSource.delete(name);
      s.stopTasks();
      result.removed.push(name);
      this.log.info(`Reload: removing '${name}' (open connections get ${graceMs} ms)`);
      void this.port.drain(name, graceMs);
    }
    for (const [name, c] of compiled) {
      const old = this.servers.get(name);
      if (old !== undefined && JSON.stringify(old.config) === JSON.stringify(c.config)) {
        this.fromSource.add(name);
        result.unchanged.push(name);
        continue;
      }
      try {
        if (old === undefined) {
          const running = await this.start(c);
          this.servers.set(name, running);
          result.added.push(name);
        } else {
          const running = await this.start(c, old);
          old.stopTasks();
          this.servers.set(name, running);
          result.changed.push(name);
        }
        this.fromSource.add(name);
      } catch (err) {
        const message = errorMessage(err);
        this.log.error(`Reload: server '${name}' kept as it was: ${message}`);
        result.failed.push({ name, error: message });
      }
    }
    this.notify();
    this.log.info(
      `Reloaded: ${result.added.length} added, ${result.changed.length} changed, ${result.unchanged.length} unchanged, ` +
      `${result.removed.length} removed, ${result.kept.length} API-created kept, ${result.failed.length} failed`,
    );
    return result;
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

  private compile(
    name: string,
    input: ServerInput,
    logWarnings: boolean,
    reload?: { readonly defaults: DefaultsWire },
  ): CompiledServer {
    const path = `servers.${name}`;
    // A reload replaces servers of the same name: not a duplicate then.
    const exists = reload === undefined && (this.servers.has(name) || this.pending.has(name));
    const prepared = prepareServer(name, input, reload?.defaults ?? this.defaults, { exists });
    const config = prepared.server;
    const warnings = [...prepared.warnings, ...strictServerChecks(name, input, config, this.deps.defaults)];
    if (logWarnings) for (const w of warnings) this.log.warn(`server ${logText(name)}: ${logText(w, 1024)}`);
    requireCertificateSource(path, config, this.deps.acme !== undefined);
    // backends_tls files are read when the server is created (GoBetween): errors name the key.
    if (config.backends_tls !== null) {
      const bt = config.backends_tls;
      new BackendTls(bt, `${path}.backends_tls`);
    }
    // Cipher names unknown to OpenSSL are dropped (as GoBetween does), with a warning naming them.
    if (logWarnings) {
      for (const [key, section] of [['tls', config.tls], ['backends_tls', config.backends_tls]] as const) {
        const dropped = section === null ? [] : cipherPlan(section.ciphers, false).dropped;
        if (dropped.length > 0) {
          this.log.warn(`server ${logText(name)}: ${key}.ciphers: dropped unknown or unavailable ${logText(dropped.join(', '), 1024)}`);
        }
      }
    }
    const balancer = this.deps.balancers.get(config.balance);
    if (balancer === undefined) {
      throw new ConfigError(`${path}.balance`, `Not supported balance type ${config.balance}`);
    }
    const plan: CompiledServer = {
      name,
      config,
      balancer,
      access: config.access === null ? null : compileAccess(config.access, `${path}.access`),
      discovery: compileDiscovery(config.discovery, `${path}.discovery`, this.deps.discoveries),
      healthcheck: compileHealthcheck(
        config.healthcheck, `${path}.healthcheck`, this.deps.healthchecks, config.protocol, config.backends_tls,
      ),
    };
    PLANS.add(plan);
    return Object.freeze(plan);
  }

  /**
   * Builds and starts a server. `replacing` (hot reload): the running server of the same name is
   * replaced through the port's `replace` (listener kept when the bind is unchanged) and its
   * drained backends stay drained.
   */
  private async start(c: CompiledServer, replacing?: RunningServer): Promise<RunningServer> {
    const { name, config, discovery, healthcheck } = c;
    const counters = new ServerCounters();
    const passiveLog = this.deps.log.child({ name: 'server', server: name });
    const pool = new BackendPool({
      initialLive: initialLive(config.healthcheck),
      // Passive health (tsbetween-only): off unless passive_health_fails > 0.
      passiveFails: config.passive_health_fails ?? 0,
      passiveDownMs: parseDurationOr(config.passive_health_down_time ?? null, DEFAULT_PASSIVE_DOWN_MS),
      activeChecks: healthcheck.enabled,
      onPassive: (key, down, why) => {
        if (down) passiveLog.warn(`backend ${key} of server ${name}: marked down by passive health (${why})`);
        else passiveLog.info(`backend ${key} of server ${name}: back in rotation (${why})`);
      },
    });
    if (replacing !== undefined) pool.restoreDrains(replacing.pool.drainedKeys());
    const port = this.port;
    this.log.info(
      `${replacing === undefined ? 'Creating' : 'Reloading'} '${name}': ${config.bind} ${config.balance} ${config.discovery.kind} ${config.healthcheck.kind}`,
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
      const plan = serverPlan(name, config, this.deps.acme !== undefined);
      const sink = new ServerTally(counters, pool);
      if (replacing === undefined) {
        await port.start(plan, pool.snapshot, sink);
        started = true;
      } else if (port.replace !== undefined) {
        // Rejects (new bind taken) leaving the old server running; the caller keeps it.
        await port.replace(plan, pool.snapshot, sink);
      } else {
        throw new StartError('this data plane cannot replace a running server');
      }
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
