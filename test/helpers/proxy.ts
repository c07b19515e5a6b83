/**
 * One server of the in-process data plane, wired the way the server manager wires it (backend
 * pool -> snapshots -> data plane; counters -> ServerTally -> pool/counters), for the data-path
 * tests. Options use the plan's names; `access` is the plain `[access]` section.
 */
import { createBalancerRegistry } from '../../src/balance/index.js';
import type { Elector } from '../../src/balance/elector.js';
import type { Balancer } from '../../src/balance/types.js';
import { ServerCounters } from '../../src/core/backend.js';
import { seededRandom, type Random } from '../../src/core/clock.js';
import { silentLogger, type Logger } from '../../src/core/log.js';
import type { ServerPlan } from '../../src/core/plan.js';
import type { ActiveTable } from '../../src/core/snapshot.js';
import { BackendPool } from '../../src/control/backend-pool.js';
import { ServerTally } from '../../src/control/tally.js';
import { InProcessDataPlane } from '../../src/data/in-process.js';
import type { ServerRuntime } from '../../src/data/runtime.js';

/** The plan's own keys a test may set (the rest of the plan is fixed: a plain TCP server). */
type PlanKeys = 'name' | 'bind' | 'balance' | 'maxConnections' | 'clientIdleTimeoutMs' | 'backendIdleTimeoutMs' | 'backendConnectionTimeoutMs' | 'access'
  | 'backendPrewarm' | 'proxyProtocol' | 'backendsTls';

export interface TestProxyOptions extends Pick<ServerPlan, PlanKeys> {
  readonly log: Logger;
  readonly random: Random;
  readonly pool: BackendPool;
  readonly activeTable: (plan: ServerPlan) => ActiveTable;
  /** A custom balancer (registered as `test`), instead of `balance`. */
  readonly balancer: Balancer;
}

export class TestProxy {
  readonly pool: BackendPool;
  readonly counters = new ServerCounters();
  readonly plan: ServerPlan;
  private readonly dp: InProcessDataPlane;
  private addr: { address: string; port: number; family: string } | null = null;
  private unsubscribe: (() => unknown) | null = null;
  private closed: Promise<void> | null = null;

  constructor(opts: Partial<TestProxyOptions> = {}) {
    this.pool = opts.pool ?? new BackendPool({ initialLive: true });
    this.plan = {
      name: opts.name ?? 'test',
      protocol: 'tcp',
      bind: opts.bind ?? '127.0.0.1:0',
      balance: opts.balancer !== undefined ? 'test' : opts.balance ?? 'roundrobin',
      maxConnections: opts.maxConnections ?? 0,
      clientIdleTimeoutMs: opts.clientIdleTimeoutMs ?? 0,
      backendIdleTimeoutMs: opts.backendIdleTimeoutMs ?? 0,
      backendConnectionTimeoutMs: opts.backendConnectionTimeoutMs ?? 0,
      access: opts.access ?? null,
      ...(opts.backendPrewarm !== undefined ? { backendPrewarm: opts.backendPrewarm } : {}),
      ...(opts.proxyProtocol !== undefined ? { proxyProtocol: opts.proxyProtocol } : {}),
      ...(opts.backendsTls !== undefined ? { backendsTls: opts.backendsTls } : {}),
    };
    const balancers = createBalancerRegistry();
    const custom = opts.balancer;
    if (custom !== undefined) balancers.register({ kind: 'test', create: () => custom });
    this.dp = new InProcessDataPlane({
      balancers,
      random: opts.random ?? seededRandom(1),
      log: opts.log ?? silentLogger,
      ...(opts.activeTable !== undefined ? { activeTable: opts.activeTable } : {}),
    });
  }

  async listen(): Promise<void> {
    const name = this.plan.name;
    const started = await this.dp.start(this.plan, this.pool.snapshot, new ServerTally(this.counters, this.pool));
    this.unsubscribe = this.pool.onChange(() => this.dp.update(name, this.pool.snapshot));
    this.dp.update(name, this.pool.snapshot);
    this.addr = { address: started.address, port: started.port, family: started.address.includes(':') ? 'IPv6' : 'IPv4' };
  }

  address(): { address: string; port: number; family: string } {
    if (this.addr === null) throw new Error('not listening');
    return this.addr;
  }

  get runtime(): ServerRuntime {
    const rt = this.dp.runtime(this.plan.name);
    if (rt === undefined) throw new Error('not running');
    return rt;
  }

  /** Whether accepted sockets read through `onread` (the fast accept path). */
  get fastAccept(): boolean {
    return this.dp.fastAccept(this.plan.name) === true;
  }

  get elector(): Elector {
    return this.runtime.elector;
  }

  /** Connections tracked by the data plane (admitted, not yet finished). */
  get connections(): number {
    return this.dp.runtime(this.plan.name)?.conns.size ?? 0;
  }

  close(): Promise<void> {
    this.unsubscribe?.();
    this.closed ??= this.dp.close(this.plan.name);
    return this.closed;
  }

  drain(graceMs: number): Promise<void> {
    this.unsubscribe?.();
    this.closed ??= this.dp.drain(this.plan.name, graceMs);
    return this.closed;
  }
}
