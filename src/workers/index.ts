/**
 * Chooses the data plane for `--workers N|auto` / `TSBETWEEN_WORKERS`:
 * - 1 worker: the in-process data plane, in the control plane's own thread (the one-thread path);
 * - N > 1 (auto = os.availableParallelism()): the main thread and N-1 worker threads, sharing each
 *   server's port with SO_REUSEPORT (primary.ts). A Node that cannot share a port between threads (reusePort needs
 *   Node ≥ 22.12 or ≥ 23.1) runs the in-process data plane and says so in the log.
 */
import type { WorkersSetting } from '../args.js';
import { nodeOs } from '../core/builtin.js';
import type { BalancerKind } from '../balance/types.js';
import type { Random } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { DataPlanePort } from '../core/port.js';
import type { Registry } from '../core/registry.js';
import type { CertificateSource } from '../core/cert-source.js';
import type { AccessLog } from '../data/access-log.js';
import { InProcessDataPlane } from '../data/in-process.js';
import { ThreadedDataPlane } from './primary.js';
import { reusePortSupported } from './reuse-port.js';

export interface DataPlaneChoice {
  readonly port: DataPlanePort;
  /** Worker threads running besides the main thread (0 = the in-process data plane alone). */
  readonly threads: number;
  /** Stops the worker threads (after the servers were drained or closed). */
  shutdown(): Promise<void>;
}

export interface DataPlaneOptions {
  readonly workers: WorkersSetting;
  readonly log: Logger;
  readonly balancers: Registry<BalancerKind>;
  readonly random: Random;
  /** Counter report interval of worker threads (tests); default 100 ms. */
  readonly reportIntervalMs?: number;
  /** `[access_log]` when enabled; its servers run in the main thread only (the log lives there). */
  readonly accessLog?: AccessLog | null;
  /** ACME certificates; servers that use them run in the main thread only (the orders live there). */
  readonly certificates?: CertificateSource;
}

/** The worker count `auto` stands for here. */
export function autoWorkers(): number {
  const os = nodeOs();
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

export async function createDataPlane(o: DataPlaneOptions): Promise<DataPlaneChoice> {
  const log = o.log.child({ name: 'workers' });
  const n = o.workers === 'auto' ? autoWorkers() : o.workers;
  const inProcess = (): DataPlaneChoice => ({
    port: new InProcessDataPlane({
      balancers: o.balancers,
      random: o.random,
      log: o.log,
      accessLog: o.accessLog ?? null,
      ...(o.certificates !== undefined ? { certificates: o.certificates } : {}),
    }),
    threads: 0,
    shutdown: () => Promise.resolve(),
  });
  if (n <= 1) return inProcess();
  if (!(await reusePortSupported())) {
    // Asked for explicitly: a warning; the default (auto): information.
    const text = `workers ${o.workers === 'auto' ? `auto (${n} cores)` : String(n)}: Node ${process.version} cannot ` +
      'share a listening port between threads (reusePort needs Node >= 22.12 or >= 23.1): running 1 worker, in the main thread';
    if (o.workers === 'auto') log.info(text);
    else log.warn(text);
    return inProcess();
  }
  const threaded = await ThreadedDataPlane.create({
    workers: n,
    log: o.log,
    balancers: o.balancers,
    random: o.random,
    accessLog: o.accessLog ?? null,
    ...(o.certificates !== undefined ? { certificates: o.certificates } : {}),
    ...(o.reportIntervalMs === undefined ? {} : { reportIntervalMs: o.reportIntervalMs }),
  });
  log.info(`data plane: ${n} workers (the main thread and ${n - 1} worker thread${n > 2 ? 's' : ''}, SO_REUSEPORT listeners)`);
  return { port: threaded, threads: n - 1, shutdown: () => threaded.shutdown() };
}
