/** A ServerManagerApi made of plain pools and counters, for metrics and route tests. */
import type { ServerInput, ServerWire } from '../../src/config/types.js';
import { BackendPool } from '../../src/control/backend-pool.js';
import { backendStateJson, backendStatesJson, serverStatsJson } from '../../src/control/stats.js';
import type { BackendStateJson, ServerManagerApi, ServerStatsJson, ServerView } from '../../src/control/types.js';
import { ServerCounters, backendSpec } from '../../src/core/backend.js';
import { ConfigError, NotFoundError } from '../../src/core/errors.js';
import { noHealthcheck } from '../helpers/wire.js';

export function wireOf(input: ServerInput): ServerWire {
  return {
    ...input,
    discovery: input.discovery ?? { kind: 'static', failpolicy: 'keeplast', interval: '0', timeout: '0' },
    healthcheck: input.healthcheck ?? noHealthcheck(),
  };
}

export class FakeManager implements ServerManagerApi {
  readonly views = new Map<string, ServerView>();
  readonly created: string[] = [];
  /** Thrown by the next create, when set. */
  failNext: unknown;
  private readonly listeners = new Set<() => void>();

  add(name: string, config: ServerWire, backends: Array<[string, string]> = []): ServerView {
    const pool = new BackendPool({ initialLive: true });
    pool.setDiscovered(backends.map(([h, p]) => backendSpec(h, p)));
    const view: ServerView = { name, config, counters: new ServerCounters(), pool };
    this.views.set(name, view);
    for (const l of this.listeners) l();
    return view;
  }

  names(): string[] {
    return [...this.views.keys()].sort();
  }

  get(name: string): ServerView | undefined {
    return this.views.get(name);
  }

  async create(name: string, input: ServerInput): Promise<void> {
    await new Promise((r) => setImmediate(r));
    if (this.failNext !== undefined) {
      const err = this.failNext;
      this.failNext = undefined;
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- tests make it throw any value on purpose
      throw err;
    }
    if (this.views.has(name)) throw new ConfigError(`servers.${name}`, `Server with this name already exists: ${name}`);
    if (input.bind === '') throw new ConfigError(`servers.${name}.bind`, `No bind specified for server ${name}`);
    this.created.push(name);
    this.add(name, wireOf(input));
  }

  delete(name: string): Promise<void> {
    if (this.views.delete(name)) for (const l of this.listeners) l();
    return Promise.resolve();
  }

  stats(name: string): ServerStatsJson | null {
    const v = this.views.get(name);
    return v === undefined ? null : serverStatsJson(v.counters, v.pool);
  }

  backends(name: string): BackendStateJson[] | null {
    const v = this.views.get(name);
    return v === undefined ? null : backendStatesJson(v.pool);
  }

  setDrain(name: string, key: string, drain: boolean): BackendStateJson {
    const v = this.views.get(name);
    const b = v?.pool.get(key);
    if (v === undefined || b === undefined) throw new NotFoundError(`Unknown backend ${key} of server ${name}`);
    if (drain) v.pool.drain(key);
    else v.pool.undrain(key);
    return backendStateJson(v.pool, b);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
