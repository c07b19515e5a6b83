/**
 * The in-process data plane: the `DataPlanePort` (core/port.ts) run in the control plane's own
 * thread. Each server gets a runtime (runtime.ts) with its elector over the latest snapshot, an
 * active table (in-process by default; injectable, e.g. a shared-memory one) and the listener of
 * its protocol (listeners/registry.ts). Counters go straight to the control plane's sink, so
 * `flush` has nothing to do.
 */
import { Elector } from '../balance/elector.js';
import { sniSelector } from './sni.js';
import type { BalancerKind } from '../balance/types.js';
import type { CertificateSource } from '../core/cert-source.js';
import type { Random } from '../core/clock.js';
import { StartError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { ServerPlan } from '../core/plan.js';
import type { DataPlanePort, StartedServer } from '../core/port.js';
import type { Registry } from '../core/registry.js';
import type { ActiveTable, BackendSnapshot, CounterSink } from '../core/snapshot.js';
import type { AccessLog } from './access-log.js';
import { LocalActiveTable } from './active.js';
import { listenerFor, type OpenListener } from './listeners/registry.js';
import { ServerLoad, ServerRuntime } from './runtime.js';
import { chooseDialer } from './stream/pipeline.js';
import { attachPrewarm, prewarmOf } from './stream/prewarm-dial.js';

export interface InProcessOptions {
  readonly balancers: Registry<BalancerKind>;
  readonly random: Random;
  readonly log: Logger;
  /** Certificates issued on demand (ACME) for `tls` sections that ask for them. */
  readonly certificates?: CertificateSource;
  /** The active table of a new server (default: in-process). */
  readonly activeTable?: (plan: ServerPlan) => ActiveTable;
  /** `[access_log]` (tsbetween-only) when enabled: every server writes its lines here. */
  readonly accessLog?: AccessLog | null;
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
    const rt = this.runtimeFor(plan, snapshot, sink);
    const kind = listenerFor(plan.protocol);
    if (kind === undefined) throw new StartError(`no listener for protocol ${plan.protocol}`);
    const listener = await kind.open(rt);
    this.servers.set(plan.name, { rt, listener });
    prewarmOf(rt)?.update(snapshot);
    return { address: listener.address, port: listener.port };
  }

  async replace(plan: ServerPlan, snapshot: BackendSnapshot, sink: CounterSink): Promise<StartedServer> {
    const name = plan.name;
    const old = this.servers.get(name);
    if (old === undefined) return this.start(plan, snapshot, sink);
    const rt = this.runtimeFor(plan, snapshot, sink);
    let listener = old.listener;
    if (old.rt.plan.bind === plan.bind && old.rt.plan.protocol === plan.protocol && listener.retarget !== undefined) {
      listener.retarget(rt);
    } else {
      const kind = listenerFor(plan.protocol);
      if (kind === undefined) throw new StartError(`no listener for protocol ${plan.protocol}`);
      listener = await kind.open(rt);
      void old.listener.stop();
    }
    this.servers.set(name, { rt, listener });
    prewarmOf(old.rt)?.close();
    prewarmOf(rt)?.update(snapshot);
    // The old runtime keeps its open connections until they end (or the name is closed).
    if (old.rt.conns.size > 0) {
      let set = this.retired.get(name);
      if (set === undefined) {
        set = new Set();
        this.retired.set(name, set);
      }
      const retiredSet = set;
      retiredSet.add(old.rt);
      void old.rt.whenEmpty(Infinity).then(() => {
        retiredSet.delete(old.rt);
        if (retiredSet.size === 0 && this.retired.get(name) === retiredSet) this.retired.delete(name);
      });
    }
    return { address: listener.address, port: listener.port };
  }

  /** Runtimes replaced by a reload that still have connections, by server name. */
  private readonly retired = new Map<string, Set<ServerRuntime>>();

  private runtimeFor(plan: ServerPlan, snapshot: BackendSnapshot, sink: CounterSink): ServerRuntime {
    const balancer = this.opts.balancers.get(plan.balance);
    if (balancer === undefined) throw new StartError(`Not supported balance type ${plan.balance}`);
    const table = this.opts.activeTable?.(plan) ?? new LocalActiveTable();
    const load = new ServerLoad(table);
    const log = this.opts.log.child({ name: 'server', server: plan.name });
    const elector = new Elector(balancer.create({ random: this.opts.random }), load, sniSelector(plan, log));
    elector.setSnapshot(snapshot);
    const rt = new ServerRuntime(plan, elector, table, load, sink, log, this.opts.accessLog ?? null, this.opts.certificates);
    rt.reusePort = this.opts.reusePort === true;
    // backend_prewarm (tsbetween-only): the runtime's pool of pre-warmed backend connections.
    if ((plan.backendPrewarm ?? 0) > 0) attachPrewarm(rt, chooseDialer(plan, log));
    return rt;
  }

  update(name: string, snapshot: BackendSnapshot): void {
    const rt = this.servers.get(name)?.rt;
    if (rt === undefined) return;
    rt.elector.setSnapshot(snapshot);
    prewarmOf(rt)?.update(snapshot);
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
    const all = [s.rt, ...this.takeRetired(name)];
    const stopped = s.listener.stop();
    if (graceMs > 0) await Promise.all(all.map((rt) => rt.whenEmpty(graceMs)));
    for (const rt of all) rt.destroyAll();
    await Promise.all([stopped, ...all.map((rt) => rt.whenEmpty(Infinity))]);
  }

  async close(name: string): Promise<void> {
    const s = this.take(name);
    if (s === undefined) return;
    const all = [s.rt, ...this.takeRetired(name)];
    const stopped = s.listener.stop();
    for (const rt of all) rt.destroyAll();
    await Promise.all([stopped, ...all.map((rt) => rt.whenEmpty(Infinity))]);
  }

  private takeRetired(name: string): ServerRuntime[] {
    const set = this.retired.get(name);
    if (set === undefined) return [];
    this.retired.delete(name);
    for (const rt of set) rt.closing = true;
    return [...set];
  }

  private take(name: string): Running | undefined {
    const s = this.servers.get(name);
    if (s === undefined) return undefined;
    this.servers.delete(name);
    s.rt.closing = true;
    prewarmOf(s.rt)?.close();
    return s;
  }
}
