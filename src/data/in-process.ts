/**
 * The in-process data plane: the `DataPlanePort` (core/port.ts) run in the control plane's own
 * thread. Each server gets a runtime (runtime.ts) with its elector over the latest snapshot, an
 * active table (in-process by default; injectable, e.g. a shared-memory one) and the listener of
 * its protocol (listeners/registry.ts). Counters go straight to the control plane's sink, so
 * `flush` has nothing to do.
 */
import { Elector } from '../balance/elector.js';
import type { BalancerKind } from '../balance/types.js';
import type { Random } from '../core/clock.js';
import { StartError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { ServerPlan } from '../core/plan.js';
import type { DataPlanePort, StartedServer } from '../core/port.js';
import type { Registry } from '../core/registry.js';
import type { ActiveTable, BackendSnapshot, CounterSink } from '../core/snapshot.js';
import { LocalActiveTable } from './active.js';
import { listenerFor, type OpenListener } from './listeners/registry.js';
import { ServerLoad, ServerRuntime } from './runtime.js';

export interface InProcessOptions {
  readonly balancers: Registry<BalancerKind>;
  readonly random: Random;
  readonly log: Logger;
  /** The active table of a new server (default: in-process). */
  readonly activeTable?: (plan: ServerPlan) => ActiveTable;
  /** Listen with SO_REUSEPORT (the worker threads of src/workers/ share each server's port). */
  readonly reusePort?: boolean;
}

interface Running {
  readonly rt: ServerRuntime;
  readonly listener: OpenListener;
}

export class InProcessDataPlane implements DataPlanePort {
  private readonly servers = new Map<string, Running>();

  constructor(private readonly opts: InProcessOptions) {}

  /** The runtime of a running server (tests and diagnostics). */
  runtime(name: string): ServerRuntime | undefined {
    return this.servers.get(name)?.rt;
  }

  /** Whether the server's listener reads accepted sockets through `onread` (tests, diagnostics). */
  fastAccept(name: string): boolean | undefined {
    return this.servers.get(name)?.listener.fastAccept;
  }

  async start(plan: ServerPlan, snapshot: BackendSnapshot, sink: CounterSink): Promise<StartedServer> {
    if (this.servers.has(plan.name)) throw new StartError(`server ${plan.name} is already running`);
    const kind = listenerFor(plan.protocol);
    if (kind === undefined) throw new StartError(`no listener for protocol ${plan.protocol}`);
    const balancer = this.opts.balancers.get(plan.balance);
    if (balancer === undefined) throw new StartError(`Not supported balance type ${plan.balance}`);
    const table = this.opts.activeTable?.(plan) ?? new LocalActiveTable();
    const load = new ServerLoad(table);
    const elector = new Elector(balancer.create({ random: this.opts.random }), load);
    elector.setSnapshot(snapshot);
    const log = this.opts.log.child({ name: 'server', server: plan.name });
    const rt = new ServerRuntime(plan, elector, table, load, sink, log);
    rt.reusePort = this.opts.reusePort === true;
    const listener = await kind.open(rt);
    this.servers.set(plan.name, { rt, listener });
    return { address: listener.address, port: listener.port };
  }

  update(name: string, snapshot: BackendSnapshot): void {
    this.servers.get(name)?.rt.elector.setSnapshot(snapshot);
  }

  rates(name: string, slots: readonly number[], bandwidth: readonly number[]): void {
    this.servers.get(name)?.rt.load.setBandwidth(slots, bandwidth);
  }

  flush(): void {
    // Counters are reported as they happen in one thread.
  }

  async drain(name: string, graceMs: number): Promise<void> {
    const s = this.take(name);
    if (s === undefined) return;
    const stopped = s.listener.stop();
    if (graceMs > 0) await s.rt.whenEmpty(graceMs);
    s.rt.destroyAll();
    await Promise.all([stopped, s.rt.whenEmpty(Infinity)]);
  }

  async close(name: string): Promise<void> {
    const s = this.take(name);
    if (s === undefined) return;
    const stopped = s.listener.stop();
    s.rt.destroyAll();
    await Promise.all([stopped, s.rt.whenEmpty(Infinity)]);
  }

  private take(name: string): Running | undefined {
    const s = this.servers.get(name);
    if (s === undefined) return undefined;
    this.servers.delete(name);
    s.rt.closing = true;
    return s;
  }
}
